package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
)

// MaxDepth bounds the nesting of a JSON body the checks walk; deeper
// bodies are refused before any schema runs (encoding/json itself stops
// at 10000 levels).
const MaxDepth = 64

// checkBody31 checks a 3.1 request body against its compiled schema;
// decoded is the body already decoded as JSON, when have is true.
func (v *Validator) checkBody31(op *operation, mt string, r *Request, decoded any, have bool, viol *Violation) {
	c := op.bodies[mt]
	if c == nil {
		return // declared without a schema: any body of the media type
	}
	var val any
	var err error
	switch {
	case have:
		val = decoded
	case isJSON(mt) || mt == "*/*" || mt == "application/*":
		val, err = decodeJSON(r.Body)
		if err != nil {
			viol.add(Problem{In: "body", Reason: "malformed JSON"})
			return
		}
	default:
		dec := openapi3filter.RegisteredBodyDecoder(mt)
		if dec == nil {
			return // a media type the validator cannot read: media type checked only
		}
		h := http.Header{"Content-Type": {r.ContentType}}
		val, err = dec(bytes.NewReader(r.Body), h, c.ref, nil)
		if err != nil {
			viol.add(Problem{In: "body", Reason: "malformed for its media type"})
			return
		}
		val = normalize(val)
	}
	if err := c.js.Validate(val); err != nil {
		jsProblems(err, "body", viol)
	}
	v.marks.readOnlyProblems(c.ref, val, "", viol, 0)
}

// formUndeclared reports the fields of a urlencoded body that its schema
// closes with additionalProperties: false and does not declare:
// kin-openapi's form decoder reads only the declared fields, so it never
// sees the others.
func formUndeclared(m *openapi3.MediaType, body []byte, viol *Violation) {
	if m == nil || m.Schema == nil || m.Schema.Value == nil {
		return
	}
	s := m.Schema.Value
	if s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has {
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		viol.add(Problem{In: "body", Reason: "malformed for its media type"})
		return
	}
	names := make([]string, 0, len(vals))
	for k := range vals {
		if _, ok := s.Properties[k]; !ok {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		viol.add(Problem{In: "body", Pointer: "/" + escapePointer(capName(k)), Reason: "not declared"})
	}
}

// formRepeated refuses a urlencoded field that is not an array but comes
// more than once: the check reads the first, PHP the last.
func formRepeated(m *openapi3.MediaType, body []byte, viol *Violation) {
	if m == nil || m.Schema == nil || m.Schema.Value == nil {
		return
	}
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return // formUndeclared or the decoder report it
	}
	names := make([]string, 0, len(vals))
	for k, v := range vals {
		if len(v) < 2 {
			continue
		}
		if p := m.Schema.Value.Properties[k]; p != nil && p.Value != nil && p.Value.Type.Includes("array") {
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		viol.add(Problem{In: "body", Pointer: "/" + escapePointer(capName(k)), Reason: "repeated"})
	}
}

// decodeJSON decodes one JSON value with numbers kept exact, refusing
// trailing data.
func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

// shape returns the deepest nesting of arrays and objects in b and the
// number of values in it (members and elements, counted by their
// separators: an upper bound), stopping early past maxDepth or
// maxValues; strings are skipped.
func shape(b []byte, maxValues int) (depth, values int) {
	d := 0
	values = 1
	in, esc := false, false
	for _, c := range b {
		if in {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				in = false
			}
			continue
		}
		switch c {
		case '"':
			in = true
		case ',':
			values++
		case '{', '[':
			values++
			d++
			if d > depth {
				depth = d
			}
		case '}', ']':
			d--
		}
		if depth > MaxDepth || values > maxValues {
			return depth, values
		}
	}
	return depth, values
}

// checkShape refuses a JSON body nested deeper than MaxDepth or holding
// more values than the limit, before any schema runs: the work of a
// schema check grows with the number of values (every one is decoded,
// visited and, when wrong, reported), and a 1 MiB array holds 500k of
// them.
func (v *Validator) checkShape(b []byte, in string) *Problem {
	d, n := shape(b, v.maxValues)
	switch {
	case d > MaxDepth:
		return &Problem{In: in, Reason: "nested deeper than " + itoa(MaxDepth) + " levels"}
	case n > v.maxValues:
		return &Problem{In: in, Reason: "more than " + itoa(int64(v.maxValues)) + " values"}
	}
	return nil
}

// normalize turns the values of kin-openapi's form decoders into JSON
// values the schema library reads (it wants float64 or json.Number).
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int:
		return json.Number(itoa(int64(x)))
	case int64:
		return json.Number(itoa(x))
	case int32:
		return json.Number(itoa(int64(x)))
	case url.Values:
		return x
	}
	return v
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// readOnlyProblems reports readOnly properties present in a request body,
// walking properties, items and allOf/oneOf/anyOf (a readOnly property in
// any branch is refused).
func (m *marks) readOnlyProblems(ref *openapi3.SchemaRef, val any, ptr string, viol *Violation, d int) {
	if ref == nil || ref.Value == nil || d > MaxDepth || !m.has(ref, markReadOnly) {
		return
	}
	s := ref.Value
	switch x := val.(type) {
	case map[string]any:
		for name, p := range s.Properties {
			e, ok := x[name]
			if !ok || p == nil || p.Value == nil {
				continue
			}
			if p.Value.ReadOnly {
				viol.add(Problem{In: "body", Pointer: ptr + "/" + escapePointer(name), Reason: "readOnly: not allowed in a request"})
				continue
			}
			m.readOnlyProblems(p, e, ptr+"/"+escapePointer(name), viol, d+1)
		}
	case []any:
		if s.Items != nil {
			for i, e := range x {
				m.readOnlyProblems(s.Items, e, ptr+"/"+itoa(int64(i)), viol, d+1)
			}
		}
	}
	for _, sub := range s.AllOf {
		m.readOnlyProblems(sub, val, ptr, viol, d+1)
	}
}

