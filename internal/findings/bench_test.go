package findings

import (
	"fmt"
	"io"
	"testing"
	"time"
)

// bigReport is a lint report the size of the 5 MB spec's: n findings in
// one file, spread over rules, operations and severities.
func bigReport(n int) *Report {
	r := &Report{Tool: "lint", Version: "test", Target: "big.yaml", Started: time.Unix(0, 0), Finished: time.Unix(1, 0), Complete: true}
	for i := range 40 {
		r.Rules = append(r.Rules, Rule{ID: fmt.Sprintf("rampart.lint.spec.rule-%02d", i), Name: "A rule", Severity: Severity(i % 5), Description: "What it checks.", Help: "How to fix it."})
	}
	for i := range n {
		ru := r.Rules[i%len(r.Rules)]
		r.Findings = append(r.Findings, Finding{
			RuleID: ru.ID, Title: ru.Name, Severity: ru.Severity, Confidence: "high", OWASP: "API4:2023",
			Method: "GET", PathTemplate: fmt.Sprintf("/resources%d/{id}", i/10), OperationID: fmt.Sprintf("get%d", i/10),
			Message:  "The response schema declares a property without a bound: add maxLength, or an enum or a pattern.",
			Location: &Location{File: "big.yaml", Pointer: fmt.Sprintf("/paths/~1resources%d~1{id}/get/responses/200/content/application~1json/schema/properties/p%d", i/10, i%10), Line: i*3 + 1, Column: 7},
			Key:      fmt.Sprintf("p%d", i%10),
		})
	}
	r.Finalize()
	return r
}

// BenchmarkWrite renders a report of 100,000 findings in each format
// that lint and scan write for machines and people (the HTML report is
// for small ones and not measured here).
func BenchmarkWrite(b *testing.B) {
	r := bigReport(100_000)
	for _, f := range []Format{Text, JSON, SARIF} {
		b.Run(string(f), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteWith(io.Discard, f, r, Options{Root: "/work"}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkFinalize sorts a report of 100,000 findings.
func BenchmarkFinalize(b *testing.B) {
	r := bigReport(100_000)
	fs := r.Findings
	for b.Loop() {
		r.Findings = append(r.Findings[:0:0], fs...)
		// Reversed, so that every run sorts.
		for i, j := 0, len(r.Findings)-1; i < j; i, j = i+1, j-1 {
			r.Findings[i], r.Findings[j] = r.Findings[j], r.Findings[i]
		}
		r.Finalize()
	}
}
