package scan

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// Op is one operation of the spec with what the scan has learned about it.
type Op struct {
	*openapi.Operation
	// Params are the path parameter names in the order of the template.
	Params []string
	// RequiresAuth is what the spec says.
	RequiresAuth bool
	// Privileged is true for operations the spec marks as administrative
	// (tags, path segments, x-rampart-privileged).
	Privileged bool
}

// BodyProperties returns the top-level properties of op's JSON request
// body schema, by name; empty when it has none.
func (o *Op) BodyProperties() map[string]*openapi3.Schema {
	out := map[string]*openapi3.Schema{}
	rb := o.Op.RequestBody
	if rb == nil || rb.Value == nil {
		return out
	}
	mt := rb.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return out
	}
	for k, v := range mt.Schema.Value.Properties {
		out[k] = v.Value
	}
	return out
}

// Key names the operation: METHOD path.
func (o *Op) Key() string { return o.Method + " " + o.Path }

// Safe reports whether the method does not change state.
func (o *Op) Safe() bool {
	return o.Method == "GET" || o.Method == "HEAD" || o.Method == "OPTIONS"
}

func pathParams(tmpl string) []string {
	var out []string
	for _, seg := range strings.Split(tmpl, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

var privilegedWords = []string{"admin", "administrator", "internal", "management", "manage", "superuser", "staff", "ops", "root", "sudo"}

func isPrivileged(op *openapi.Operation) bool {
	if v, ok := op.Op.Extensions["x-rampart-privileged"].(bool); ok {
		return v
	}
	for _, t := range op.Op.Tags {
		for _, w := range privilegedWords {
			if strings.EqualFold(t, w) {
				return true
			}
		}
	}
	for _, seg := range strings.Split(op.Path, "/") {
		if PrivilegedSegment(seg) {
			return true
		}
	}
	return false
}

// PrivilegedSegment reports whether a path segment marks administrative
// operations (admin, internal, management, ...).
func PrivilegedSegment(seg string) bool {
	return slices.Contains(privilegedWords, strings.ToLower(seg))
}

// Build returns a request for op with the given path parameter values
// (missing ones come from the spec's examples and schemas) and generated
// required query parameters, headers and body.
func (s *Session) Build(op *Op, values map[string]string) *Request {
	r := &Request{Method: op.Method, Query: url.Values{}}
	path := op.Path
	for _, p := range op.Parameters() {
		switch p.In {
		case "path":
			v, ok := values[p.Name]
			if !ok {
				v = scalarString(sampleParam(p))
			}
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			if v, ok := values["?"+p.Name]; ok {
				r.Query.Set(p.Name, v)
			} else if p.Required {
				r.Query.Set(p.Name, scalarString(sampleParam(p)))
			}
		case "header":
			if p.Required && !strings.EqualFold(p.Name, "authorization") {
				if r.Header == nil {
					r.Header = map[string][]string{}
				}
				r.Header.Set(p.Name, scalarString(sampleParam(p)))
			}
		}
	}
	// A template parameter the spec forgot to declare still needs a value.
	for _, name := range op.Params {
		if v, ok := values[name]; ok {
			path = strings.ReplaceAll(path, "{"+name+"}", url.PathEscape(v))
		} else {
			path = strings.ReplaceAll(path, "{"+name+"}", "1")
		}
	}
	r.Path = path
	if rb := op.Op.RequestBody; rb != nil && rb.Value != nil && !op.Safe() {
		if mt := rb.Value.Content.Get("application/json"); mt != nil {
			var v any
			switch {
			case mt.Example != nil:
				v = mt.Example
			case len(mt.Examples) > 0:
				for _, ex := range mt.Examples {
					if ex != nil && ex.Value != nil {
						v = ex.Value.Value
						break
					}
				}
			case mt.Schema != nil:
				v = Sample(mt.Schema.Value, 0, true)
			}
			if b, err := json.Marshal(v); err == nil {
				r.Body, r.ContentType = b, "application/json"
			}
		}
	}
	return r
}

// BuildJSON is Build for a write with body as its JSON body.
func (s *Session) BuildJSON(op *Op, values map[string]string, body any) *Request {
	r := s.Build(op, values)
	r.Body, _ = json.Marshal(body) // maps of JSON values: never fails
	r.ContentType = "application/json"
	return r
}

func sampleParam(p *openapi3.Parameter) any {
	if p.Example != nil {
		return p.Example
	}
	for _, ex := range p.Examples {
		if ex != nil && ex.Value != nil && ex.Value.Value != nil {
			return ex.Value.Value
		}
	}
	if p.Schema != nil && p.Schema.Value != nil {
		return Sample(p.Schema.Value, 0, false)
	}
	return "rampart"
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Sample builds a valid value for a schema: its example, default, first
// enum value, or one made from its type and format. forWrite leaves out
// readOnly properties.
func Sample(sc *openapi3.Schema, depth int, forWrite bool) any {
	if sc == nil || depth > 8 {
		return nil
	}
	if v, ok := sampleGiven(sc); ok {
		return v
	}
	if v, ok := sampleComposed(sc, depth, forWrite); ok {
		return v
	}
	switch TypeOf(sc) {
	case "object":
		return sampleObject(sc, depth, forWrite)
	case "array":
		if sc.Items != nil {
			return []any{Sample(sc.Items.Value, depth+1, forWrite)}
		}
		return []any{}
	case "integer", "number":
		return sampleNumber(sc)
	case "boolean":
		return true
	case "string", "":
		return sampleString(sc)
	}
	return nil
}

// TypeOf returns the one type a value of sc is made as: its type, or in an
// OpenAPI 3.1 type list the first that is not "null" ("null" when that is
// all it allows); "object" for an untyped schema with properties, "" for
// any other untyped schema.
func TypeOf(sc *openapi3.Schema) string {
	if sc == nil {
		return ""
	}
	if sc.Type == nil || len(*sc.Type) == 0 {
		if len(sc.Properties) > 0 {
			return "object"
		}
		return ""
	}
	for _, t := range *sc.Type {
		if t != openapi3.TypeNull {
			return t
		}
	}
	return openapi3.TypeNull
}

// sampleGiven is the value the schema itself offers: its example, first
// example, default, first enum value or const, in that order.
func sampleGiven(sc *openapi3.Schema) (any, bool) {
	switch {
	case sc.Example != nil:
		return sc.Example, true
	case len(sc.Examples) > 0:
		return sc.Examples[0], true
	case sc.Default != nil:
		return sc.Default, true
	case len(sc.Enum) > 0:
		return sc.Enum[0], true
	case sc.Const != nil:
		return sc.Const, true
	}
	return nil, false
}

// sampleComposed samples an untyped schema made of others: the merged
// objects of its allOf, or the first schema of its oneOf or anyOf.
func sampleComposed(sc *openapi3.Schema, depth int, forWrite bool) (any, bool) {
	for _, group := range []openapi3.SchemaRefs{sc.AllOf, sc.OneOf, sc.AnyOf} {
		if len(group) > 0 && group[0].Value != nil && sc.Type == nil {
			if len(sc.AllOf) > 0 {
				merged := map[string]any{}
				for _, part := range sc.AllOf {
					if m, ok := Sample(part.Value, depth+1, forWrite).(map[string]any); ok {
						for k, v := range m {
							merged[k] = v
						}
					}
				}
				return merged, true
			}
			return Sample(group[0].Value, depth+1, forWrite), true
		}
	}
	return nil, false
}

// sampleObject samples every property that the direction allows: no
// readOnly one in a request, no writeOnly one in a response.
func sampleObject(sc *openapi3.Schema, depth int, forWrite bool) map[string]any {
	m := map[string]any{}
	for name, p := range sc.Properties {
		if p.Value == nil || (forWrite && p.Value.ReadOnly) || (!forWrite && p.Value.WriteOnly) {
			continue
		}
		m[name] = Sample(p.Value, depth+1, forWrite)
	}
	return m
}

// sampleNumber is 1 for an integer and 1.5 for a number, raised to the
// minimum; an integer is also lowered to the maximum.
func sampleNumber(sc *openapi3.Schema) float64 {
	n := 1.5
	integer := TypeOf(sc) == "integer"
	if integer {
		n = 1.0
	}
	if sc.Min != nil && *sc.Min > n {
		n = *sc.Min
	}
	if integer && sc.Max != nil && *sc.Max < n {
		n = *sc.Max
	}
	return n
}

func sampleString(sc *openapi3.Schema) string {
	var s string
	switch sc.Format {
	case "uuid":
		s = "8c4a8b8e-3f5e-4e8e-9a4b-2d5a8f0c1b7d"
	case "email":
		s = "rampart-scan@example.com"
	case "date-time":
		s = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(time.RFC3339)
	case "date":
		s = "2026-01-02"
	case "uri", "url":
		s = "https://example.com/"
	case "ipv4":
		s = "192.0.2.1"
	case "ipv6":
		s = "2001:db8::1"
	case "hostname":
		s = "example.com"
	case "byte":
		s = "cmFtcGFydA=="
	default:
		s = "rampart"
	}
	if want := min(sc.MinLength, 4096); want > uint64(len(s)) { // a bounded sample, whatever the spec asks
		s += strings.Repeat("x", int(want)-len(s)) // #nosec G115 -- want <= 4096
	}
	if sc.MaxLength != nil && uint64(len(s)) > *sc.MaxLength {
		s = s[:*sc.MaxLength]
	}
	return s
}

// describe is a one-line rendering of a request, for dry runs.
func describe(r *Request) string {
	q := ""
	if len(r.Query) > 0 {
		q = "?" + r.Query.Encode()
	}
	b := ""
	if len(r.Body) > 0 {
		b = " " + string(r.Body)
		if len(b) > 120 {
			b = b[:120] + "…"
		}
	}
	return fmt.Sprintf("%s %s%s%s", r.Method, r.Path, q, b)
}
