package jsonpath

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// A reference implementation on top of encoding/json's token stream (which
// keeps member order and duplicates), used by FuzzRewrite to check what is
// matched and what the edits produce.

type node struct {
	kind   Kind
	scalar any // string, json.Number, bool or nil
	keys   []string
	kids   []*node
}

func refTree(doc []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	n, err := refNode(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("trailing data: %v", err)
	}
	return n, nil
}

func refNode(dec *json.Decoder) (*node, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		n := &node{kind: Array}
		if t == '{' {
			n.kind = Object
		}
		for dec.More() {
			if n.kind == Object {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, k.(string))
			}
			kid, err := refNode(dec)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, kid)
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		return n, nil
	case string:
		return &node{kind: String, scalar: t}, nil
	case json.Number:
		return &node{kind: Number, scalar: t}, nil
	case bool:
		if t {
			return &node{kind: True, scalar: t}, nil
		}
		return &node{kind: False, scalar: t}, nil
	default:
		return &node{kind: Null}, nil
	}
}

// refEdit decides the edit for the i-th match (from 1), as FuzzRewrite does.
type refEditor func(i int, m Match) Edit

// refRewrite applies paths and edit to n as Rewrite should, returning the
// new tree (nil if the root is removed) and the matches seen as
// "path:kind" strings.
func refRewrite(n *node, paths []Path, edit refEditor) (*node, []string) {
	var seen []string
	alive := []int{}
	match := -1
	for i, p := range paths {
		if len(p.segs) == 0 {
			if match < 0 {
				match = i
			}
		} else {
			alive = append(alive, i)
		}
	}
	var walk func(n *node, d, match int, alive []int) (*node, bool)
	walk = func(n *node, d, match int, alive []int) (*node, bool) {
		if match >= 0 {
			seen = append(seen, fmt.Sprintf("%d:%v", match, n.kind))
			e := edit(len(seen), Match{Path: match, Kind: n.kind})
			if e.Remove {
				return nil, true
			}
			if e.Replace != nil {
				return &node{kind: String, scalar: string(e.Replace[1 : len(e.Replace)-1])}, false
			}
		}
		if n.kind != Object && n.kind != Array {
			return n, false
		}
		out := &node{kind: n.kind}
		for i, kid := range n.kids {
			m, next := -1, []int{}
			for _, pi := range alive {
				s := paths[pi].segs[d]
				var ok bool
				switch s.kind {
				case segName:
					ok = n.kind == Object && n.keys[i] == s.name
				case segAnyMember:
					ok = n.kind == Object
				case segIndex:
					ok = n.kind == Array && s.index == i
				case segAnyElem:
					ok = n.kind == Array
				}
				if !ok {
					continue
				}
				if len(paths[pi].segs) == d+1 {
					if m < 0 {
						m = pi
					}
				} else {
					next = append(next, pi)
				}
			}
			k, removed := walk(kid, d+1, m, next)
			if removed {
				continue
			}
			if n.kind == Object {
				out.keys = append(out.keys, n.keys[i])
			}
			out.kids = append(out.kids, k)
		}
		return out, false
	}
	out, removed := walk(n, 0, match, alive)
	if removed {
		return nil, seen
	}
	return out, seen
}

func (n *node) equal(m *node) bool {
	return reflect.DeepEqual(n, m)
}

func (n *node) String() string {
	var b strings.Builder
	var f func(n *node)
	f = func(n *node) {
		switch n.kind {
		case Object, Array:
			b.WriteString(n.kind.String() + "{")
			for i, k := range n.kids {
				if n.kind == Object {
					fmt.Fprintf(&b, "%q:", n.keys[i])
				}
				f(k)
				b.WriteString(",")
			}
			b.WriteString("}")
		default:
			fmt.Fprintf(&b, "%v(%#v)", n.kind, n.scalar)
		}
	}
	f(n)
	return b.String()
}
