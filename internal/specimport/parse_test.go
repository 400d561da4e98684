package specimport

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
)

// configHead is a config without routes whose authenticators are the
// ones the import's routes name: the demo spec's schemes (bearer,
// apiKey) and the cases' (key, and oauth mapped to idp).
const configHead = `version: 1
listeners:
  - {name: https, address: 127.0.0.1:8443, tls: {cert_file: tls.crt, key_file: tls.key}}
upstreams:
  api: {url: "http://127.0.0.1:8081"}
  demo: {url: "http://127.0.0.1:8081"}
authn:
  jwt:
    - {name: bearer, issuer: "https://login.example.com/", audiences: [api], jwks_url: "https://login.example.com/jwks.json"}
    - {name: idp, issuer: "https://idp.example.com/", audiences: [api], jwks_url: "https://idp.example.com/jwks.json"}
  apikey:
    - {name: apiKey}
    - {name: key}
`

// TestOutputParses pastes each import into a full config and parses it
// with config.Parse: the demo's loads; the cases' fails only on the
// routes left without access on purpose (the TODOs), and on nothing
// else.
func TestOutputParses(t *testing.T) {
	tests := []struct {
		name, spec string
		o          Options
		todo       []string // the routes that must not load
	}{
		{"demo", "../demo/openapi.yaml", Options{Spec: "openapi.yaml", Upstream: "demo"}, nil},
		{"cases", "testdata/cases.yaml", Options{Spec: "testdata/cases.yaml", Auth: map[string]string{"oauth": "idp"}}, []string{"both", "listReports"}},
		{"cases, second server", "testdata/cases.yaml", Options{Spec: "testdata/cases.yaml", Server: 1, Auth: map[string]string{"oauth": "idp"}}, []string{"both", "listReports"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Import(load(t, tt.spec), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := config.Parse("rampart.yaml", []byte(configHead+string(res.YAML)))
			if len(tt.todo) == 0 {
				if err != nil {
					t.Fatalf("the import does not load:\n%v\n%s", err, res.YAML)
				}
				if len(cfg.Routes) != res.Routes {
					t.Errorf("%d routes loaded, the import says %d", len(cfg.Routes), res.Routes)
				}
				return
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want the TODO routes refused", err)
			}
			names := routeNames(t, res.YAML)
			var failed []string
			for _, p := range ce.Problems {
				if p.Warning {
					continue
				}
				i := routeIndex(p.Path)
				if i < 0 || i >= len(names) {
					t.Errorf("problem outside the routes: %s", p)
					continue
				}
				if !slices.Contains(tt.todo, names[i]) {
					t.Errorf("route %s refused: %s", names[i], p)
				}
				if !slices.Contains(failed, names[i]) {
					failed = append(failed, names[i])
				}
			}
			slices.Sort(failed)
			if !slices.Equal(failed, tt.todo) {
				t.Errorf("refused routes = %v, want %v", failed, tt.todo)
			}
		})
	}
}

// routeIndex is i of a problem path routes[i]...; -1 for another.
func routeIndex(path string) int {
	rest, ok := strings.CutPrefix(path, "routes[")
	if !ok {
		return -1
	}
	n := 0
	for _, c := range rest {
		if c == ']' {
			return n
		}
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return -1
}

// routeNames reads the names of the routes in an import, in order.
func routeNames(t *testing.T, y []byte) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(string(y), "\n") {
		if n, ok := strings.CutPrefix(line, "  - name: "); ok {
			names = append(names, n)
		}
	}
	return names
}
