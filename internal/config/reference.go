package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Reference returns the config reference as Markdown, generated from the
// same types and doc comments as JSONSchema: one table per section, each
// field with its YAML path, type and documentation.
func Reference() ([]byte, error) {
	d, err := docs()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("# rampart.yaml reference\n\n")
	b.WriteString("Generated from the doc comments of internal/config/types.go by\n")
	b.WriteString("`go test ./internal/config -update`; do not edit by hand. The same text is in\n")
	b.WriteString("the JSON Schema (`rampart config schema`, docs/rampart.schema.json).\n\n")
	b.WriteString("Check a file with `rampart config validate -c FILE`: it prints every error (the\n")
	b.WriteString("config does not load; exit 1) and every warning as FILE:LINE:COLUMN, then the\n")
	b.WriteString("findings of the config rules of rampart lint (public routes that write, routes\n")
	b.WriteString("without rate limits, fail-open limits, plaintext listeners and upstreams...; see\n")
	b.WriteString("docs/lint/config.md) as `FILE:LINE:COLUMN: SEVERITY RULE-ID: MESSAGE`. Warnings\n")
	b.WriteString("and findings do not change the exit code (0). Each route with an `openapi` block\n")
	b.WriteString("is compared with its spec: a method that reaches no operation of it (or not the\n")
	b.WriteString("one `operation` names) and access weaker than the operation's security are\n")
	b.WriteString("findings, each naming the spec's FILE:LINE:COLUMN; a spec that does not load, and\n")
	b.WriteString("an `operation` it lacks, are errors (exit 1).\n\n")
	b.WriteString("`rampart config import-openapi openapi.yaml` writes the routes section for every\n")
	b.WriteString("operation of a spec, for review (docs/inputs.md, \"Routes from a spec\").\n\n")
	b.WriteString(d["Config"] + "\n")
	seen := map[reflect.Type]bool{}
	writeSection(&b, reflect.TypeFor[Config](), "", d, seen)
	return []byte(b.String()), nil
}

func writeSection(b *strings.Builder, t reflect.Type, path string, d map[string]string, seen map[reflect.Type]bool) {
	type nested struct {
		t    reflect.Type
		path string
	}
	var later []nested
	title := path
	if title == "" {
		title = "top level"
	}
	fmt.Fprintf(b, "\n## %s\n\n", title)
	if path != "" {
		if doc := d[t.Name()]; doc != "" {
			b.WriteString(doc + "\n\n")
		}
	}
	b.WriteString("| field | type | description |\n|---|---|---|\n")
	for i := range t.NumField() {
		f := t.Field(i)
		name := yamlName(f)
		if name == "" {
			continue
		}
		fp := joinPath(path, name)
		ft, suffix := f.Type, ""
		for {
			switch ft.Kind() {
			case reflect.Pointer:
				ft = ft.Elem()
				continue
			case reflect.Slice:
				ft, suffix = ft.Elem(), suffix+"[]"
				continue
			case reflect.Map:
				ft, suffix = ft.Elem(), suffix+".NAME"
				continue
			}
			break
		}
		desc := strings.ReplaceAll(d[t.Name()+"."+f.Name], "|", "\\|")
		if f.Tag.Get("reload") == "restart" {
			desc += " *A reload does not apply a change here: restart.*"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", fp, typeName(f.Type), desc)
		if ft.Kind() == reflect.Struct && !seen[ft] {
			seen[ft] = true
			later = append(later, nested{ft, fp + suffix})
		}
	}
	for _, n := range later {
		writeSection(b, n.t, n.path, d, seen)
	}
}

func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case byteSizeType:
		return "size"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return typeName(t.Elem())
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Struct:
		return "object"
	case reflect.Int, reflect.Int64:
		return "integer"
	case reflect.Bool:
		return "boolean"
	}
	return t.Kind().String()
}
