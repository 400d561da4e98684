// Package yamlpos owns one thing: mapping every RFC 6901 JSON pointer of a
// YAML or JSON document to the line and column where its value is written,
// so that a problem found in the decoded document (an OpenAPI spec, a
// Rampart config) can be shown where a person reads it.
//
// It parses with go.yaml.in/yaml/v3 (JSON is YAML) and bounds the work: a
// document of more than MaxNodes nodes or nested deeper than MaxDepth is
// refused, and aliases are indexed where they stand, never expanded, so a
// "billion laughs" document cannot make the index grow. It decodes nothing
// else: callers decode the document with their own types.
package yamlpos

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxNodes bounds the index: a 16 MiB document cannot hold more.
const MaxNodes = 4 << 20

// MaxDepth bounds nesting.
const MaxDepth = 256

// Pos is where a node is written in its source.
type Pos struct {
	// Line and Column are 1-based.
	Line, Column int
	// Scalar is the node's value when IsScalar.
	Scalar   string
	IsScalar bool
}

// Index maps every JSON pointer of one document to its position. A member
// is placed at its key (where a reader looks for it), an array element at
// its value. The root is "".
type Index map[string]Pos

// SyntaxError is a document that does not parse or is too large to index.
type SyntaxError struct {
	// Line is 1-based; 0 when the parser did not say.
	Line int
	// Msg says what is wrong.
	Msg string
	// Err is the parser's error, if any.
	Err error
}

func (e *SyntaxError) Error() string {
	if e.Line > 0 {
		return "line " + strconv.Itoa(e.Line) + ": " + e.Msg
	}
	return e.Msg
}

func (e *SyntaxError) Unwrap() error { return e.Err }

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// New indexes data, which must hold one JSON or YAML object.
func New(data []byte) (Index, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		msg := err.Error()
		line := 0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, &SyntaxError{Line: line, Msg: "not valid JSON or YAML: " + strings.TrimPrefix(msg, "yaml: "), Err: err}
	}
	if len(root.Content) == 0 {
		return nil, &SyntaxError{Line: 1, Msg: "empty document"}
	}
	doc := root.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, &SyntaxError{Line: doc.Line, Msg: "the document must be a JSON or YAML object"}
	}
	// Sized once: a map grown entry by entry to a few hundred thousand
	// spends more time rehashing than the walk takes.
	p := make(Index, count(doc, MaxNodes, 0))
	budget := MaxNodes
	var walk func(n, at *yaml.Node, ptr string, depth int) bool
	walk = func(n, at *yaml.Node, ptr string, depth int) bool {
		budget--
		if budget < 0 || depth > MaxDepth {
			return false
		}
		p[ptr] = Pos{Line: at.Line, Column: at.Column, Scalar: n.Value, IsScalar: n.Kind == yaml.ScalarNode}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if !walk(n.Content[i+1], n.Content[i], ptr+"/"+Escape(n.Content[i].Value), depth+1) {
					return false
				}
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				if !walk(c, c, ptr+"/"+strconv.Itoa(i), depth+1) {
					return false
				}
			}
		case yaml.AliasNode:
			// An alias is indexed where it stands, not expanded.
		}
		return true
	}
	if !walk(doc, doc, "", 0) {
		return nil, &SyntaxError{Line: 1, Msg: "document too large or too deeply nested"}
	}
	return p, nil
}

// count returns the number of entries walking n indexes, stopping past
// limit or MaxDepth (the walk then refuses the document).
func count(n *yaml.Node, limit, depth int) int {
	c := 1
	if depth <= MaxDepth && (n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode) {
		step := 1
		if n.Kind == yaml.MappingNode {
			step = 2
		}
		for i := step - 1; i < len(n.Content) && c <= limit; i += step {
			c += count(n.Content[i], limit-c, depth+1)
		}
	}
	return c
}

// Scalar returns the scalar value at ptr, false when there is none.
func (p Index) Scalar(ptr string) (string, bool) {
	v, ok := p[ptr]
	if !ok || !v.IsScalar {
		return "", false
	}
	return v.Scalar, true
}

// Locate returns the deepest existing prefix of ptr (ptr itself when it
// exists) and its position; "" and the root's position when none does.
func (p Index) Locate(ptr string) (string, Pos) {
	for {
		if v, ok := p[ptr]; ok {
			return ptr, v
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return "", p[""]
		}
		ptr = ptr[:i]
	}
}

// Escape encodes one JSON pointer token (RFC 6901).
func Escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Pointer joins tokens into a JSON pointer, escaping each.
func Pointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(Escape(t))
	}
	return b.String()
}
