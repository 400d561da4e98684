package findings

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWriteJSONSameAsEncoder: the streamed JSON report is byte for byte
// what json.Encoder with a two-space indent writes for the whole report,
// with no findings, nil findings, and findings whose strings hold what
// could be mistaken for the array's key line.
func TestWriteJSONSameAsEncoder(t *testing.T) {
	tricky := Finding{RuleID: "r", Title: "<b>&</b>", Message: "a\n  \"findings\": []\nb \u2028 \x00", Key: `"findings": []`,
		Location: &Location{File: "x.yaml", Pointer: "/a~1b", Line: 3, Column: 4}, Fingerprint: "f"}
	reports := map[string]*Report{
		"nil findings":   {Tool: "lint", Started: time.Unix(0, 0).UTC()},
		"empty findings": {Tool: "lint", Findings: []Finding{}, Suppressed: 2},
		"one":            {Tool: "lint", Findings: []Finding{tricky}, Notes: []string{"n"}},
		"many":           bigReport(1000),
		"tricky many":    {Tool: "lint", Findings: []Finding{tricky, tricky, tricky}, Stats: map[string]int{"inputs": 1}},
	}
	for name, r := range reports {
		t.Run(name, func(t *testing.T) {
			var want bytes.Buffer
			enc := json.NewEncoder(&want)
			enc.SetIndent("", "  ")
			if err := enc.Encode(r); err != nil {
				t.Fatal(err)
			}
			var got bytes.Buffer
			if err := WriteWith(&got, JSON, r, Options{}); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Fatalf("streamed JSON differs from json.Encoder's\ngot:\n%s\nwant:\n%s", got.String(), want.String())
			}
		})
	}
}

// TestWriteStreamedMarker: an envelope whose array key is not found once
// is an error, not a report with its findings left out.
func TestWriteStreamedMarker(t *testing.T) {
	type env struct {
		A []int `json:"a"`
		B []int `json:"b"`
	}
	var b bytes.Buffer
	err := writeStreamed(&b, env{A: []int{}, B: []int{}}, "c", 1, 1, func(int) any { return 1 })
	if err == nil || !strings.Contains(err.Error(), `"c" found 0 times`) {
		t.Fatalf("missing key: got %v", err)
	}
	if b.Len() != 0 {
		t.Fatalf("wrote %q before failing", b.String())
	}
	b.Reset()
	if err := writeStreamed(&b, env{A: []int{}, B: []int{}}, "b", 1, 3, func(i int) any { return i * 10 }); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"a\": [],\n  \"b\": [\n    0,\n    10,\n    20\n  ]\n}\n"; b.String() != want {
		t.Fatalf("got %q, want %q", b.String(), want)
	}
}

// TestSortStable: SortStable orders as slices.SortStableFunc does, ties
// in their first order, on random findings with many ties.
func TestSortStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 3, 10, 100, 1000} {
		fs := make([]Finding, n)
		for i := range fs {
			fs[i] = Finding{RuleID: string(rune('a' + rng.IntN(3))), Severity: Severity(rng.IntN(2)), Message: strings.Repeat("x", i)}
		}
		want := slices.Clone(fs)
		slices.SortStableFunc(want, func(a, b Finding) int { return CompareOrder(&a, &b) })
		got := slices.Clone(fs)
		SortStable(got, CompareOrder)
		for i := range want {
			if got[i].Message != want[i].Message {
				t.Fatalf("n=%d: position %d holds finding %d, want %d", n, i, len(got[i].Message), len(want[i].Message))
			}
		}
	}
}

type failingWriter struct{ n int }

func (f *failingWriter) Write(p []byte) (int, error) {
	f.n++
	return 0, errors.New("disk full")
}

// TestWriteError: a write that fails stops the report and its error is
// returned, in every streamed format, at the first chunk and at the end.
func TestWriteError(t *testing.T) {
	for _, n := range []int{1, 2000} {
		r := bigReport(n)
		for _, f := range []Format{Text, JSON, SARIF} {
			w := &failingWriter{}
			if err := WriteWith(w, f, r, Options{}); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("%s, %d findings: got %v, want the writer's error", f, n, err)
			}
			if w.n != 1 {
				t.Errorf("%s, %d findings: %d writes after the first failed, want none", f, n, w.n-1)
			}
		}
	}
}
