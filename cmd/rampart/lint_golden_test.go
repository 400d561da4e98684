package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/findings/findingstest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/lint")

// repoRoot is the repository root, where lint is usually run from; call
// it before t.Chdir.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// normalize replaces what changes between runs and machines: times,
// durations, rampart's version and the working directory's file URI.
func normalize(b []byte, root string) []byte {
	s := string(b)
	rootURI := (&url.URL{Scheme: "file", Path: filepath.ToSlash(root)}).String()
	if !strings.HasPrefix(rootURI, "file:///") {
		rootURI = "file:///" + strings.TrimPrefix(rootURI, "file://")
	}
	s = strings.ReplaceAll(s, rootURI, "file:///SRCROOT")
	for _, re := range []struct{ re, with string }{
		{`"(started|finished|startTimeUtc|endTimeUtc)": "[^"]*"`, `"$1": "TIME"`},
		{`"version": "` + regexp.QuoteMeta(version) + `"`, `"version": "VERSION"`},
		{`(?m)^(inputs \d+, rules \d+) in \S+$`, `$1 in DURATION`},
		{`(<testsuite [^>]*)time="[^"]*"`, `${1}time="DURATION"`},
	} {
		s = regexp.MustCompile(re.re).ReplaceAllString(s, re.with)
	}
	return []byte(s)
}

// goldenFile compares got with cmd/rampart/testdata/lint/name under
// root, or rewrites it with -update.
func goldenFile(t *testing.T, root, name string, got []byte) {
	t.Helper()
	path := filepath.Join(root, "cmd", "rampart", "testdata", "lint", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("testdata/lint/%s differs from the output (go test -run TestLintGolden -update, then review the diff):\n%s", name, got)
	}
}

// TestLintGolden runs rampart lint from the repository root on a spec, a
// config and a Go package checked against each other, the report on
// stdout as text and through --output as JSON, SARIF and JUnit, and
// compares each with its golden file. The SARIF log validates against
// the OASIS schema with its paths relative to %SRCROOT%; the JUnit XML
// is well formed with one failure per finding.
func TestLintGolden(t *testing.T) {
	root := repoRoot(t)
	out := t.TempDir()
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	args := []string{"lint", "--spec", "internal/lint/configlint/testdata/combined-openapi.yaml", "--go", "./cmd/rampart/testdata/lint/gocode",
		"--output", filepath.Join(out, "r.json"), "--output", filepath.Join(out, "r.sarif"), "--output", filepath.Join(out, "r.xml"),
		"--color", "always", // colour goes to stdout only, never to --output files
		"internal/lint/configlint/testdata/combined.yaml"}
	if code := run(args, &stdout, &stderr); code != exitFailure {
		t.Fatalf("lint = %d, want %d (findings); stderr: %s", code, exitFailure, stderr.String())
	}
	colored := stdout.Bytes()
	plain := regexp.MustCompile("\x1b\\[[0-9;]*m").ReplaceAll(colored, nil)
	if bytes.Equal(plain, colored) {
		t.Error("--color always: no colour on stdout")
	}
	goldenFile(t, root, "combined.text", normalize(plain, root))
	files := map[string][]byte{}
	for _, name := range []string{"json", "sarif", "xml"} {
		b, err := os.ReadFile(filepath.Join(out, "r."+name))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("\x1b[")) {
			t.Errorf("--output r.%s holds escape sequences", name)
		}
		files[name] = b
		goldenFile(t, root, "combined."+name, normalize(b, root))
	}

	var rep findings.Report
	if err := json.Unmarshal(files["json"], &rep); err != nil {
		t.Fatal(err)
	}
	checkers := map[string]int{}
	for _, f := range rep.Findings {
		checkers[strings.Split(f.RuleID, ".")[2]]++
		if f.Location == nil || strings.HasPrefix(f.Location.File, "/") || strings.HasPrefix(f.Location.File, "..") {
			t.Errorf("%s: location %+v, want a path relative to the repository root", f.RuleID, f.Location)
		}
	}
	if checkers["spec"] == 0 || checkers["go"] == 0 || checkers["config"] == 0 {
		t.Errorf("findings by checker = %v, want spec, go and config findings", checkers)
	}

	findingstest.ValidateSARIF(t, files["sarif"])
	var log struct {
		Runs []struct {
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				PartialFingerprints map[string]string `json:"partialFingerprints"`
				Locations           []struct {
					PhysicalLocation struct {
						ArtifactLocation struct {
							URI       string `json:"uri"`
							URIBaseID string `json:"uriBaseId"`
						} `json:"artifactLocation"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(files["sarif"], &log); err != nil {
		t.Fatal(err)
	}
	if got := log.Runs[0].OriginalURIBaseIDs["%SRCROOT%"].URI; !strings.HasSuffix(got, "/") || !strings.HasPrefix(got, "file:///") {
		t.Errorf("%%SRCROOT%% = %q, want the working directory's file URI ending in /", got)
	}
	if len(log.Runs[0].Results) != len(rep.Findings) {
		t.Errorf("SARIF has %d results, JSON %d findings", len(log.Runs[0].Results), len(rep.Findings))
	}
	for _, res := range log.Runs[0].Results {
		a := res.Locations[0].PhysicalLocation.ArtifactLocation
		if a.URIBaseID != "%SRCROOT%" || strings.Contains(a.URI, ":") || strings.HasPrefix(a.URI, "/") {
			t.Errorf("artifact %+v, want a relative URI on %%SRCROOT%%", a)
		}
		if res.PartialFingerprints["rampartFingerprint/v1"] == "" {
			t.Errorf("result at %s has no partial fingerprint", a.URI)
		}
	}

	var suite struct {
		XMLName  xml.Name `xml:"testsuite"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Type string `xml:"type,attr"`
			} `xml:"failure"`
		} `xml:"testcase"`
	}
	if err := xml.Unmarshal(files["xml"], &suite); err != nil {
		t.Fatalf("JUnit is not well-formed XML: %v", err)
	}
	failed := 0
	for _, c := range suite.Cases {
		if c.Failure != nil {
			failed++
			if _, err := findings.ParseSeverity(c.Failure.Type); err != nil {
				t.Errorf("JUnit case %s: failure type %q is not a severity", c.Name, c.Failure.Type)
			}
		}
	}
	if failed != len(rep.Findings) || suite.Failures != failed || suite.Tests != len(suite.Cases) {
		t.Errorf("JUnit: %d failed cases, failures=%d, tests=%d of %d cases; want one failure per finding (%d)",
			failed, suite.Failures, suite.Tests, len(suite.Cases), len(rep.Findings))
	}
}

