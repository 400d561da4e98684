package configlint_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/demo"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/findings/findingstest"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/lint/configlint"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// input loads a config (and a spec, when specPath is not "") the way
// rampart lint does.
func input(t *testing.T, cfgPath, specPath string) *lint.Input {
	t.Helper()
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _, err := config.Parse(cfgPath, data)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	idx, err := yamlpos.New(data)
	if err != nil {
		t.Fatalf("index: %v", err)
	}
	in := &lint.Input{Config: cfg, ConfigFile: cfgPath, ConfigIndex: idx}
	if specPath != "" {
		in.Spec, err = openapi.Load(context.Background(), specPath, openapi.Options{})
		if err != nil {
			t.Fatalf("spec: %v", err)
		}
	}
	return in
}

func check(t *testing.T, in *lint.Input) []findings.Finding {
	t.Helper()
	fs, _, err := configlint.Checker{}.Check(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

var wantMark = regexp.MustCompile(`#\s*want:\s*([a-z-]+)`)

// marked returns the "file:line" of every line of file marked
// "# want: RULE".
func marked(t *testing.T, file, rule string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		for _, m := range wantMark.FindAllStringSubmatch(line, -1) {
			if m[1] == rule {
				out = append(out, fmt.Sprintf("%s:%d", file, i+1))
			}
		}
	}
	return out
}

// TestRules runs every rule on its testdata: in bad.yaml it fires exactly
// on the lines marked "# want: RULE" (in the config, or in openapi.yaml
// for findings located in the spec); in good.yaml, the fixed twin, it is
// silent.
func TestRules(t *testing.T) {
	for _, r := range (configlint.Checker{}).Rules() {
		name := strings.TrimPrefix(r.ID, configlint.Prefix)
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "rules", name)
			spec := filepath.Join(dir, "openapi.yaml")
			if _, err := os.Stat(spec); err != nil {
				spec = ""
			}
			for _, c := range []string{"bad", "good"} {
				cfg := filepath.Join(dir, c+".yaml")
				var got []string
				for _, f := range check(t, input(t, cfg, spec)) {
					if f.RuleID != r.ID {
						continue
					}
					if f.Location == nil || f.Location.Line == 0 {
						t.Fatalf("%s: finding without a line: %+v", c, f)
					}
					got = append(got, fmt.Sprintf("%s:%d", f.Location.File, f.Location.Line))
				}
				var want []string
				if c == "bad" {
					want = marked(t, cfg, name)
					if spec != "" {
						want = append(want, marked(t, spec, name)...)
					}
					if len(want) == 0 {
						t.Fatalf("%s marks no line with # want: %s", cfg, name)
					}
				}
				slices.Sort(got)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("%s: findings at %v, want %v", cfg, got, want)
				}
			}
		})
	}
}

// TestRulesComplete checks the rule table: ids under the prefix, every
// field filled, and testdata for each.
func TestRulesComplete(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range (configlint.Checker{}).Rules() {
		if !strings.HasPrefix(r.ID, configlint.Prefix) || seen[r.ID] {
			t.Errorf("bad or duplicate id %q", r.ID)
		}
		seen[r.ID] = true
		if r.Name == "" || r.Description == "" || r.Help == "" || r.OWASP == "" || r.Severity == findings.Info {
			t.Errorf("%s: incomplete rule %+v", r.ID, r)
		}
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !seen[configlint.Prefix+e.Name()] {
			t.Errorf("testdata/rules/%s is no rule's", e.Name())
		}
	}
}

func TestClean(t *testing.T) {
	for _, spec := range []string{"", "testdata/clean-openapi.yaml"} {
		if fs := check(t, input(t, "testdata/clean.yaml", spec)); len(fs) != 0 {
			t.Errorf("spec %q: clean config has findings: %+v", spec, fs)
		}
	}
}

func TestNotes(t *testing.T) {
	_, notes, err := configlint.Checker{}.Check(context.Background(), &lint.Input{})
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "no Rampart config") {
		t.Errorf("no config: notes %q, err %v", notes, err)
	}
	_, notes, _ = configlint.Checker{}.Check(context.Background(), input(t, "testdata/clean.yaml", ""))
	if len(notes) != 1 || !strings.Contains(notes[0], "--spec") {
		t.Errorf("no spec: notes %q", notes)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := (configlint.Checker{}).Check(ctx, input(t, "testdata/clean.yaml", "")); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestGolden renders in text, JSON and SARIF the findings of one config
// that breaks every rule but audit-not-synced (which audit-off excludes),
// checked against combined-openapi.yaml, together with those of a second
// config that breaks audit-not-synced alone.
func TestGolden(t *testing.T) {
	fs := check(t, input(t, "testdata/combined.yaml", "testdata/combined-openapi.yaml"))
	audit := check(t, input(t, "testdata/combined-audit.yaml", ""))
	if got := summary(audit); len(got) != 1 || !strings.Contains(got[0], " audit-not-synced") {
		t.Errorf("combined-audit.yaml: findings %q, want audit-not-synced alone", got)
	}
	fs = append(fs, audit...)
	rep := &findings.Report{Tool: "rampart lint", Version: "test", Target: "testdata/combined.yaml, testdata/combined-audit.yaml",
		Started:  time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Finished: time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC), Complete: true,
		Rules: configlint.Checker{}.Rules(), Findings: fs}
	rep.Finalize()
	fired := map[string]bool{}
	for _, f := range fs {
		fired[f.RuleID] = true
	}
	for _, r := range rep.Rules {
		if !fired[r.ID] {
			t.Errorf("combined.yaml and combined-audit.yaml do not break %s", r.ID)
		}
	}
	for _, f := range []findings.Format{findings.Text, findings.JSON, findings.SARIF} {
		var b bytes.Buffer
		if err := findings.Write(&b, f, rep); err != nil {
			t.Fatal(err)
		}
		golden := filepath.Join("testdata", "combined."+string(f))
		if *update {
			if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs from the output (go test -update to rewrite):\n%s", golden, b.String())
		}
	}
}

