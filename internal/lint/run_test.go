package lint

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/findings"
)

// fake is a checker that returns what it is told to.
type fake struct {
	name  string
	rules []findings.Rule
	fs    []findings.Finding
	notes []string
	err   error
	panic bool
}

func (f *fake) Name() string           { return f.name }
func (f *fake) Rules() []findings.Rule { return f.rules }
func (f *fake) Check(context.Context, *Input) ([]findings.Finding, []string, error) {
	if f.panic {
		panic("boom")
	}
	return f.fs, f.notes, f.err
}

func at(rule, file string, line int, sev findings.Severity) findings.Finding {
	return findings.Finding{RuleID: rule, Title: rule, Severity: sev, Message: "m",
		Location: &findings.Location{File: file, Line: line, Column: 1}}
}

var clock = func() time.Time { return time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC) }

func specChecker() *fake {
	return &fake{name: "spec",
		rules: []findings.Rule{{ID: "rampart.lint.spec.a", Severity: findings.High}, {ID: "rampart.lint.spec.b", Severity: findings.Low}},
		fs: []findings.Finding{at("rampart.lint.spec.a", "api.yaml", 9, findings.High), at("rampart.lint.spec.a", "api.yaml", 3, findings.High),
			at("rampart.lint.spec.b", "testdata/x.yaml", 1, findings.Low)},
		notes: []string{"one note"}}
}

