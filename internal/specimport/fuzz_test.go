package specimport

import (
	"context"
	"os"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// FuzzImport imports any spec the loader accepts: Import never fails on
// one (only options can), never panics, and writes YAML whose routes
// each have a path config accepts and either public: true, or auth with
// authz, or neither (a TODO).
func FuzzImport(f *testing.F) {
	for _, file := range []string{"testdata/cases.yaml", "../demo/openapi.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := openapi.LoadData(context.Background(), data, "", openapi.Options{})
		if err != nil {
			return
		}
		res, err := Import(s, Options{Spec: "openapi.yaml"})
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		var out struct {
			Routes []struct {
				Path   string         `yaml:"path"`
				Public bool           `yaml:"public"`
				Auth   []string       `yaml:"auth"`
				Authz  map[string]any `yaml:"authz"`
			} `yaml:"routes"`
		}
		if err := yaml.Unmarshal(res.YAML, &out); err != nil {
			t.Fatalf("output is not YAML: %v\n%s", err, res.YAML)
		}
		if len(out.Routes) != res.Routes {
			t.Fatalf("%d routes in the YAML, Result says %d", len(out.Routes), res.Routes)
		}
		for _, r := range out.Routes {
			if err := config.CheckPathPattern(r.Path); err != nil {
				t.Fatalf("route path %q: %v", r.Path, err)
			}
			if r.Public && (len(r.Auth) > 0 || r.Authz != nil) || len(r.Auth) > 0 != (r.Authz != nil) {
				t.Fatalf("route %q: public %v, auth %v, authz %v", r.Path, r.Public, r.Auth, r.Authz)
			}
		}
		if strings.Count(string(res.YAML), "TODO:") != countTODO(res.Warnings) {
			t.Fatalf("TODO comments and warnings differ:\n%s\n%q", res.YAML, res.Warnings)
		}
	})
}

// countTODO counts the warnings of routes left without access.
func countTODO(ws []string) int {
	n := 0
	for _, w := range ws {
		if !strings.Contains(w, "not imported") && !strings.Contains(w, "servers[") {
			n++
		}
	}
	return n
}