// TestLintPaths: a file named by an absolute path inside the working
// directory is reported relative to it (a relative URI on %SRCROOT% in
// SARIF); one outside keeps its absolute path (an absolute file:// URI
// without uriBaseId).
func TestLintPaths(t *testing.T) {
	root := repoRoot(t)
	outside := t.TempDir()
	cfgData, err := os.ReadFile(filepath.Join(root, "internal", "lint", "configlint", "testdata", "combined.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(outside, "rampart.yaml")
	if err := os.WriteFile(cfg, cfgData, 0o600); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(root, "internal", "lint", "configlint", "testdata", "combined-openapi.yaml")
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"lint", "--format", "sarif", "--fail-on", "critical", "--output", filepath.Join(outside, "r.json"), "--spec", spec, cfg}, &stdout, &stderr); code != exitOK {
		t.Fatalf("lint = %d; stderr: %s", code, stderr.String())
	}
	findingstest.ValidateSARIF(t, stdout.Bytes())
	jsonOut, err := os.ReadFile(filepath.Join(outside, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep findings.Report
	if err := json.Unmarshal(jsonOut, &rep); err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	for _, f := range rep.Findings {
		files[f.Location.File] = true
	}
	wantIn, wantOut := "internal/lint/configlint/testdata/combined-openapi.yaml", filepath.ToSlash(cfg)
	if !files[wantIn] || !files[wantOut] || len(files) != 2 {
		t.Errorf("finding files = %v, want %s (absolute inside the working directory: relative) and %s (outside: absolute)", files, wantIn, wantOut)
	}
	sarif := stdout.String()
	inURI := `"uri": "` + wantIn + `",
                  "uriBaseId": "%SRCROOT%"`
	outURI := `"uri": "` + (&url.URL{Scheme: "file", Path: filepath.ToSlash(cfg)}).String() + `"
`
	if !strings.Contains(sarif, inURI) || !strings.Contains(sarif, outURI) {
		t.Errorf("SARIF lacks %s or %s:\n%s", inURI, outURI, sarif)
	}
}

// TestLintGoDirPaths: Go findings name their files from the working
// directory, whatever --go-dir the packages were loaded from (a
// regression: they were relative to --go-dir, so every report named a
// file that is not there).
func TestLintGoDirPaths(t *testing.T) {
	root := repoRoot(t)
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"lint", "--format", "json", "--fail-on", "critical", "--go-dir", "cmd/rampart/testdata/lint/gocode", "--go", "."}, &stdout, &stderr); code != exitOK {
		t.Fatalf("lint = %d; stderr: %s", code, stderr.String())
	}
	var rep findings.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 {
		t.Fatal("no Go findings on the golden's Go code")
	}
	for _, f := range rep.Findings {
		if f.Location == nil || f.Location.File != "cmd/rampart/testdata/lint/gocode/api.go" {
			t.Errorf("%s at %+v, want cmd/rampart/testdata/lint/gocode/api.go", f.RuleID, f.Location)
		}
	}
}

