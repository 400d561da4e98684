package lint

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/findings"
)

func sev(s findings.Severity) *findings.Severity { return &s }

func TestParseSettings(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Settings
	}{
		{"empty", "", &Settings{File: "s.yaml"}},
		{"comments only", "# nothing\n", &Settings{File: "s.yaml"}},
		{"all", `fail-on: medium
rules:
  rampart.lint.spec.numeric-id: off
  rampart.lint.spec: LOW
exclude:
  - testdata/**
  - ./vendor/
`, &Settings{File: "s.yaml", FailOn: sev(findings.Medium),
			Rules: []RuleSetting{{Match: "rampart.lint.spec.numeric-id", Off: true, Line: 3, Column: 3},
				{Match: "rampart.lint.spec", Severity: findings.Low, Line: 4, Column: 3}},
			Exclude: []string{"testdata/**", "vendor"}}},
		{"flow style", `{rules: {rampart.lint.go: critical}, exclude: [a, b/*.go]}`, &Settings{File: "s.yaml",
			Rules:   []RuleSetting{{Match: "rampart.lint.go", Severity: findings.Critical, Line: 1, Column: 10}},
			Exclude: []string{"a", "b/*.go"}}},
		{"json", `{"fail-on": "info", "exclude": []}`, &Settings{File: "s.yaml", FailOn: sev(findings.Info)}},
		{"null sections", "rules:\nexclude:\n", &Settings{File: "s.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSettings("s.yaml", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestParseSettingsErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"unknown key", "fail-on: high\nrulez: {}\n", `s.yaml:2:1: unknown key "rulez"`},
		{"bad severity", "fail-on: severe\n", `s.yaml:1:1: fail-on: unknown severity "severe"`},
		{"fail-on list", "fail-on: [high]\n", "s.yaml:1:1: fail-on must be a single value"},
		{"rule value", "rules:\n  rampart.lint.spec: disabled\n", `s.yaml:2:3: rules.rampart.lint.spec: want off or a severity`},
		{"rule value mapping", "rules:\n  rampart.lint.spec: {off: true}\n", "s.yaml:2:3: rules.rampart.lint.spec must be a single value"},
		{"rules list", "rules:\n  - rampart.lint.spec\n", "s.yaml:1:1: rules must be a mapping"},
		{"rules scalar", "rules: all\n", "s.yaml:1:1: rules must be a mapping"},
		{"bad id", "rules:\n  rampart..spec: off\n", `s.yaml:2:3: rules: "rampart..spec" is not a rule id`},
		{"exclude scalar", "exclude: vendor\n", "s.yaml:1:1: exclude must be a list of paths"},
		{"exclude mapping", "exclude:\n  vendor: true\n", "s.yaml:1:1: exclude must be a list of paths, not a mapping"},
		{"exclude absolute", "exclude:\n  - /etc\n", `s.yaml:2:5: exclude "/etc": want a slash-separated path`},
		{"exclude up", "exclude:\n  - ../x\n", "s.yaml:2:5: exclude \"../x\": a pattern cannot leave"},
		{"exclude bad glob", "exclude:\n  - 'a/[b'\n", `s.yaml:2:5: exclude "a/[b": syntax error in pattern`},
		{"exclude nested", "exclude:\n  - [a]\n", "s.yaml:2:5: exclude entry must be a single value"},
		{"not yaml", "rules: [\n", "s.yaml:"},
		{"not a mapping", "- a\n", "s.yaml:1:1: the document must be a JSON or YAML object"},
		{"duplicate key", "fail-on: low\nfail-on: high\n", "s.yaml:2:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseSettings("s.yaml", []byte(tt.in))
			var se *SettingsError
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *SettingsError", err)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %q, want it to start with %q", err, tt.want)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("fail-on: low\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadSettings(good)
	if err != nil || s.FailOn == nil || *s.FailOn != findings.Low || s.File != good {
		t.Fatalf("got %+v, %v", s, err)
	}
	if _, err := LoadSettings(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("#"+strings.Repeat("x", maxSettingsBytes)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSettings(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: got %v", err)
	}
}

func TestExcluded(t *testing.T) {
	s := &Settings{Exclude: []string{"vendor", "testdata/**/*.yaml", "gen/*.go", "**/mocks"}}
	tests := map[string]bool{
		"vendor/a/b.go":            true,
		"vendor":                   true,
		"vendors/a.go":             false,
		"testdata/x.yaml":          true,
		"testdata/a/b/x.yaml":      true,
		"testdata/a/b/x.json":      false,
		"gen/a.go":                 true,
		"gen/sub/a.go":             false, // gen/*.go names files, not gen/sub
		"src/gen/a.go":             false,
		"a/b/mocks/m.go":           true,
		"./vendor/x.go":            true,
		"api/openapi.yaml":         false,
		"internal/mockster/m.go":   false,
		"internal/x/mocks":         true,
		"internal/x/mocks.go":      false,
		"testdata/sub/dir/file.go": false,
	}
	for file, want := range tests {
		if got := s.Excluded(file); got != want {
			t.Errorf("Excluded(%q) = %v, want %v", file, got, want)
		}
	}
	if (&Settings{}).Excluded("a") {
		t.Error("no patterns excluded a file")
	}
}

func TestSettingsCheck(t *testing.T) {
	rules := []findings.Rule{{ID: "rampart.lint.spec.numeric-id"}, {ID: "rampart.lint.go.sql"}}
	ok := &Settings{Rules: []RuleSetting{{Match: "rampart.lint.spec"}, {Match: "rampart.lint.go.sql"}, {Match: "rampart"}}}
	if err := ok.Check(rules); err != nil {
		t.Error(err)
	}
	for _, m := range []string{"rampart.lint.spec.numeric", "rampart.lint.spe", "rampart.lint.config"} {
		s := &Settings{File: "s.yaml", Rules: []RuleSetting{{Match: m, Line: 4, Column: 3}}}
		err := s.Check(rules)
		want := `s.yaml:4:3: rules: "` + m + `" matches no rule`
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %s", m, err, want)
		}
	}
}

// FuzzParseSettings: any input gives settings or a *SettingsError, never a
// panic; an error names the file.
func FuzzParseSettings(f *testing.F) {
	for _, s := range []string{"", "fail-on: high\n", "rules:\n  rampart.lint.spec: off\n  rampart.lint.go.x: low\n",
		"exclude: [a, 'b/**', c/*.go]\n", "{rules: [1, 2]}", "exclude:\n  - ../x\n", "a: &x [*x]\n", "rules: {a.b: {c: d}}\n",
		"\xff\xfe", "fail-on: !!binary aGk=\n", "rules:\n  \"rampart.lint.spec~1x\": off\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSettings("f.yaml", data)
		if err != nil {
			var se *SettingsError
			if !errors.As(err, &se) || !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error %v is not a *SettingsError naming the file", err)
			}
			return
		}
		for _, rs := range s.Rules {
			if !validRuleMatch(rs.Match) {
				t.Fatalf("accepted rule match %q", rs.Match)
			}
		}
		for _, p := range s.Exclude {
			if checkPattern(p) != nil {
				t.Fatalf("accepted pattern %q", p)
			}
			s.Excluded(p)
		}
	})
}
