package scan

import (
	"encoding/json"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestSample pins the value Sample makes for each kind of schema.
func TestSample(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	u := func(v uint64) *uint64 { return &v }
	ty := func(s ...string) *openapi3.Types { x := openapi3.Types(s); return &x }
	ref := func(s *openapi3.Schema) *openapi3.SchemaRef { return &openapi3.SchemaRef{Value: s} }
	obj := &openapi3.Schema{Type: ty("object"), Properties: openapi3.Schemas{
		"id":       ref(&openapi3.Schema{Type: ty("string"), Format: "uuid", ReadOnly: true}),
		"password": ref(&openapi3.Schema{Type: ty("string"), WriteOnly: true}),
		"age":      ref(&openapi3.Schema{Type: ty("integer"), Min: f(18)}),
	}}
	tests := []struct {
		name     string
		sc       *openapi3.Schema
		forWrite bool
		want     string
	}{
		{"nil", nil, false, `null`},
		{"example first", &openapi3.Schema{Example: "ex", Default: "def", Enum: []any{"e"}}, false, `"ex"`},
		{"examples", &openapi3.Schema{Examples: []any{"e1", "e2"}, Default: "def"}, false, `"e1"`},
		{"default", &openapi3.Schema{Default: 7.0, Enum: []any{1.0}}, false, `7`},
		{"enum", &openapi3.Schema{Type: ty("string"), Enum: []any{"a", "b"}}, false, `"a"`},
		{"const", &openapi3.Schema{Const: "c"}, false, `"c"`},
		{"allOf merged", &openapi3.Schema{AllOf: openapi3.SchemaRefs{
			ref(&openapi3.Schema{Type: ty("object"), Properties: openapi3.Schemas{"a": ref(&openapi3.Schema{Type: ty("boolean")})}}),
			ref(&openapi3.Schema{Type: ty("object"), Properties: openapi3.Schemas{"b": ref(&openapi3.Schema{Type: ty("number")})}}),
		}}, false, `{"a":true,"b":1.5}`},
		{"oneOf first", &openapi3.Schema{OneOf: openapi3.SchemaRefs{ref(&openapi3.Schema{Type: ty("integer")}), ref(&openapi3.Schema{Type: ty("string")})}}, false, `1`},
		{"anyOf first", &openapi3.Schema{AnyOf: openapi3.SchemaRefs{ref(&openapi3.Schema{Type: ty("string"), Format: "email"})}}, false, `"rampart-scan@example.com"`},
		{"typed oneOf is its type", &openapi3.Schema{Type: ty("boolean"), OneOf: openapi3.SchemaRefs{ref(&openapi3.Schema{Type: ty("integer")})}}, false, `true`},
		{"object read", obj, false, `{"age":18,"id":"8c4a8b8e-3f5e-4e8e-9a4b-2d5a8f0c1b7d"}`},
		{"object write", obj, true, `{"age":18,"password":"rampart"}`},
		{"untyped with properties", &openapi3.Schema{Properties: openapi3.Schemas{"n": ref(&openapi3.Schema{Type: ty("integer")})}}, false, `{"n":1}`},
		{"array", &openapi3.Schema{Type: ty("array"), Items: ref(&openapi3.Schema{Type: ty("integer"), Max: f(0)})}, false, `[0]`},
		{"array without items", &openapi3.Schema{Type: ty("array")}, false, `[]`},
		{"integer in range", &openapi3.Schema{Type: ty("integer"), Min: f(5), Max: f(3)}, false, `3`},
		{"number min", &openapi3.Schema{Type: ty("number"), Min: f(10), Max: f(2)}, false, `10`},
		{"number", &openapi3.Schema{Type: ty("number"), Max: f(1)}, false, `1.5`},
		// OpenAPI 3.1 type lists: the first type that is not null.
		{"number or integer", &openapi3.Schema{Type: ty("number", "integer")}, false, `1.5`},
		{"nullable integer", &openapi3.Schema{Type: ty("null", "integer"), Max: f(0)}, false, `0`},
		{"nullable string", &openapi3.Schema{Type: ty("string", "null"), Format: "email"}, false, `"rampart-scan@example.com"`},
		{"nullable object", &openapi3.Schema{Type: ty("object", "null"), Properties: openapi3.Schemas{"n": ref(&openapi3.Schema{Type: ty("boolean")})}}, false, `{"n":true}`},
		{"nullable array", &openapi3.Schema{Type: ty("null", "array"), Items: ref(&openapi3.Schema{Type: ty("integer")})}, false, `[1]`},
		{"only null", &openapi3.Schema{Type: ty("null")}, false, `null`},
		{"string lengths", &openapi3.Schema{Type: ty("string"), MinLength: 10, MaxLength: u(9)}, false, `"rampartxx"`},
		{"untyped", &openapi3.Schema{}, false, `"rampart"`},
		{"null type", &openapi3.Schema{Type: ty("null")}, false, `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(Sample(tt.sc, 0, tt.forWrite))
			if err != nil || string(b) != tt.want {
				t.Errorf("Sample = %s (%v), want %s", b, err, tt.want)
			}
		})
	}
	deep := &openapi3.Schema{Type: ty("array")}
	deep.Items = ref(deep)
	if b, _ := json.Marshal(Sample(deep, 0, false)); string(b) != `[[[[[[[[[null]]]]]]]]]` {
		t.Errorf("a recursive schema: %s", b)
	}
}

// TestTypeOf: what the checks that look at a parameter's type (SSRF's
// URL-shaped strings, injection's string slots) see of 3.1 type lists.
func TestTypeOf(t *testing.T) {
	ty := func(s ...string) *openapi3.Types { x := openapi3.Types(s); return &x }
	tests := []struct {
		sc   *openapi3.Schema
		want string
	}{
		{nil, ""},
		{&openapi3.Schema{}, ""},
		{&openapi3.Schema{Type: ty()}, ""},
		{&openapi3.Schema{Properties: openapi3.Schemas{"a": nil}}, "object"},
		{&openapi3.Schema{Type: ty("string")}, "string"},
		{&openapi3.Schema{Type: ty("null", "string")}, "string"},
		{&openapi3.Schema{Type: ty("integer", "string")}, "integer"},
		{&openapi3.Schema{Type: ty("null")}, "null"},
	}
	for _, tt := range tests {
		if got := TypeOf(tt.sc); got != tt.want {
			t.Errorf("TypeOf(%v) = %q, want %q", tt.sc, got, tt.want)
		}
	}
}
