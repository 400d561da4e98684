package golint

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/findings/findingstest"
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
// with GO111MODULE=off. The same findings, rendered as rampart lint
// renders them (with a fixed time), are pinned in
// testdata/checker.golden.text and testdata/checker.golden.sarif.
// go test -run TestCheckerGolden -update rewrites the three.
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
	fs, notes, err := Checker{}.Check(context.Background(), &lint.Input{GoDir: src, GoPatterns: patterns})
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
	golden(t, filepath.Join("testdata", "checker.golden.json"), b)
	// The same findings as rampart lint renders them.
	reportGolden(t, "checker", []findings.Format{findings.Text, findings.SARIF}, "testdata/src", fs, notes)
}

// TestCheckmodGolden renders the Checker's findings on testdata/checkmod
// with its spec, which the drift rules (undeclaredroute,
// unimplementedoperation) need, in text, JSON and SARIF:
// testdata/checkmod.golden.*. go test -run TestCheckmodGolden -update
// rewrites them.
func TestCheckmodGolden(t *testing.T) {
	ctx := context.Background()
	spec, err := openapi.Load(ctx, "testdata/checkmod/openapi.yaml", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, notes, err := Checker{}.Check(ctx, &lint.Input{GoDir: "testdata/checkmod", GoPatterns: []string{"./..."}, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	reportGolden(t, "checkmod", []findings.Format{findings.Text, findings.JSON, findings.SARIF},
		"testdata/checkmod/openapi.yaml, testdata/checkmod", fs, notes)
}

// reportGolden puts fs in a report with the Checker's rules and a fixed
// time, renders it in each format and compares it with
// testdata/<stem>.golden.<format>.
func reportGolden(t *testing.T, stem string, formats []findings.Format, target string, fs []findings.Finding, notes []string) {
	t.Helper()
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := &findings.Report{Tool: "lint", Version: "test", Target: target, Started: start, Finished: start.Add(time.Second),
		Complete: true, Notes: notes, Rules: Checker{}.Rules(), Findings: slices.Clone(fs)}
	rep.Finalize()
	for _, f := range formats {
		var b bytes.Buffer
		if err := findings.Write(&b, f, rep); err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", stem+".golden."+string(f)), b.Bytes())
	}
}

// golden compares got with the file, or rewrites the file with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs (go test -run %s -update rewrites it; -want +got):\n%s", file, t.Name(), d)
	}
}

// TestGoldenCoversEveryRule fails when a rule of the Checker has no
// finding in the goldens (testdata/checker.golden.json on the analyzer
// testdata, testdata/checkmod.golden.json with a spec), so that a new
// rule cannot go without golden text, JSON and SARIF renderings: give it
// a case in testdata/src/<rule>/ (or checkmod) and run go test -update.
func TestGoldenCoversEveryRule(t *testing.T) {
	// checker.golden.json is a list of its own shape, not a report.
	var checker []struct {
		Rule string `json:"rule"`
	}
	readJSON(t, filepath.Join("testdata", "checker.golden.json"), &checker)
	seen := findingstest.Covered(t, filepath.Join("testdata", "checkmod.golden.json"))
	for _, f := range checker {
		seen[f.Rule] = true
	}
	for _, r := range (Checker{}).Rules() {
		if !seen[r.ID] {
			t.Errorf("rule %s has no finding in testdata/checker.golden.json or testdata/checkmod.golden.json", r.ID)
		}
	}
}

func readJSON(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}
