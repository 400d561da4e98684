package golint

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// The checker reports the analyzers' findings with the handler's
// operation, and the drift between the routes and the spec in both
// directions ({id} in the code matches {userId} in the spec).
func TestCheckerWithSpec(t *testing.T) {
	ctx := context.Background()
	spec, err := openapi.Load(ctx, "testdata/checkmod/openapi.yaml", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, notes, err := Checker{}.Check(ctx, &lint.Input{GoDir: "testdata/checkmod", GoPatterns: []string{"./..."}, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Errorf("notes: %q", notes)
	}
	var got []string
	for _, f := range fs {
		got = append(got, strings.Join([]string{f.RuleID, f.Method, f.PathTemplate, f.Location.File, itoa(f.Location.Line), itoa(f.Location.Column), f.Location.Pointer}, " "))
	}
	want := []string{
		"rampart.lint.go.sqlinjection GET /users/{id} api.go 12 19 ",
		"rampart.lint.go.undeclaredroute GET /debug/vars api.go 14 2 ",
		"rampart.lint.go.unimplementedoperation GET /orders testdata/checkmod/openapi.yaml 13 5 /paths/~1orders/get",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
	ids := map[string]bool{}
	for _, r := range (Checker{}).Rules() {
		ids[r.ID] = true
	}
	for _, f := range fs {
		if !ids[f.RuleID] || f.Key == "" {
			t.Errorf("finding %s: rule not in Rules() or no key", f.RuleID)
		}
	}
}

// Code that does not compile is an error naming the file, not a panic;
// no patterns is a note.
func TestCheckerInputs(t *testing.T) {
	ctx := context.Background()
	_, _, err := Checker{}.Check(ctx, &lint.Input{GoDir: "testdata/broken", GoPatterns: []string{"./..."}})
	if err == nil || !strings.Contains(err.Error(), "loading Go packages") || !strings.Contains(err.Error(), "broken.go:3") {
		t.Errorf("broken code: err = %v, want a load error naming broken.go:3", err)
	}
	fs, notes, err := Checker{}.Check(ctx, &lint.Input{})
	if err != nil || len(fs) != 0 || len(notes) != 1 {
		t.Errorf("no patterns: %v %q %v, want one note", fs, notes, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
