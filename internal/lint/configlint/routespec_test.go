package configlint_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/lint/configlint"
)

// TestRouteSpecs compares routes with the specs their openapi blocks
// name: in testdata/routespec/bad.yaml the rules fire exactly on the
// lines marked "# want: RULE" (a public route and a missing scope where
// the spec asks for them, a method outside the pinned operation, a
// method of no operation); in good.yaml, the fixed twin, on none. A
// route under the second server's base path matches too.
func TestRouteSpecs(t *testing.T) {
	rules := []string{configlint.RuleNotInSpec, configlint.RuleWeakerThanSpec}
	for _, c := range []string{"bad", "good"} {
		t.Run(c, func(t *testing.T) {
			file := "testdata/routespec/" + c + ".yaml"
			in := input(t, file, "")
			specs, err := configlint.LoadRouteSpecs(context.Background(), in.Config, file, in.ConfigIndex)
			if err != nil {
				t.Fatal(err)
			}
			if len(specs) != 1 {
				t.Fatalf("%d specs loaded, want the one file once", len(specs))
			}
			in.RouteSpecs = specs
			var got, msgs []string
			for _, f := range check(t, in) {
				if !slices.Contains(rules, f.RuleID) {
					continue
				}
				got = append(got, fmt.Sprintf("%s:%d %s", f.Location.File, f.Location.Line, strings.TrimPrefix(f.RuleID, configlint.Prefix)))
				msgs = append(msgs, f.Message)
			}
			var want []string
			if c == "bad" {
				for _, r := range rules {
					name := strings.TrimPrefix(r, configlint.Prefix)
					for _, at := range marked(t, file, name) {
						want = append(want, at+" "+name)
					}
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("findings %v, want %v\n%s", got, want, strings.Join(msgs, "\n"))
			}
			for _, m := range msgs {
				// Every message places the spec's side too.
				if !strings.Contains(m, "testdata/routespec/openapi.yaml") {
					t.Errorf("message names no spec: %s", m)
				}
			}
		})
	}
}

// TestRouteSpecsMessages pins the wording that config validate prints.
func TestRouteSpecsMessages(t *testing.T) {
	file := "testdata/routespec/bad.yaml"
	in := input(t, file, "")
	var err error
	if in.RouteSpecs, err = configlint.LoadRouteSpecs(context.Background(), in.Config, file, in.ConfigIndex); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range check(t, in) {
		if f.RuleID == configlint.RuleNotInSpec || f.RuleID == configlint.RuleWeakerThanSpec {
			got = append(got, f.Message)
		}
	}
	want := []string{
		`route "order-public" is public, but the spec requires credentials for GET /v1/orders/{id} (getOrder, testdata/routespec/openapi.yaml:20:5).`,
		`the spec requires the scopes [orders:write] for DELETE /v1/orders/{id} (deleteOrder, testdata/routespec/openapi.yaml:24:5); route "delete-weak" requires only [orders:read].`,
		`route "wrong-operation" answers DELETE /v1/orders/{id}, but its openapi.operation getOrder is GET /v1/orders/{id} (testdata/routespec/openapi.yaml:20:5): its openapi block refuses those requests.`,
		`route "shadow" answers POST /v1/orders, which no operation of its spec testdata/routespec/openapi.yaml has: its openapi block refuses every such request.`,
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRouteSpecsSameAsLintSpec: a route whose spec is the one given to
// lint (--spec) is compared once, by the route-spec rules (which know its
// pinned operation and every base path), not again by the --spec ones.
func TestRouteSpecsSameAsLintSpec(t *testing.T) {
	// --spec the route's own file, or a copy of it under another name:
	// either way, each route is compared once.
	b, err := os.ReadFile("testdata/routespec/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy-of-openapi.yaml")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"testdata/routespec/openapi.yaml", cp} {
		t.Run(filepath.Base(spec), func(t *testing.T) { comparedOnce(t, spec) })
	}
}

func comparedOnce(t *testing.T, spec string) {
	file := "testdata/routespec/bad.yaml"
	with := input(t, file, spec)
	var err error
	if with.RouteSpecs, err = configlint.LoadRouteSpecs(context.Background(), with.Config, file, with.ConfigIndex); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range check(t, with) {
		if f.RuleID != configlint.RuleNotInSpec && f.RuleID != configlint.RuleWeakerThanSpec {
			continue
		}
		k := fmt.Sprintf("%s %s:%d %s", f.RuleID, f.Location.File, f.Location.Line, f.Method)
		if seen[k] {
			t.Errorf("compared twice: %s", k)
		}
		seen[k] = true
	}
}

// TestLoadRouteSpecsErrors: a spec that does not load is one error
// naming every route that uses it and the file (not one per route); an
// operationId the spec lacks is an error naming the route.
func TestLoadRouteSpecsErrors(t *testing.T) {
	file := "testdata/routespec/broken.yaml"
	in := input(t, file, "")
	specs, err := configlint.LoadRouteSpecs(context.Background(), in.Config, file, in.ConfigIndex)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{
		`testdata/routespec/broken.yaml:16:15: routes[0].openapi.spec: loading the spec of route "missing-spec", route "also-missing": testdata/routespec/missing.yaml`,
		`testdata/routespec/broken.yaml:28:54: routes[2].openapi.operation: testdata/routespec/openapi.yaml has no operation with operationId "nope", so route "missing-operation" would refuse every request`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "loading the spec"); n != 1 {
		t.Errorf("the failing spec is reported %d times, want once:\n%s", n, msg)
	}
	if len(specs) != 1 || specs["testdata/routespec/openapi.yaml"] == nil {
		t.Errorf("specs = %v, want the one that loads", specs)
	}
	// The route whose operation is missing is not compared further.
	in.RouteSpecs = specs
	for _, f := range check(t, in) {
		if f.RuleID == configlint.RuleNotInSpec || f.RuleID == configlint.RuleWeakerThanSpec {
			t.Errorf("finding on a route the errors cover: %s", f.Message)
		}
	}
}
