package route

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func routes() []config.Route {
	r := func(name, host, path string, methods ...string) config.Route {
		return config.Route{Name: name, Host: host, Path: path, Methods: methods, Upstream: "u", Public: true}
	}
	return []config.Route{
		r("root", "", "/", "GET"),
		r("users", "", "/api/users", "GET"),
		r("user", "", "/api/users/{id}", "GET", "PUT"),
		r("user-me", "", "/api/users/me", "GET"),
		r("orders", "", "/api/users/{id}/orders/{order}", "GET"),
		r("admin", "", "/api/admin/stats", "GET"),
		r("static", "", "/static/{path...}", "GET"),
		r("api-host", "api.example.com", "/api/users", "GET"),
		r("tenant", "*.tenants.example.com", "/api/users", "GET"),
		r("post-users", "", "/api/users", "POST"),
	}
}

func TestMatch(t *testing.T) {
	tbl, err := Compile(routes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, host, path, method string
		route                    string
		params                   []pipeline.Param
		allow                    string
	}{
		{"root", "x", "/", "GET", "root", nil, ""},
		{"literal", "x", "/api/users", "GET", "users", nil, ""},
		{"head follows get", "x", "/api/users", "HEAD", "users", nil, ""},
		{"post route", "x", "/api/users", "POST", "post-users", nil, ""},
		{"param", "x", "/api/users/bob", "GET", "user", []pipeline.Param{{Name: "id", Value: "bob"}}, ""},
		{"literal beats param", "x", "/api/users/me", "GET", "user-me", nil, ""},
		{"param after literal miss by method", "x", "/api/users/me", "PUT", "user", []pipeline.Param{{Name: "id", Value: "me"}}, ""},
		{"two params", "x", "/api/users/bob/orders/7", "GET", "orders", []pipeline.Param{{Name: "id", Value: "bob"}, {Name: "order", Value: "7"}}, ""},
		{"catch-all", "x", "/static/css/site.css", "GET", "static", []pipeline.Param{{Name: "path", Value: "css/site.css"}}, ""},
		{"catch-all needs a segment", "x", "/static", "GET", "", nil, ""},
		{"exact host", "api.example.com:8443", "/api/users", "GET", "api-host", nil, ""},
		{"host case", "API.Example.COM", "/api/users", "GET", "api-host", nil, ""},
		{"wildcard host", "acme.tenants.example.com", "/api/users", "GET", "tenant", nil, ""},
		{"wildcard one label only", "a.b.tenants.example.com", "/api/users", "GET", "users", nil, ""},
		{"wildcard needs a label", "tenants.example.com", "/api/users", "GET", "users", nil, ""},
		{"405", "x", "/api/admin/stats", "DELETE", "", nil, "GET, HEAD"},
		{"405 lists methods", "x", "/api/users/bob", "DELETE", "", nil, "GET, HEAD, PUT"},
		// /api/users is split between two routes (GET and POST): Allow
		// names both, as does a path two patterns match.
		{"405 lists every route's methods", "x", "/api/users", "DELETE", "", nil, "GET, HEAD, POST"},
		{"405 across patterns", "x", "/api/users/me", "DELETE", "", nil, "GET, HEAD, PUT"},
		{"404", "x", "/api/nope", "GET", "", nil, ""},
		{"case sensitive", "x", "/API/admin/stats", "GET", "", nil, ""},
		{"too deep", "x", "/api/users/bob/x", "GET", "", nil, ""},
		{"ipv6 host", "[::1]:8443", "/api/users", "GET", "users", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, params := tbl.Match(tt.host, tt.path, tt.method, nil)
			got := ""
			if res.Route != nil {
				got = res.Route.Name
			}
			if got != tt.route {
				t.Fatalf("route = %q, want %q", got, tt.route)
			}
			if diff := cmp.Diff(tt.params, params); diff != "" {
				t.Errorf("params (-want +got):\n%s", diff)
			}
			if res.Allow != tt.allow {
				t.Errorf("allow = %q, want %q", res.Allow, tt.allow)
			}
		})
	}
}

func TestConflicts(t *testing.T) {
	r := func(name, host, path string, methods ...string) config.Route {
		return config.Route{Name: name, Host: host, Path: path, Methods: methods}
	}
	tests := []struct {
		name   string
		routes []config.Route
		err    string
	}{
		{"same pattern", []config.Route{r("a", "", "/x/{id}", "GET"), r("b", "", "/x/{name}", "GET")}, `route "b" matches the same GET requests as route "a"`},
		{"different methods ok", []config.Route{r("a", "", "/x/{id}", "GET"), r("b", "", "/x/{name}", "DELETE")}, ""},
		{"different hosts ok", []config.Route{r("a", "a.com", "/x", "GET"), r("b", "b.com", "/x", "GET")}, ""},
		{"explicit head twice", []config.Route{r("a", "", "/x", "HEAD"), r("b", "", "/x", "HEAD")}, `matches the same HEAD`},
		{"get and head ok", []config.Route{r("a", "", "/x", "GET"), r("b", "", "/x", "HEAD")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.routes)
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error = %v, want %q", err, tt.err)
			}
		})
	}
}