// TestLintColor: --color decides colour on stdout; auto into a pipe (a
// buffer here) is off, and non-text formats never carry colour.
func TestLintColor(t *testing.T) {
	cfg := filepath.Join("..", "..", "internal", "lint", "configlint", "testdata", "combined.yaml")
	esc := []byte("\x1b[")
	for _, tc := range []struct {
		args  []string
		color bool
	}{
		{[]string{}, false},
		{[]string{"--color", "auto"}, false},
		{[]string{"--color", "never"}, false},
		{[]string{"--color", "always"}, true},
		{[]string{"--color", "always", "--format", "json"}, false},
		{[]string{"--color", "always", "--format", "sarif"}, false},
		{[]string{"--color", "always", "--format", "junit"}, false},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append(append([]string{"lint", "--fail-on", "critical"}, tc.args...), cfg), &stdout, &stderr); code != exitOK {
			t.Fatalf("lint %v = %d: %s", tc.args, code, stderr.String())
		}
		if got := bytes.Contains(stdout.Bytes(), esc); got != tc.color {
			t.Errorf("lint %v: colour %v, want %v", tc.args, got, tc.color)
		}
	}
	for _, args := range [][]string{{"lint", cfg}, {"scan", "--spec", cfg}} {
		var stdout, stderr bytes.Buffer
		if code := run(append(args, "--color", "sometimes"), &stdout, &stderr); code != exitUsage || !strings.Contains(stderr.String(), "--color") {
			t.Errorf("%v --color sometimes = %d, %q; want a usage error naming --color", args, code, stderr.String())
		}
	}
}

// lintJSON runs rampart lint from the repository root with args and
// returns its JSON report and exit code.
func lintJSON(t *testing.T, root string, args ...string) (findings.Report, int) {
	t.Helper()
	t.Chdir(root)
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"lint", "--format", "json"}, args...), &stdout, &stderr)
	var rep findings.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("lint %v = %d, no JSON report: %v; stderr: %s", args, code, err, stderr.String())
	}
	return rep, code
}

// TestLintDemo pins what rampart lint finds on the demo's spec, the
// demo's Go API and the demo's config, checked against each other (the
// command README.md shows): one line per finding in demo.golden, which
// docs/lint.md walks through. -update rewrites it; review the diff.
func TestLintDemo(t *testing.T) {
	root := repoRoot(t)
	rep, code := lintJSON(t, root, "--spec", "internal/demo/openapi.yaml", "--go", "./internal/demo", "internal/demo/rampart.yaml")
	if code != exitFailure {
		t.Errorf("exit code %d, want %d (the demo has high findings)", code, exitFailure)
	}
	var b strings.Builder
	for _, f := range rep.Findings {
		loc := ""
		if f.Location != nil {
			loc = fmt.Sprintf("%s:%d", f.Location.File, f.Location.Line)
		}
		fmt.Fprintf(&b, "%-8s %-44s %-36s %s %s %s\n", f.Severity, f.RuleID, loc, f.Method, f.PathTemplate, f.Key)
	}
	goldenFile(t, root, "demo.golden", []byte(b.String()))
	byChecker := map[string]int{}
	for _, f := range rep.Findings {
		byChecker[strings.Split(f.RuleID, ".")[2]]++
	}
	for _, c := range []string{"spec", "go", "config"} {
		if byChecker[c] == 0 {
			t.Errorf("no %s findings on the demo: %v", c, byChecker)
		}
	}
}

// TestLintClean: on the clean example (testdata/lint/clean: a spec, the
// gateway config that guards it and the Go code that serves it) rampart
// lint finds nothing, having read all three.
func TestLintClean(t *testing.T) {
	root := repoRoot(t)
	dir := "cmd/rampart/testdata/lint/clean/"
	rep, code := lintJSON(t, root, "--fail-on", "info", "--spec", dir+"openapi.yaml", "--go", "./"+dir+"api", dir+"rampart.yaml")
	if code != exitOK || len(rep.Findings) != 0 {
		t.Errorf("exit code %d, findings %+v; want none", code, rep.Findings)
	}
	if rep.Stats["inputs"] != 3 || len(rep.Notes) != 0 {
		t.Errorf("stats %v, notes %q: want the three inputs read and no note", rep.Stats, rep.Notes)
	}
}
