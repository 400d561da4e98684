package speclint

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// check loads the spec file and runs the checker on it.
func check(t testing.TB, file string) ([]findings.Finding, []string) {
	t.Helper()
	s, err := openapi.Load(context.Background(), file, openapi.Options{})
	if err != nil {
		t.Fatalf("loading %s: %v", file, err)
	}
	fs, notes, err := New().Check(context.Background(), &lint.Input{Spec: s})
	if err != nil {
		t.Fatalf("checking %s: %v", file, err)
	}
	return fs, notes
}

func ofRule(fs []findings.Finding, id string) []findings.Finding {
	var out []findings.Finding
	for _, f := range fs {
		if f.RuleID == id {
			out = append(out, f)
		}
	}
	return out
}

// TestRules runs every rule on its testdata twins: it fires on bad.yaml
// and is silent on good.yaml.
func TestRules(t *testing.T) {
	for _, ru := range allRules {
		short := strings.TrimPrefix(ru.ID, rulePrefix)
		t.Run(short, func(t *testing.T) {
			dir := filepath.Join("testdata", "rules", short)
			bad, _ := check(t, filepath.Join(dir, "bad.yaml"))
			got := ofRule(bad, ru.ID)
			if len(got) == 0 {
				t.Fatalf("%s does not fire on bad.yaml; findings: %v", ru.ID, ids(bad))
			}
			for _, f := range got {
				if f.Location == nil || f.Location.Line < 1 || f.Location.File != filepath.Join(dir, "bad.yaml") {
					t.Errorf("finding without a location in the file: %+v", f)
				}
				if f.Severity != ru.Severity || f.OWASP != ru.OWASP || f.Title != ru.Name || f.Confidence == "" {
					t.Errorf("finding does not carry its rule's severity, category and title: %+v", f)
				}
			}
			good, _ := check(t, filepath.Join(dir, "good.yaml"))
			if got := ofRule(good, ru.ID); len(got) != 0 {
				t.Fatalf("%s fires on good.yaml: %+v", ru.ID, got)
			}
		})
	}
}

func ids(fs []findings.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, strings.TrimPrefix(f.RuleID, rulePrefix)+"@"+f.Location.Pointer)
	}
	return out
}

// TestRuleTable checks the rule table itself: unique ids under the
// prefix, every field filled, a testdata directory per rule and no
// directory without a rule.
func TestRuleTable(t *testing.T) {
	seen := map[string]bool{}
	for _, ru := range allRules {
		if !strings.HasPrefix(ru.ID, rulePrefix) || seen[ru.ID] {
			t.Errorf("rule id %q: duplicate or outside %s", ru.ID, rulePrefix)
		}
		seen[ru.ID] = true
		if ru.Name == "" || ru.Description == "" || ru.Help == "" || !strings.HasSuffix(ru.OWASP, ":2023") || ru.Confidence == "" {
			t.Errorf("rule %s lacks a field: %+v", ru.ID, ru)
		}
	}
	dirs, err := os.ReadDir(filepath.Join("testdata", "rules"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !seen[rulePrefix+d.Name()] {
			t.Errorf("testdata/rules/%s names no rule", d.Name())
		}
	}
	if len(dirs) != len(allRules) {
		t.Errorf("%d testdata directories for %d rules", len(dirs), len(allRules))
	}
	if got := New().Rules(); len(got) != len(allRules) {
		t.Errorf("Rules() returns %d rules, want %d", len(got), len(allRules))
	}
}

// spectralCodes are the rule codes of @stoplight/spectral-owasp-ruleset
// 2.0.1 (src/ruleset.ts), listed by hand from its source so that the
// mapping cannot silently lose one.
var spectralCodes = []string{
	"owasp:api1:2023-no-numeric-ids",
	"owasp:api2:2023-no-http-basic", "owasp:api2:2023-no-api-keys-in-url", "owasp:api2:2023-no-credentials-in-url",
	"owasp:api2:2023-auth-insecure-schemes", "owasp:api2:2023-jwt-best-practices", "owasp:api2:2023-short-lived-access-tokens",
	"owasp:api2:2023-write-restricted", "owasp:api2:2023-read-restricted",
	"owasp:api3:2023-no-additionalProperties", "owasp:api3:2023-constrained-additionalProperties",
	"owasp:api3:2023-no-unevaluatedProperties", "owasp:api3:2023-constrained-unevaluatedProperties",
	"owasp:api4:2023-rate-limit", "owasp:api4:2023-rate-limit-retry-after", "owasp:api4:2023-rate-limit-responses-429",
	"owasp:api4:2023-array-limit", "owasp:api4:2023-string-limit", "owasp:api4:2023-string-restricted",
	"owasp:api4:2023-integer-limit", "owasp:api4:2023-integer-limit-legacy", "owasp:api4:2023-integer-format",
	"owasp:api5:2023-admin-security-unique",
	"owasp:api7:2023-concerning-url-parameter",
	"owasp:api8:2023-define-cors-origin", "owasp:api8:2023-no-scheme-http", "owasp:api8:2023-no-server-http",
	"owasp:api8:2023-define-error-validation", "owasp:api8:2023-define-error-responses-401", "owasp:api8:2023-define-error-responses-500",
	"owasp:api9:2023-inventory-access", "owasp:api9:2023-inventory-environment",
}

func TestSpectralEquivalents(t *testing.T) {
	m := SpectralEquivalents()
	for _, code := range spectralCodes {
		id, ok := m[code]
		if !ok {
			t.Errorf("Spectral rule %s has no equivalent", code)
			continue
		}
		if _, ok := ruleByID(id); !ok {
			t.Errorf("Spectral rule %s maps to unknown rule %s", code, id)
		}
	}
	for code := range m {
		if !slices.Contains(spectralCodes, code) {
			t.Errorf("mapping names %s, which is not a Spectral OWASP rule", code)
		}
	}
	m["x"] = "y"
	if _, ok := SpectralEquivalents()["x"]; ok {
		t.Error("SpectralEquivalents returns a shared map")
	}
}

func TestNoSpec(t *testing.T) {
	fs, notes, err := New().Check(context.Background(), &lint.Input{})
	if err != nil || len(fs) != 0 || len(notes) != 1 {
		t.Fatalf("Check without a spec = %v, %v, %v; want one note", fs, notes, err)
	}
}