func goChecker() *fake {
	return &fake{name: "go", rules: []findings.Rule{{ID: "rampart.lint.go.sql", Severity: findings.Critical}},
		fs: []findings.Finding{at("rampart.lint.go.sql", filepath.Join(must(filepath.Abs(".")), "db", "q.go"), 7, findings.Critical)}}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// summary is what a test compares: rule, file:line and severity.
func summary(r *findings.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.RuleID+" "+f.Location.File+":"+strconv.Itoa(f.Location.Line)+" "+f.Severity.String())
	}
	return out
}

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		settings  string
		want      []string
		wantRules []string
		wantNotes []string
	}{
		{"no settings", "", []string{
			"rampart.lint.go.sql db/q.go:7 critical",
			"rampart.lint.spec.a api.yaml:3 high", "rampart.lint.spec.a api.yaml:9 high",
			"rampart.lint.spec.b testdata/x.yaml:1 low"},
			[]string{"rampart.lint.go.sql", "rampart.lint.spec.a", "rampart.lint.spec.b"}, []string{"spec: one note"}},
		{"one rule off", "rules: {rampart.lint.spec.a: off}", []string{
			"rampart.lint.go.sql db/q.go:7 critical", "rampart.lint.spec.b testdata/x.yaml:1 low"},
			[]string{"rampart.lint.go.sql", "rampart.lint.spec.b"},
			[]string{"spec: one note", "1 rules turned off by s.yaml (2 findings dropped)"}},
		{"prefix severity, longest match wins", "rules: {rampart.lint.spec: medium, rampart.lint.spec.b: info, rampart.lint: low}", []string{
			"rampart.lint.spec.a api.yaml:3 medium", "rampart.lint.spec.a api.yaml:9 medium",
			"rampart.lint.go.sql db/q.go:7 low", "rampart.lint.spec.b testdata/x.yaml:1 info"},
			[]string{"rampart.lint.go.sql", "rampart.lint.spec.a", "rampart.lint.spec.b"}, []string{"spec: one note"}},
		{"exclude", "exclude: [testdata, db/*.go]", []string{
			"rampart.lint.spec.a api.yaml:3 high", "rampart.lint.spec.a api.yaml:9 high"},
			[]string{"rampart.lint.go.sql", "rampart.lint.spec.a", "rampart.lint.spec.b"},
			[]string{"spec: one note", "2 findings in paths excluded by s.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSettings("s.yaml", []byte(tt.settings))
			if err != nil {
				t.Fatal(err)
			}
			r, err := Run(context.Background(), &Input{ConfigFile: "rampart.yaml", GoPatterns: []string{"./..."}},
				[]Checker{specChecker(), goChecker()}, Options{Settings: s, Version: "v1", Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, summary(r)); d != "" {
				t.Errorf("findings (-want +got):\n%s", d)
			}
			var ids []string
			for _, ru := range r.Rules {
				ids = append(ids, ru.ID)
			}
			if d := cmp.Diff(tt.wantRules, ids); d != "" {
				t.Errorf("rules (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.wantNotes, r.Notes); d != "" {
				t.Errorf("notes (-want +got):\n%s", d)
			}
			if r.Tool != "lint" || r.Version != "v1" || r.Target != "rampart.yaml, ./..." || !r.Complete || !r.Started.Equal(clock()) {
				t.Errorf("report header: %+v", r)
			}
			for _, f := range r.Findings {
				if f.Fingerprint == "" {
					t.Errorf("%s: no fingerprint", f.RuleID)
				}
			}
		})
	}
}

func TestRunSeverityOverrideReachesRules(t *testing.T) {
	s, _ := ParseSettings("s.yaml", []byte("rules: {rampart.lint.spec.b: critical}"))
	r, err := Run(context.Background(), &Input{}, []Checker{specChecker()}, Options{Settings: s, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if ru, _ := r.Rule("rampart.lint.spec.b"); ru.Severity != findings.Critical {
		t.Errorf("rule severity %s, want critical", ru.Severity)
	}
	if r.AtOrAbove(findings.Critical) != 1 {
		t.Errorf("%d critical findings, want 1", r.AtOrAbove(findings.Critical))
	}
}

func TestRunCheckerFailure(t *testing.T) {
	bad := &fake{name: "go", rules: []findings.Rule{{ID: "rampart.lint.go.x"}}, err: errors.New("packages did not load"), notes: []string{"n"}}
	boom := &fake{name: "config", rules: []findings.Rule{{ID: "rampart.lint.config.x"}}, panic: true}
	r, err := Run(context.Background(), &Input{}, []Checker{specChecker(), bad, boom}, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if r.Complete || !strings.Contains(r.StopReason, "go: packages did not load") || !strings.Contains(r.StopReason, "config: internal error") {
		t.Errorf("complete %v, stop reason %q", r.Complete, r.StopReason)
	}
	if len(r.Findings) != 3 {
		t.Errorf("%d findings, want the spec checker's 3", len(r.Findings))
	}
	if d := cmp.Diff([]string{"spec: one note", "go: n"}, r.Notes); d != "" {
		t.Error(d)
	}
}

func TestRunContractErrors(t *testing.T) {
	tests := []struct {
		name     string
		checkers []Checker
		settings string
		want     string
	}{
		{"rule outside its namespace", []Checker{&fake{name: "spec", rules: []findings.Rule{{ID: "rampart.lint.go.x"}}}}, "",
			"rule rampart.lint.go.x is not under rampart.lint.spec"},
		{"duplicate rule", []Checker{specChecker(), &fake{name: "spec", rules: []findings.Rule{{ID: "rampart.lint.spec.a"}}}}, "",
			"rule rampart.lint.spec.a is both"},
		{"finding of an unknown rule", []Checker{&fake{name: "spec", rules: []findings.Rule{{ID: "rampart.lint.spec.a"}},
			fs: []findings.Finding{at("rampart.lint.spec.zz", "a.yaml", 1, findings.Low)}}}, "",
			`checker spec reported a finding of rule "rampart.lint.spec.zz"`},
		{"finding of another checker's rule", []Checker{goChecker(), &fake{name: "spec", rules: []findings.Rule{{ID: "rampart.lint.spec.a"}},
			fs: []findings.Finding{at("rampart.lint.go.sql", "a.yaml", 1, findings.Low)}}}, "",
			`checker spec reported a finding of rule "rampart.lint.go.sql"`},
		{"settings typo", []Checker{specChecker()}, "rules:\n  rampart.lint.spec.c: off\n",
			`s.yaml:2:3: rules: "rampart.lint.spec.c" matches no rule`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSettings("s.yaml", []byte(tt.settings))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Run(context.Background(), &Input{}, tt.checkers, Options{Settings: s})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestRunNoCheckers(t *testing.T) {
	r, err := Run(context.Background(), &Input{}, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Findings) != 0 || len(r.Rules) != 0 || !r.Complete || r.Finished.IsZero() {
		t.Errorf("%+v", r)
	}
}

func TestRelPath(t *testing.T) {
	dir := filepath.FromSlash("/work/p")
	if filepath.VolumeName(must(filepath.Abs("."))) != "" {
		t.Skip("POSIX paths")
	}
	tests := map[string]string{
		"/work/p/api/openapi.yaml": "api/openapi.yaml",
		"/work/other/x.go":         "/work/other/x.go",
		"api/./openapi.yaml":       "api/openapi.yaml",
		"../up.yaml":               "../up.yaml",
		// a directory under dir whose name starts with ".."
		"/work/p/..generated/api.go": "..generated/api.go",
		"/work/api.yaml":             "/work/api.yaml",
		"":                           "",
	}
	for in, want := range tests {
		if got := relPath(dir, in); got != want {
			t.Errorf("relPath(%q) = %q, want %q", in, got, want)
		}
	}
}
