package specimport

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// TestAccess maps the security that applies to one operation, alone in
// a spec, to the route's access: the root's and the operation's.
func TestAccess(t *testing.T) {
	const head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\ncomponents:\n  securitySchemes:\n    key: {type: apiKey, in: header, name: K}\n    jwt: {type: http, scheme: bearer}\n"
	tests := []struct {
		name, root, op string // security: YAML, "" for absent
		want           []string
		not            []string
	}{
		{"root [] is public", "[]", "", []string{"public: true", "Public: the spec's root says security: []."}, []string{"auth:", "TODO"}},
		{"operation [] is public under a root that asks", "[{key: []}]", "[]", []string{"public: true", "Public: the operation says"}, []string{"auth:"}},
		{"root inherited", "[{jwt: []}, {key: []}]", "", []string{"auth: [jwt, key]", "authz: {authenticated: true}"}, []string{"public"}},
		{"operation overrides root", "[{key: []}]", "[{jwt: [a, b]}]", []string{"auth: [jwt]", "authz: {scopes: [a, b]}"}, []string{"public", "[key]"}},
		{"nothing anywhere is a TODO", "", "", []string{"TODO: the spec declares no security"}, []string{"public", "auth:", "authz:"}},
		{"only an AND is a TODO", "", "[{jwt: [], key: []}]", []string{"TODO: no alternative"}, []string{"public", "auth:", "authz:"}},
		{"{} with another is not public", "", "[{}, {jwt: [s]}]", []string{"auth: [jwt]", "authz: {scopes: [s]}", "also allows anonymous"}, []string{"public: true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := head
			if tt.root != "" {
				doc += "security: " + tt.root + "\n"
			}
			doc += "paths:\n  /a:\n    get:\n      operationId: a\n"
			if tt.op != "" {
				doc += "      security: " + tt.op + "\n"
			}
			doc += "      responses: {'200': {description: ok}}\n"
			s, err := openapi.LoadData(context.Background(), []byte(doc), "", openapi.Options{})
			if err != nil {
				t.Fatal(err)
			}
			res, err := Import(s, Options{Spec: "a.yaml"})
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(strings.Fields(string(res.YAML)), " ")
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("missing %q in\n%s", w, res.YAML)
				}
			}
			var code []string // the lines that are not comments
			for _, l := range strings.Split(string(res.YAML), "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "#") {
					code = append(code, l)
				}
			}
			for _, n := range tt.not {
				if n != "TODO" && strings.Contains(strings.Join(code, "\n"), n) || n == "TODO" && strings.Contains(out, n) {
					t.Errorf("unexpected %q in\n%s", n, res.YAML)
				}
			}
			if todo := strings.Contains(out, "TODO"); todo != (len(res.Warnings) == 1) {
				t.Errorf("TODO %v but warnings %q: a TODO route warns, no other here does", todo, res.Warnings)
			}
		})
	}
}
