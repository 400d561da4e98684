package scan

import (
	"encoding/json"
	"strconv"
	"strings"
)

// Similarity compares two response bodies.
type Similarity struct {
	// Structure is the Jaccard index of the two documents' member paths
	// (array indices collapsed): 1 when they have the same shape.
	Structure float64
	// Values is the Jaccard index of their path=value pairs: 1 when they
	// hold the same data.
	Values float64
}

// Compare measures how alike two bodies are. JSON bodies are compared
// member by member; anything else word by word (both scores then equal).
func Compare(a, b []byte) Similarity {
	fa, oka := flatten(a)
	fb, okb := flatten(b)
	if !oka || !okb {
		w := jaccard(words(a), words(b))
		return Similarity{Structure: w, Values: w}
	}
	shapeA, shapeB := map[string]bool{}, map[string]bool{}
	for k := range fa {
		shapeA[shapeOf(k)] = true
	}
	for k := range fb {
		shapeB[shapeOf(k)] = true
	}
	return Similarity{Structure: jaccard(shapeA, shapeB), Values: jaccard(pairs(fa), pairs(fb))}
}

// SameObject is the BOLA judge: does other (what an attacker got) show
// the object that own (its owner's view) shows? It must look like the
// owner's view in shape and in data, and more like it than like
// attackerOwn, the attacker's view of its own object (an API that ignores
// the id and answers with the caller's own object is not vulnerable).
// attackerOwn may be nil.
func SameObject(own, other, attackerOwn []byte) (bool, Similarity) {
	s := Compare(own, other)
	if s.Structure < 0.7 || s.Values < 0.5 {
		return false, s
	}
	if attackerOwn != nil {
		mine := Compare(attackerOwn, other)
		if mine.Values >= s.Values {
			return false, s
		}
	}
	return true, s
}

func flatten(b []byte) (map[string]string, bool) {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, false
	}
	out := map[string]string{}
	var walk func(v any, p string, depth int)
	walk = func(v any, p string, depth int) {
		if depth > 32 || len(out) > 20000 {
			return
		}
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				out[p] = "{}"
			}
			for k, c := range x {
				walk(c, p+"."+k, depth+1)
			}
		case []any:
			if len(x) == 0 {
				out[p] = "[]"
			}
			for i, c := range x {
				walk(c, p+"["+strconv.Itoa(i)+"]", depth+1)
			}
		default:
			b, _ := json.Marshal(x)
			out[p] = string(b)
		}
	}
	walk(v, "$", 0)
	return out, true
}

// shapeOf collapses array indices: $.items[3].id -> $.items[].id.
func shapeOf(p string) string {
	var b strings.Builder
	skip := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '[':
			skip = true
			b.WriteString("[]")
		case c == ']':
			skip = false
		case !skip:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func pairs(f map[string]string) map[string]bool {
	out := make(map[string]bool, len(f))
	for k, v := range f {
		out[k+"="+v] = true
	}
	return out
}

func words(b []byte) map[string]bool {
	out := map[string]bool{}
	for _, w := range strings.FieldsFunc(string(b), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '@' || r == '.')
	}) {
		out[w] = true
	}
	return out
}

func jaccard(a, b map[string]bool) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	inter := 0
	for k := range a {
		if b[k] {
			inter++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}
