package speclint

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/findings/findingstest"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/golden, docs/lint/spec.md)")

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test -update and review the diff):\n%s", file, got)
	}
}

// TestGolden renders the combined spec's findings as text, JSON and
// SARIF and compares them with the golden files.
func TestGolden(t *testing.T) {
	const file = "testdata/combined.yaml"
	fs, notes := check(t, file)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rep := &findings.Report{Tool: "lint", Version: "test", Target: file, Started: start, Finished: start.Add(time.Second),
		Complete: true, Notes: notes, Rules: New().Rules(), Findings: fs}
	rep.Finalize()
	for _, f := range []findings.Format{findings.Text, findings.JSON, findings.SARIF} {
		var b bytes.Buffer
		if err := findings.Write(&b, f, rep); err != nil {
			t.Fatal(err)
		}
		golden(t, filepath.Join("testdata", "golden", "combined."+string(f)), b.Bytes())
	}
}

// TestDocs generates docs/lint/spec.md from the rule table and each
// rule's testdata twins, so that the documentation cannot drift from the
// rules.
func TestDocs(t *testing.T) {
	intro, err := os.ReadFile(filepath.Join("testdata", "doc-intro.md"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.Write(intro)
	b.WriteString("\n## Rules\n\n| Rule | Severity | OWASP | Spectral equivalent |\n|---|---|---|---|\n")
	for _, ru := range allRules {
		short := strings.TrimPrefix(ru.ID, rulePrefix)
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", ru.ID, anchor(ru.ID), ru.Severity, ru.OWASP, spectralList(ru.Spectral, ", "))
		_ = short
	}
	for _, ru := range allRules {
		short := strings.TrimPrefix(ru.ID, rulePrefix)
		fmt.Fprintf(&b, "\n### %s\n\n%s. Severity **%s**, %s, confidence %s. Spectral: %s.\n\n%s\n\n**Fix:** %s\n",
			ru.ID, ru.Name, ru.Severity, ru.OWASP, ru.Confidence, spectralList(ru.Spectral, ", "), ru.Description, ru.Help)
		for _, kind := range []string{"bad", "good"} {
			file := filepath.Join("testdata", "rules", short, kind+".yaml")
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			label := map[string]string{"bad": "Reported", "good": "Not reported"}[kind]
			fmt.Fprintf(&b, "\n%s (`internal/lint/speclint/%s`):\n\n```yaml\n%s```\n", label, filepath.ToSlash(file), src)
		}
	}
	golden(t, filepath.Join("..", "..", "..", "docs", "lint", "spec.md"), b.Bytes())
}

func spectralList(codes []string, sep string) string {
	if len(codes) == 0 {
		return "none (Rampart's own)"
	}
	q := make([]string, len(codes))
	for i, c := range codes {
		q[i] = "`" + c + "`"
	}
	return strings.Join(q, sep)
}

// anchor is the GitHub heading anchor of a rule id.
func anchor(id string) string { return strings.ReplaceAll(id, ".", "") }

// TestGoldenCoversEveryRule fails when a rule of the checker has no
// finding in the combined golden, so that a new rule cannot go without a
// golden text, JSON and SARIF rendering: add its bad case to
// testdata/combined.yaml and run go test -update.
func TestGoldenCoversEveryRule(t *testing.T) {
	seen := findingstest.Covered(t, filepath.Join("testdata", "golden", "combined.json"))
	for _, r := range New().Rules() {
		if !seen[r.ID] {
			t.Errorf("rule %s has no finding in testdata/golden/combined.json: add its bad case to testdata/combined.yaml", r.ID)
		}
	}
}
