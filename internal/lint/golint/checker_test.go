package golint

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
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
		"rampart.lint.go.sqlinjection GET /users/{id} testdata/checkmod/api.go 12 19 ",
		"rampart.lint.go.undeclaredroute GET /debug/vars testdata/checkmod/api.go 14 2 ",
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

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestCheckerGolden runs the Checker (packages loaded, every analyzer,
// findings attributed to their routes) on every analyzer testdata
// package and compares its findings with testdata/checker.golden.json:
// rule, severity, operation, file relative to testdata/src, line,
// column, message and key, in the Checker's order. The packages are
// GOPATH-style (as analysistest reads them), so the test runs go/packages
// with GO111MODULE=off. go test -run TestCheckerGolden -update rewrites it.
func TestCheckerGolden(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("testdata", "src"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOPATH", filepath.Dir(src))
	t.Setenv("GO111MODULE", "off")
	t.Setenv("GOFLAGS", "")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, e := range entries {
		if e.IsDir() && !strings.Contains(e.Name(), ".") { // not the stand-ins under github.com
			patterns = append(patterns, "./"+e.Name())
		}
	}
	fs, _, err := Checker{}.Check(context.Background(), &lint.Input{GoDir: src, GoPatterns: patterns})
	if err != nil {
		t.Fatal(err)
	}
	type finding struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Method   string `json:"method,omitempty"`
		Path     string `json:"path,omitempty"`
		File     string `json:"file"`
		Line     int    `json:"line"`
		Column   int    `json:"column"`
		Message  string `json:"message"`
		Key      string `json:"key"`
	}
	got := []finding{}
	for _, f := range fs {
		// Files are named from the working directory (the package's),
		// not from the directory the packages were loaded in.
		file, ok := strings.CutPrefix(f.Location.File, "testdata/src/")
		if !ok {
			t.Errorf("%s: path %q not relative to the working directory", f.RuleID, f.Location.File)
		}
		got = append(got, finding{f.RuleID, f.Severity.String(), f.Method, f.PathTemplate, file, f.Location.Line, f.Location.Column, f.Message, f.Key})
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := filepath.Join("testdata", "checker.golden.json")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (go test -run TestCheckerGolden -update writes it)", err)
	}
	if d := cmp.Diff(string(want), string(b)); d != "" {
		t.Errorf("%s differs (go test -run TestCheckerGolden -update rewrites it; -want +got):\n%s", golden, d)
	}
}