// TestBypassCorpus: none of the path tricks reaches the admin route under
// another name, and none lands on a route other than the one its
// normalized form names.
func TestBypassCorpus(t *testing.T) {
	s, err := New(config.Paths{}, Deps{Routes: routes()})
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range []string{
		"//api/admin/stats", "/api/%61dmin/stats", "/api/admin/stats/.", "/api/users/../admin/stats",
		"/api/admin/stats/", "/api/./admin/stats", "/api//admin/stats",
	} {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In = pipeline.Request{Method: "GET", Host: "h", RawPath: raw}
		if err := s.Request(context.Background(), x); err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if x.Route.Name != "admin" || x.Path != "/api/admin/stats" {
			t.Errorf("%s: route %s path %s, want admin via the canonical path", raw, x.Route.Name, x.Path)
		}
	}
	for _, raw := range []string{"/API/admin/stats", "/api/admin%2fstats", "/api/admin;x=1/stats", "/api/admin/stats%00", "/api/%2561dmin/stats"} {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In = pipeline.Request{Method: "GET", Host: "h", RawPath: raw}
		err := s.Request(context.Background(), x)
		d, ok := pipeline.AsDenial(err)
		if !ok || (d.Status != http.StatusBadRequest && d.Status != http.StatusNotFound) {
			t.Errorf("%s: err = %v, want 400 or 404", raw, err)
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	tbl, err := Compile(routes())
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]pipeline.Param, 0, pipeline.MaxParams)
	n := testing.AllocsPerRun(100, func() {
		res, _ := tbl.Match("h", "/api/users/bob/orders/7", "GET", buf[:0])
		if res.Route == nil {
			t.Fatal("no match")
		}
	})
	if n != 0 {
		t.Errorf("allocs = %v, want 0", n)
	}
}

func FuzzMatch(f *testing.F) {
	tbl, err := Compile(routes())
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/", "/api/users/bob", "/static/a/b/c", "/api/users/bob/orders/1"} {
		f.Add("h", s, "GET")
	}
	f.Fuzz(func(t *testing.T, host, path, method string) {
		if !strings.HasPrefix(path, "/") {
			return
		}
		res, params := tbl.Match(host, path, method, nil)
		if res.Route == nil {
			return
		}
		// Every parameter value is a piece of the path.
		for _, p := range params {
			if !strings.Contains(path, p.Value) {
				t.Fatalf("param %v not in %q", p, path)
			}
		}
	})
}

func BenchmarkMatch(b *testing.B) {
	tbl, err := Compile(routes())
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]pipeline.Param, 0, pipeline.MaxParams)
	b.ReportAllocs()
	for b.Loop() {
		tbl.Match("api.example.com", "/api/users/bob/orders/7", "GET", buf[:0])
	}
}

func TestMethodOverridesDropped(t *testing.T) {
	for in, want := range map[string]string{
		"a=1&_method=DELETE&b=2":         "a=1&b=2",
		"_METHOD=delete":                 "",
		"x-http-method-override=PUT&q=1": "q=1",
		"%5Fmethod=DELETE&q=1":           "q=1",
		"method=x&q=1":                   "method=x&q=1",
		"q=_method":                      "q=_method",
	} {
		if got := dropOverrides(in); got != want {
			t.Errorf("dropOverrides(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCaseInsensitivePaths: with case folding, every case variant of the
// admin path reaches the admin route (and its rules), never a catch-all,
// and the folded path is the one forwarded.
func TestCaseInsensitivePaths(t *testing.T) {
	rs := []config.Route{
		{Name: "admin", Path: "/api/Admin/stats", Methods: []string{"GET"}},
		{Name: "user", Path: "/api/users/{ID}", Methods: []string{"GET"}},
		{Name: "rest", Path: "/{rest...}", Methods: []string{"GET"}},
	}
	for _, fold := range []bool{false, true} {
		s, err := New(config.Paths{CaseInsensitive: fold}, Deps{Routes: rs})
		if err != nil {
			t.Fatal(err)
		}
		for _, raw := range []string{"/api/admin/stats", "/API/ADMIN/STATS", "/Api/Admin/Stats"} {
			x := &pipeline.Exchange{}
			x.Reset()
			x.In = pipeline.Request{Method: "GET", Host: "h", RawPath: raw}
			if err := s.Request(context.Background(), x); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			want := "rest"
			if fold {
				want = "admin"
				if x.Path != "/api/admin/stats" {
					t.Errorf("%s forwarded as %s", raw, x.Path)
				}
			}
			if x.Route.Name != want && !(raw == "/api/admin/stats" && !fold) {
				t.Errorf("fold=%v %s: route %s, want %s", fold, raw, x.Route.Name, want)
			}
		}
		if fold {
			x := &pipeline.Exchange{}
			x.Reset()
			x.In = pipeline.Request{Method: "GET", Host: "h", RawPath: "/API/USERS/Bob"}
			_ = s.Request(context.Background(), x)
			if x.Route.Name != "user" || x.Param("ID") != "bob" {
				t.Errorf("folded params: %s %v", x.Route.Name, x.Params)
			}
		}
	}
}
