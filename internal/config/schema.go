package config

import (
	_ "embed" // the types' source holds the field docs
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

//go:embed types.go
var typesSource string

// docs returns the doc comments of types.go: "Type" and "Type.Field" keys.
func docs() (map[string]string, error) {
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("parsing config types: %w", err)
	}
	out := map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			out[ts.Name.Name] = clean(gd.Doc.Text())
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			for _, field := range st.Fields.List {
				for _, name := range field.Names {
					out[ts.Name.Name+"."+name.Name] = clean(field.Doc.Text())
				}
			}
		}
	}
	return out, nil
}

func clean(s string) string { return strings.Join(strings.Fields(s), " ") }

// JSONSchema returns a JSON Schema (draft 2020-12) of rampart.yaml for
// editors, generated from the config types and their doc comments. It is
// strict like the decoder: unknown fields are not allowed.
func JSONSchema() ([]byte, error) {
	d, err := docs()
	if err != nil {
		return nil, err
	}
	g := &schemaGen{docs: d, defs: map[string]any{}, visiting: map[reflect.Type]bool{}, recursive: map[reflect.Type]bool{}}
	s := g.of(reflect.TypeFor[Config]())
	if len(g.defs) > 0 {
		s["$defs"] = g.defs
	}
	s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	s["$id"] = "https://rampart.dev/schema/rampart.schema.json"
	s["title"] = "rampart.yaml"
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// schemaGen builds a schema; recursive types (a method rule inside an
// authorization rule) become $defs references.
type schemaGen struct {
	docs      map[string]string
	defs      map[string]any
	visiting  map[reflect.Type]bool
	recursive map[reflect.Type]bool
}

func (g *schemaGen) of(t reflect.Type) map[string]any {
	d := g.docs
	switch t {
	case durationType:
		return map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case byteSizeType:
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "integer", "minimum": 0},
			map[string]any{"type": "string", "pattern": `^[0-9]+ ?(B|KiB|MiB|GiB|KB|MB|GB)?$`},
		}}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Struct:
		if g.visiting[t] {
			g.recursive[t] = true
			return map[string]any{"$ref": "#/$defs/" + t.Name()}
		}
		g.visiting[t] = true
		defer delete(g.visiting, t)
		props := map[string]any{}
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			fs := g.of(f.Type)
			if doc := d[t.Name()+"."+f.Name]; doc != "" {
				fs["description"] = doc
			}
			props[name] = fs
		}
		s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if doc := d[t.Name()]; doc != "" {
			s["description"] = doc
		}
		if g.recursive[t] {
			g.defs[t.Name()] = s
		}
		return s
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.of(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64:
		return map[string]any{"type": "integer"}
	}
	return map[string]any{}
}
