package golint

import (
	"go/token"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"
)

// Each analyzer runs on its testdata package: the lines marked // want
// must be reported, every other line (the fixed twins) must stay silent.
func TestAnalyzers(t *testing.T) {
	for _, tc := range []struct {
		a   *analysis.Analyzer
		pkg string
	}{
		{MassAssign, "massassign"},
		{Exposure, "exposure"},
		{SQLInjection, "sqlinjection"},
		{ServerTimeout, "servertimeout"},
		{BodyLimit, "bodylimit"},
		{SSRF, "ssrf"},
		{Secrets, "secrets"},
		{Ignore, "ignore"},
		{SQLInjection, "suppress"},
	} {
		t.Run(tc.a.Name+"/"+tc.pkg, func(t *testing.T) {
			t.Parallel()
			analysistest.Run(t, analysistest.TestData(), tc.a, tc.pkg)
		})
	}
}

// TestRoutes checks the routes found in testdata/src/routes, with the
// prefixes of chi's Route and Mount and gin's Group.
func TestRoutes(t *testing.T) {
	res := analysistest.Run(t, analysistest.TestData(), Routes, "routes")
	if len(res) != 1 {
		t.Fatalf("got %d results, want 1", len(res))
	}
	type route struct {
		Router, Method, Path, Template string
		Subtree, Handler               bool
	}
	var got []route
	for _, r := range res[0].Result.(*RouteSet).Routes {
		got = append(got, route{r.Router, r.Method, r.Path, r.Template, r.Subtree, r.HandlerPos != token.NoPos && r.HandlerEnd > r.HandlerPos})
	}
	want := []route{
		{"net/http", "GET", "/users/{id}", "/users/{}", false, true},
		{"net/http", "POST", "/users", "/users", false, true},
		{"net/http", "", "/static/", "/static", true, true},
		{"net/http", "GET", "/", "/", false, true},
		{"net/http", "DELETE", "/users/{id}", "/users/{}", false, true},
		{"chi", "GET", "/health", "/health", false, true},
		{"chi", "GET", "/api/items/{id:[0-9]+}", "/api/items/{}", false, true},
		{"chi", "POST", "/api/orders", "/api/orders", false, true},
		{"chi", "PUT", "/api/items/{id}", "/api/items/{}", false, true},
		{"chi", "PATCH", "/api/items/{id}", "/api/items/{}", false, true},
		{"chi", "GET", "/reports/report", "/reports/report", false, true},
		{"chi", "", "/debug", "/debug", true, false},
		{"chi", "DELETE", "/admin/users/{id}", "/admin/users/{}", false, true},
		{"chi", "GET", "/registered", "/registered", false, true},
		{"gin", "GET", "/ping", "/ping", false, true},
		{"gin", "POST", "/v1/users/:id", "/v1/users/{}", false, true},
		{"gin", "DELETE", "/v1/admin/users/:id", "/v1/admin/users/{}", false, true},
		{"gin", "OPTIONS", "/files/", "/files", true, true},
		{"gin", "", "/any", "/any", false, true},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("routes (-want +got):\n%s", d)
	}
}

func TestTemplate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/", "/"},
		{"/users/{id}", "/users/{}"},
		{"/users/{userID}/", "/users/{}"},
		{"/users/:id/posts/:post", "/users/{}/posts/{}"},
		{"/files/{path...}", "/files/{}"},
		{"/items/{id:[0-9]+}", "/items/{}"},
		{"/static/*filepath", "/static/{}"},
		{"/a*b", "/a*b"},
		{"///", "/"},           // every trailing / goes, found by FuzzRoutePaths
		{"/users//", "/users"}, // likewise
		{"", ""},
	} {
		if got := Template(tc.in); got != tc.want {
			t.Errorf("Template(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestSplitPattern checks that ServeMux patterns split as net/http splits
// them: the method ends at a space or a tab, a host is dropped.
func TestSplitPattern(t *testing.T) {
	for _, tc := range []struct{ in, method, path string }{
		{"GET /users/{id}", "GET", "/users/{id}"},
		{"GET\t/users", "GET", "/users"}, // a tab separates too (it did not)
		{"POST  example.com/a", "POST", "/a"},
		{"/static/", "", "/static/"},
		{"example.com/", "", "/"},
	} {
		if m, p := splitPattern(tc.in); m != tc.method || p != tc.path {
			t.Errorf("splitPattern(%q) = %q, %q; want %q, %q", tc.in, m, p, tc.method, tc.path)
		}
	}
}

// TestOpenAPIPath checks the OpenAPI form of route paths, parameter
// names kept.
func TestOpenAPIPath(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/users/{id:[0-9]+}", "/users/{id}"},
		{"/files/{path...}", "/files/{path}"},
		{"/v1/users/:id", "/v1/users/{id}"},
		{"/static/*filepath", "/static/{filepath}"},
		{"/x/*...", "/x/{}"},       // was {...}, whose own form is {}: found by FuzzRoutePaths
		{"/x/{a......}", "/x/{a}"}, // was {a...}: likewise
	} {
		if got := openAPIPath(tc.in); got != tc.want {
			t.Errorf("openAPIPath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
