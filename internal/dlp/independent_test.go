package dlp

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// independentCorpusPath is a hand-labelled corpus written without reference
// to the detectors' implementation: each line's want lists what a careful
// human reviewer considers sensitive, whatever the detectors do. Decoy lines
// (empty or partial want) name the detector they are meant to tempt.
const independentCorpusPath = "testdata/corpus_independent.jsonl"

// independentFloor is a regression floor, not a quality claim: the test fails
// only if some kind's precision or recall drops below it.
const independentFloor = 0.80

type independentWant struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
}

type independentLine struct {
	Text  string            `json:"text"`
	Want  []independentWant `json:"want"`
	Decoy Kind              `json:"decoy,omitempty"`
}

// TestIndependentCorpus measures per-kind precision and recall on the
// independent corpus and logs the misses and false positives.
func TestIndependentCorpus(t *testing.T) {
	f, err := os.Open(independentCorpusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	type score struct{ truths, decoys, tp, fp, fn int }
	scores := map[Kind]*score{}
	for _, k := range Kinds() {
		scores[k] = &score{}
	}
	get := func(k Kind) *score {
		s, ok := scores[k]
		if !ok {
			s = &score{}
			scores[k] = s
		}
		return s
	}
	type problem struct {
		what  string // "miss" or "false positive"
		kind  Kind
		value string
		line  string
	}
	var problems []problem

	s := MustNew()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<24)
	n := 0
	for sc.Scan() {
		n++
		var l independentLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		if l.Decoy != "" {
			get(l.Decoy).decoys++
		}
		want := map[independentWant]int{}
		for _, w := range l.Want {
			if !strings.Contains(l.Text, w.Value) {
				t.Fatalf("line %d: want value %q not in text", n, w.Value)
			}
			want[w]++
			get(w.Kind).truths++
		}
		for _, fd := range s.Find([]byte(l.Text)) {
			got := independentWant{fd.Kind, l.Text[fd.Start:fd.End]}
			if want[got] > 0 {
				want[got]--
				get(got.Kind).tp++
				continue
			}
			get(got.Kind).fp++
			problems = append(problems, problem{"false positive", got.Kind, got.Value, l.Text})
		}
		for _, w := range l.Want { // report misses in line order
			if want[w] > 0 {
				want[w]--
				get(w.Kind).fn++
				problems = append(problems, problem{"miss", w.Kind, w.Value, l.Text})
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	ratio := func(a, b int) float64 {
		if b == 0 {
			return 1
		}
		return float64(a) / float64(b)
	}
	t.Logf("independent corpus: %d lines", n)
	t.Logf("%-13s %6s %6s %4s %4s %4s %9s %7s", "kind", "true", "decoy", "TP", "FP", "FN", "precision", "recall")
	var failed []string
	var tot score
	for _, k := range Kinds() {
		c := scores[k]
		p, r := ratio(c.tp, c.tp+c.fp), ratio(c.tp, c.tp+c.fn)
		t.Logf("%-13s %6d %6d %4d %4d %4d %9.3f %7.3f", k, c.truths, c.decoys, c.tp, c.fp, c.fn, p, r)
		if p < independentFloor || r < independentFloor {
			failed = append(failed, fmt.Sprintf("%s (precision %.3f, recall %.3f)", k, p, r))
		}
		tot.truths += c.truths
		tot.decoys += c.decoys
		tot.tp += c.tp
		tot.fp += c.fp
		tot.fn += c.fn
	}
	t.Logf("%-13s %6d %6d %4d %4d %4d %9.3f %7.3f", "all", tot.truths, tot.decoys, tot.tp, tot.fp, tot.fn,
		ratio(tot.tp, tot.tp+tot.fp), ratio(tot.tp, tot.tp+tot.fn))

	const maxShown = 40
	for i, p := range problems {
		if i == maxShown {
			t.Logf("... and %d more", len(problems)-maxShown)
			break
		}
		t.Logf("%s %s %q in %q", p.what, p.kind, clip(p.value, 120), clip(p.line, 200))
	}
	if len(failed) > 0 {
		t.Errorf("below the %.2f floor: %s", independentFloor, strings.Join(failed, "; "))
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
