package configlint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/lint/configlint"
)

const docFile = "../../../docs/lint/config.md"

// docMarker separates the hand-written part of docs/lint/config.md from
// the rule reference that TestDoc writes.
const docMarker = "<!-- Below: generated from the rules and their testdata by go test ./internal/lint/configlint -update. -->\n"

// TestDoc checks that docs/lint/config.md documents every rule with its
// id, severity, description, fix and the bad and good examples of its
// testdata (the lines where they differ, with context).
func TestDoc(t *testing.T) {
	data, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(data), docMarker)
	if !ok {
		t.Fatalf("%s lacks the marker %q", docFile, docMarker)
	}
	var b strings.Builder
	b.WriteString(head + docMarker + "\n")
	rs := configlint.Checker{}.Rules()
	b.WriteString("| rule | severity | OWASP | finds |\n|---|---|---|---|\n")
	for _, r := range rs {
		name := strings.TrimPrefix(r.ID, configlint.Prefix)
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.ID, name, r.Severity, r.OWASP, r.Name)
	}
	for _, r := range rs {
		name := strings.TrimPrefix(r.ID, configlint.Prefix)
		dir := filepath.Join("testdata", "rules", name)
		bad, good := readLines(t, filepath.Join(dir, "bad.yaml")), readLines(t, filepath.Join(dir, "good.yaml"))
		badEx, goodEx := excerpts(bad, good)
		fmt.Fprintf(&b, "\n<a id=\"%s\"></a>\n### %s\n\n`%s` · severity **%s** · %s\n\n%s\n\n**Fix:** %s\n\n",
			name, r.Name, r.ID, r.Severity, r.OWASP, r.Description, r.Help)
		fmt.Fprintf(&b, "Bad (internal/lint/configlint/%s/bad.yaml", filepath.ToSlash(dir))
		if _, err := os.Stat(filepath.Join(dir, "openapi.yaml")); err == nil {
			fmt.Fprintf(&b, ", checked against %s/openapi.yaml", filepath.ToSlash(dir))
		}
		fmt.Fprintf(&b, "; `# want` marks where the finding is reported):\n\n```yaml\n%s```\n\nGood:\n\n```yaml\n%s```\n", badEx, goodEx)
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(docFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(data) {
		t.Errorf("%s is out of date: go test ./internal/lint/configlint -update", docFile)
	}
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// excerpts returns the lines of a and of b that differ (by a longest
// common subsequence), each with two lines of context, "..." between
// the pieces; the first line (the file's comment) always.
func excerpts(a, b []string) (string, string) {
	n, m := len(a), len(b)
	lcs := make([][]int, n+1)
	for i := range lcs {
		lcs[i] = make([]int, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	da, db := make([]bool, n), make([]bool, m)
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && a[i] == b[j]:
			i, j = i+1, j+1
		case j < m && (i == n || lcs[i][j+1] >= lcs[i+1][j]):
			db[j] = true
			j++
		default:
			da[i] = true
			i++
		}
	}
	return show(a, da), show(b, db)
}

// show renders the marked lines of ls with context.
func show(ls []string, diff []bool) string {
	keep := make([]bool, len(ls))
	keep[0] = true
	for i, d := range diff {
		if !d || i == 0 {
			continue
		}
		for k := max(0, i-2); k <= min(len(ls)-1, i+2); k++ {
			keep[k] = true
		}
	}
	var b strings.Builder
	for i, l := range ls {
		if keep[i] {
			b.WriteString(l + "\n")
		} else if i > 0 && keep[i-1] {
			b.WriteString("...\n")
		}
	}
	return b.String()
}
