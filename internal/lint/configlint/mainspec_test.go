package configlint_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/lint/configlint"
)

// TestRouteSpecIsMainSpec: `rampart
// lint openapi.yaml bad.yaml` must find what `rampart lint bad.yaml`
// finds. checkRouteSpecs skips a route whose spec is --spec as "compared
// already", but checkSpec compares under one common base path ("" when
// the servers disagree, as here: /v1 and /v2) and ignores the pinned
// operation, so the public route on a secured operation and the method
// outside the pinned operation go unreported (and every route is "not
// in spec" instead).
func TestRouteSpecIsMainSpec(t *testing.T) {
	rules := []string{configlint.RuleNotInSpec, configlint.RuleWeakerThanSpec}
	file := "testdata/routespec/bad.yaml"
	in := input(t, file, "testdata/routespec/openapi.yaml")
	specs, err := configlint.LoadRouteSpecs(context.Background(), in.Config, file, in.ConfigIndex)
	if err != nil {
		t.Fatal(err)
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
	for _, r := range rules {
		name := strings.TrimPrefix(r, configlint.Prefix)
		for _, at := range marked(t, file, name) {
			want = append(want, at+" "+name)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("with --spec the same file: findings %v, want %v\n%s", got, want, strings.Join(msgs, "\n"))
	}
}
