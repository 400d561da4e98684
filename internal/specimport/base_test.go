package specimport

import (
	"context"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// TestBaseNeverWidens: a server's base
// path is literal text, but PathPattern parses it as template: a
// variable whose default holds "{tenant}" turns the literal base
// /a/{tenant} into a parameter, so the route matches /a/ANY/admin, paths
// the spec never declares.
func TestBaseNeverWidens(t *testing.T) {
	doc := "openapi: 3.0.3\ninfo: {title: t, version: '1'}\nservers:\n  - url: 'https://x/{p}'\n    variables: {p: {default: 'a/{tenant}'}}\nsecurity: []\npaths:\n  /admin:\n    get:\n      responses: {'200': {description: ok}}\n"
	s, err := openapi.LoadData(context.Background(), []byte(doc), "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Import(s, Options{Spec: "x.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(r.YAML), "path: /a/{tenant}/admin") {
		t.Errorf("the base path's literal {tenant} became a route parameter:\n%s", r.YAML)
	}
}