// summary is "line rule-name" per finding, sorted.
func summary(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		line := 0
		if f.Location != nil {
			line = f.Location.Line
		}
		out = append(out, fmt.Sprintf("%s:%d %s %s", f.Location.File, line, strings.TrimPrefix(f.RuleID, configlint.Prefix), f.Key))
	}
	slices.Sort(out)
	return out
}

// TestExample checks the example config: what the checker finds in it is
// what docs/lint/config.md says.
func TestExample(t *testing.T) {
	got := summary(check(t, input(t, "../../../examples/rampart.yaml", "")))
	want := []string{}
	if !slices.Equal(got, want) {
		t.Errorf("examples/rampart.yaml: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDemo checks the demo's config, built in Go (so without lines), alone
// and against the demo's spec.
func TestDemo(t *testing.T) {
	cfg := demo.Config("127.0.0.1:8443", "127.0.0.1:9443", t.TempDir(), "127.0.0.1:9000", "keys.json")
	spec, err := openapi.LoadData(context.Background(), demo.Spec, "openapi.yaml", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		spec *openapi.Spec
		want []string
	}{
		// The demo's audit log is on without sync, and PUT /api/users/{id}
		// writes; GET /api/users returns every user's record with no DLP
		// (response_fields leave admins id, name, email and role).
		{nil, []string{"demo:0 audit-not-synced audit", "demo:0 dlp-off users"}},
		{spec, []string{"demo:0 audit-not-synced audit", "demo:0 dlp-off users"}},
	} {
		got := summary(check(t, &lint.Input{Config: cfg, ConfigFile: "demo", Spec: c.spec}))
		if !slices.Equal(got, c.want) {
			t.Errorf("demo (spec %v): got\n%s\nwant\n%s", c.spec != nil, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// TestDLPWithSpec checks that dlp-off reads the response schema through
// nested objects and allOf, leaves writeOnly properties out, counts a
// property that a protect field names as covered, and does not take
// email_count for an e-mail address.
func TestDLPWithSpec(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"testdata/dlp-spec/bad.yaml", []string{`route "user" has no protect.dlp, and its responses in testdata/dlp-spec/openapi.yaml carry personal data: phone_number (phone).`}},
		{"testdata/dlp-spec/good.yaml", nil},
	} {
		var got []string
		for _, f := range check(t, input(t, c.file, "testdata/dlp-spec/openapi.yaml")) {
			got = append(got, f.Message)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.file, got, c.want)
		}
	}
}

// TestDLPResponseFields is the regression test for dlp-off ignoring
// authz.response_fields: a personal property that the lists let nobody
// see is not reported, one listed for some roles is reported naming
// them, a "*" list or a method whose own rule has no lists lets
// everything through; without a spec the listed names decide instead of
// the path.
func TestDLPResponseFields(t *testing.T) {
	const cfg = "testdata/dlp-fields/rampart.yaml"
	for _, c := range []struct {
		spec string
		want []string
	}{
		{"testdata/dlp-fields/openapi.yaml", []string{
			`admins: route "admins" has no protect.dlp, and its responses in testdata/dlp-fields/openapi.yaml carry personal data: email (email, to admin), phone_number (phone, to admin).`,
			`star: route "star" has no protect.dlp, and its responses in testdata/dlp-fields/openapi.yaml carry personal data: email (email), phone_number (phone).`,
			`methods: route "methods" has no protect.dlp, and its responses in testdata/dlp-fields/openapi.yaml carry personal data: email (email).`,
		}},
		{"", []string{
			`admins: route "admins" has no protect.dlp, and its authz.response_fields let personal data through: email (email, to admin).`,
			`methods: route "methods" has no protect.dlp, and its path (/accounts) suggests personal data in its responses.`,
		}},
	} {
		var got []string
		for _, f := range check(t, input(t, cfg, c.spec)) {
			if f.RuleID == configlint.RuleDLPOff {
				got = append(got, f.Key+": "+f.Message)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("spec %q: got\n%s\nwant\n%s", c.spec, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// TestGoldenCoversEveryRule fails when a rule of the checker has no
// finding in the combined golden (testdata/combined.json), so that a new
// rule cannot go without a golden text, JSON and SARIF rendering: break it
// in combined.yaml (or, when it excludes a rule that breaks there, in
// combined-audit.yaml) and run go test -update.
func TestGoldenCoversEveryRule(t *testing.T) {
	file := filepath.Join("testdata", "combined.json")
	seen := findingstest.Covered(t, file)
	for _, r := range (configlint.Checker{}).Rules() {
		if !seen[r.ID] {
			t.Errorf("rule %s has no finding in %s", r.ID, file)
		}
	}
}