// stripWriteOnly deletes the writeOnly properties of a JSON response value
// in place, walking properties, items, additionalProperties and every
// allOf/oneOf/anyOf branch; it reports whether it deleted any.
func (m *marks) stripWriteOnly(ref *openapi3.SchemaRef, val any, d int) bool {
	if ref == nil || ref.Value == nil || d > MaxDepth || !m.has(ref, markWriteOnly) {
		return false
	}
	s := ref.Value
	changed := false
	switch x := val.(type) {
	case map[string]any:
		for name, e := range x {
			p := s.Properties[name]
			if p == nil {
				if ap := s.AdditionalProperties.Schema; ap != nil {
					changed = m.stripWriteOnly(ap, e, d+1) || changed
				}
				continue
			}
			if p.Value != nil && p.Value.WriteOnly {
				delete(x, name)
				changed = true
				continue
			}
			changed = m.stripWriteOnly(p, e, d+1) || changed
		}
	case []any:
		if s.Items != nil {
			for _, e := range x {
				changed = m.stripWriteOnly(s.Items, e, d+1) || changed
			}
		}
	}
	for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
		for _, sub := range group {
			changed = m.stripWriteOnly(sub, val, d+1) || changed
		}
	}
	return changed
}

// Marks of a schema: what it holds anywhere below it.
const (
	markReadOnly = 1 << iota
	markWriteOnly
)

// marks caches, per schema, whether a readOnly or writeOnly property is
// anywhere below it, so that the walks skip the subtrees that have none
// (a 100k-item array of integers costs nothing). It is safe for
// concurrent use; entries are computed once per schema.
type marks struct {
	m sync.Map // *openapi3.Schema -> int
}

func newMarks() *marks { return &marks{} }

func (m *marks) has(ref *openapi3.SchemaRef, mark int) bool {
	if got, ok := m.m.Load(ref.Value); ok {
		return got.(int)&mark != 0
	}
	bits := 0
	_ = ref.WalkSubtree(func(_ string, r *openapi3.SchemaRef) error {
		if r.Value != nil {
			if r.Value.ReadOnly {
				bits |= markReadOnly
			}
			if r.Value.WriteOnly {
				bits |= markWriteOnly
			}
		}
		return nil
	})
	m.m.Store(ref.Value, bits)
	return bits&mark != 0
}

// duplicateName returns the JSON pointer of the first member name that
// appears twice in one object of b, b being valid JSON (json.Valid). Names
// are compared as encoding/json matches them to struct fields: escapes
// undone and invalid UTF-8 replaced as it reads them, then folded as
// bytes.EqualFold folds (so "isAdmin" and "iſAdmin" are one name), since
// encoding/json keeps the last of two such members and other parsers the
// first. Nesting is bounded by the caller (checkShape); only the bytes are
// walked, and the pointer is built only when a name repeats.
func duplicateName(b []byte) (string, bool) {
	type frame struct {
		names  map[string]struct{} // nil for an array
		small  []string            // an object's folded names while it has few
		expect bool                // object: the next string is a member name
		raw    []byte              // object: the current member's name as sent
		n      int                 // array: the current element's index
	}
	var st []frame
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch c {
		case '{':
			st = append(st, frame{expect: true, small: make([]string, 0, 8)})
		case '[':
			st = append(st, frame{})
		case '}', ']':
			st = st[:len(st)-1]
		case ',':
			if top := &st[len(st)-1]; top.small != nil {
				top.expect = true
			} else {
				top.n++
			}
		case '"':
			end := stringEnd(b, i)
			if len(st) > 0 && st[len(st)-1].expect {
				top := &st[len(st)-1]
				top.expect, top.raw = false, b[i:end]
				f := foldedName(top.raw)
				seen := false
				if top.names == nil {
					seen = slices.Contains(top.small, f)
					if top.small = append(top.small, f); len(top.small) > 16 {
						top.names = make(map[string]struct{}, 2*len(top.small))
						for _, n := range top.small {
							top.names[n] = struct{}{}
						}
					}
				} else {
					_, seen = top.names[f]
					top.names[f] = struct{}{}
				}
				if seen {
					ptr := ""
					for _, fr := range st {
						if fr.small != nil {
							ptr += "/" + escapePointer(capName(jsonString(fr.raw)))
						} else {
							ptr += "/" + strconv.Itoa(fr.n)
						}
					}
					return ptr, true
				}
			}
			i = end - 1
		}
	}
	return "", false
}

// stringEnd returns the index just past the JSON string that starts at
// b[i] (a quote).
func stringEnd(b []byte, i int) int {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(b)
}

// jsonString is the value of the quoted JSON string raw as encoding/json
// reads it.
func jsonString(raw []byte) string {
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1])
	}
	var s string
	_ = json.Unmarshal(raw, &s) // raw is a string of a valid document
	return s
}

// foldedName is the member name raw (quoted, as sent) in the form that
// encoding/json compares names in: each letter replaced by the smallest
// rune of its Unicode simple-fold orbit, as its (unexported) foldName
// does, so two names are equal exactly when bytes.EqualFold says so.
func foldedName(raw []byte) string {
	name := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range name {
		if c >= utf8.RuneSelf || c == '\\' {
			ascii = false
			break
		}
	}
	if !ascii {
		name = []byte(jsonString(raw))
	}
	out := make([]byte, 0, len(name))
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		out = utf8.AppendRune(out, r)
		i += n
	}
	return string(out)
}
