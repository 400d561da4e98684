// Package findings owns what the toolkit reports: a finding (rule,
// severity, confidence, OWASP category, operation, evidence, a command that
// reproduces it), its stable fingerprint, baselines of accepted findings,
// the severity gate behind the exit code, and the renderers (text, JSON,
// SARIF 2.1.0, JUnit XML and a self-contained HTML report).
//
// It is shared by rampart scan and rampart lint and knows nothing about
// how findings are produced. Evidence is redacted by its producer; the
// renderers add no data of their own.
package findings

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Severity orders findings; the zero value is Info.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
	Critical
)

var severityNames = [...]string{"info", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if s < Info || s > Critical {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// ParseSeverity reads a severity name (info, low, medium, high, critical).
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q: want one of %s", name, strings.Join(severityNames[:], ", "))
}

// MarshalText writes the severity's name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity's name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err == nil {
		*s = v
	}
	return err
}

// Confidence says how sure a check is that a finding is real.
type Confidence string

// Confidences.
const (
	// Certain: the check proved it (a canary was hit, a write was read
	// back, another identity's object came back).
	Certain Confidence = "certain"
	// Firm: strong evidence with a control request, not a proof.
	Firm Confidence = "firm"
	// Tentative: a signal worth a human look.
	Tentative Confidence = "tentative"
)

// Rule describes one check: what it looks for and how to fix it.
type Rule struct {
	// ID is stable across releases, for example rampart.scan.api1.bola.
	ID string `json:"id"`
	// Name is a short title.
	Name string `json:"name"`
	// Description says what the rule finds.
	Description string `json:"description"`
	// Help says how to fix it.
	Help string `json:"help"`
	// OWASP is the OWASP API Security Top 10 (2023) category, for
	// example API1:2023, or "" for rules outside it.
	OWASP string `json:"owasp,omitempty"`
	// Severity is the rule's usual severity.
	Severity Severity `json:"severity"`
}

// Exchange is one request and its response, as excerpts with secrets
// redacted.
type Exchange struct {
	// Label says what the exchange shows ("bob reads alice's object").
	Label    string `json:"label"`
	Request  string `json:"request"`
	Response string `json:"response,omitempty"`
}

// Location is a place in a file, for static findings.
type Location struct {
	File    string `json:"file"`
	Pointer string `json:"pointer,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// Finding is one problem found.
type Finding struct {
	RuleID     string     `json:"ruleId"`
	Title      string     `json:"title"`
	Severity   Severity   `json:"severity"`
	Confidence Confidence `json:"confidence"`
	OWASP      string     `json:"owasp,omitempty"`
	// Method and PathTemplate name the operation (the spec's path, for
	// example /users/{id}); OperationID is its operationId if any.
	Method       string `json:"method,omitempty"`
	PathTemplate string `json:"pathTemplate,omitempty"`
	OperationID  string `json:"operationId,omitempty"`
	// Message says what was found, in a sentence or two.
	Message string `json:"message"`
	// Evidence holds the exchanges that show it, the control first.
	Evidence []Exchange `json:"evidence,omitempty"`
	// Curl reproduces the finding (credentials as shell variables).
	Curl     string    `json:"curl,omitempty"`
	Location *Location `json:"location,omitempty"`
	// Key tells apart findings of one rule on one operation (a
	// parameter, an identity pair); it feeds the fingerprint.
	Key string `json:"key,omitempty"`
	// Fingerprint is stable across runs; see Fingerprint.
	Fingerprint string `json:"fingerprint"`
}

// ComputeFingerprint returns the finding's stable fingerprint: a hash of
// the rule, the operation or location and the key, never of ids, times or
// response bodies, so that the same weakness has the same fingerprint in
// every run.
func ComputeFingerprint(f *Finding) string {
	h := sha256.New()
	loc := ""
	if f.Location != nil {
		loc = f.Location.File + "#" + f.Location.Pointer
	}
	for _, s := range []string{f.RuleID, f.Method, f.PathTemplate, loc, f.Key} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Report is the result of one run of a tool.
type Report struct {
	Tool    string `json:"tool"`
	Version string `json:"version"`
	// Target is what was checked: a URL for scan, files for lint.
	Target   string    `json:"target"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Complete is false when the run stopped early (Ctrl-C, budget).
	Complete bool `json:"complete"`
	// StopReason says why an incomplete run stopped.
	StopReason string `json:"stopReason,omitempty"`
	// Stats are counters such as requests sent and operations tested.
	Stats map[string]int `json:"stats,omitempty"`
	// Notes are things the user should know that are not findings
	// (checks skipped and why).
	Notes    []string  `json:"notes,omitempty"`
	Rules    []Rule    `json:"rules"`
	Findings []Finding `json:"findings"`
	// Suppressed counts findings the baseline accepted.
	Suppressed int `json:"suppressed,omitempty"`
}

// Finalize fills in fingerprints and sorts findings: severity first, then
// rule, operation and key. Call it once, before rendering.
func (r *Report) Finalize() {
	for i := range r.Findings {
		if r.Findings[i].Fingerprint == "" {
			r.Findings[i].Fingerprint = ComputeFingerprint(&r.Findings[i])
		}
	}
	SortStable(r.Findings, CompareOrder)
	slices.SortFunc(r.Rules, func(a, b Rule) int { return strings.Compare(a.ID, b.ID) })
}

// CompareOrder orders findings as a report lists them: severity first
// (the highest first), then rule, operation and key.
func CompareOrder(a, b *Finding) int {
	return cmp.Or(cmp.Compare(b.Severity, a.Severity), strings.Compare(a.RuleID, b.RuleID),
		strings.Compare(a.PathTemplate, b.PathTemplate), strings.Compare(a.Method, b.Method), strings.Compare(a.Key, b.Key))
}

// Rule returns the rule with the given id.
func (r *Report) Rule(id string) (Rule, bool) {
	for _, ru := range r.Rules {
		if ru.ID == id {
			return ru, true
		}
	}
	return Rule{}, false
}

// AtOrAbove reports how many findings are at or above s.
func (r *Report) AtOrAbove(s Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity >= s {
			n++
		}
	}
	return n
}

// Counts returns the number of findings per severity.
func (r *Report) Counts() [Critical + 1]int {
	var c [Critical + 1]int
	for _, f := range r.Findings {
		if f.Severity >= Info && f.Severity <= Critical {
			c[f.Severity]++
		}
	}
	return c
}
