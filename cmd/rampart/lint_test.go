package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/findings"
)

// TestLint runs rampart lint end to end on a spec and a config checked
// against each other: every checker's findings in one report, the exit
// code by --fail-on, the settings file, and the usage errors.
func TestLint(t *testing.T) {
	cfg := filepath.Join("..", "..", "internal", "lint", "configlint", "testdata", "combined.yaml")
	spec := filepath.Join("..", "..", "internal", "lint", "configlint", "testdata", "combined-openapi.yaml")
	lintJSON := func(t *testing.T, want int, args ...string) *findings.Report {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(append([]string{"lint", "--format", "json"}, args...), &out, &errOut); code != want {
			t.Fatalf("lint %v = %d, want %d; stderr: %s", args, code, want, errOut.String())
		}
		var r findings.Report
		if err := json.Unmarshal(out.Bytes(), &r); err != nil {
			t.Fatalf("lint %v: %v\n%s", args, err, out.String())
		}
		return &r
	}
	r := lintJSON(t, exitFailure, "--spec", spec, cfg)
	kinds := map[string]int{}
	for _, f := range r.Findings {
		kinds[strings.Split(f.RuleID, ".")[2]]++
		if f.Location == nil || f.Location.Line == 0 {
			t.Errorf("%s has no line: %+v", f.RuleID, f.Location)
		}
	}
	if kinds["spec"] == 0 || kinds["config"] == 0 {
		t.Errorf("findings by checker = %v, want spec and config findings", kinds)
	}
	if !r.Complete {
		t.Errorf("report incomplete: %s", r.StopReason)
	}

	// --fail-on above every finding: exit 0.
	lintJSON(t, exitOK, "--fail-on", "critical", "--spec", spec, cfg)

	// Settings: every config rule off.
	dir := t.TempDir()
	settings := filepath.Join(dir, "lint.yaml")
	if err := os.WriteFile(settings, []byte("rules:\n  rampart.lint.config: off\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = lintJSON(t, exitOK, "--settings", settings, "--fail-on", "critical", "--spec", spec, cfg)
	for _, f := range r.Findings {
		if strings.HasPrefix(f.RuleID, "rampart.lint.config.") {
			t.Fatalf("config rule %s reported with every config rule off", f.RuleID)
		}
	}

	var out, errOut bytes.Buffer
	if code := run([]string{"lint", "--list-rules"}, &out, &errOut); code != exitOK {
		t.Fatalf("--list-rules = %d: %s", code, errOut.String())
	}
	for _, id := range []string{"rampart.lint.spec.numeric-id", "rampart.lint.go.sqlinjection", "rampart.lint.config.public-write"} {
		if !strings.Contains(out.String(), id) {
			t.Errorf("--list-rules lacks %s", id)
		}
	}

	swagger := filepath.Join(dir, "swagger.yaml")
	if err := os.WriteFile(swagger, []byte("swagger: \"2.0\"\ninfo: {title: x, version: \"1\"}\npaths: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("#\n"), 8<<20+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{nil, exitUsage, "lint needs a FILE"},
		{[]string{"--format", "pdf", cfg}, exitUsage, "--format"},
		{[]string{"--fail-on", "severe", cfg}, exitUsage, "--fail-on"},
		{[]string{spec, spec}, exitUsage, "one OpenAPI spec"},
		{[]string{swagger}, exitFailure, "Swagger 2.0"},
		{[]string{filepath.Join(dir, "missing.yaml")}, exitFailure, "missing.yaml"},
		{[]string{big}, exitFailure, "larger than 16 MiB"},
	} {
		out.Reset()
		errOut.Reset()
		if code := run(append([]string{"lint"}, tc.args...), &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
			t.Errorf("lint %v = %d, %q; want %d and %q", tc.args, code, errOut.String(), tc.code, tc.msg)
		}
	}
}

// TestLintSettingsUnreadable: a .rampart-lint.yaml that is there but
// cannot be read (a broken link) stops the run instead of being taken for
// no settings.
func TestLintSettingsUnreadable(t *testing.T) {
	spec, err := filepath.Abs(filepath.Join("..", "..", "internal", "demo", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(filepath.Join(dir, "gone.yaml"), filepath.Join(dir, ".rampart-lint.yaml")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var out, errOut bytes.Buffer
	if code := run([]string{"lint", "--fail-on", "critical", spec}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), ".rampart-lint.yaml") {
		t.Errorf("lint with a broken settings link = %d, %q; want exit 2 naming the file", code, errOut.String())
	}
}

// TestLintSettingsInvalid: a settings file with an unknown key or a bad
// severity is a usage error (exit 2, like a bad flag), naming the file,
// line and column, never findings (exit 1) nor a silent default.
func TestLintSettingsInvalid(t *testing.T) {
	spec, err := filepath.Abs(filepath.Join("..", "..", "internal", "demo", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{
		"unknown key":  "fail-on: high\nrulez: {}\n",
		"bad severity": "rules:\n  rampart.lint.spec: loud\n",
		"unknown rule": "rules:\n  rampart.lint.nothing: off\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "lint.yaml")
			if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			var out, errOut bytes.Buffer
			if code := run([]string{"lint", "--settings", file, spec}, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "lint.yaml:") {
				t.Errorf("lint --settings (%s) = %d, %q; want exit 2 naming the file and line", name, code, errOut.String())
			}
		})
	}
}

func TestSpecFirst(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want bool
	}{
		{"openapi: 3.0.3\n", true},
		{"\ufeffopenapi: 3.1.0\n", true},
		{"# a spec\n# by us\nopenapi: 3.0.3\n", true},
		{`{"openapi": "3.0.3"}`, true},
		{"{\n  \"openapi\" : \"3.0.3\"}", true},
		{"'openapi': 3.0.3\n", true},
		{"version: 1\nroutes: [{openapi: {spec: a.yaml}}]\n", false},
		{"info: {}\nopenapi: 3.0.3\n", false}, // found by the index instead
		{"openapix: 1\n", false},
		{"x: |\n  openapi: 3\n", false},
	} {
		if got := specFirst.MatchString(tc.doc); got != tc.want {
			t.Errorf("specFirst(%q) = %v, want %v", tc.doc, got, tc.want)
		}
	}
}
