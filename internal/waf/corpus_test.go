package waf

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
)

var corpusOut = flag.String("corpus-out", "", "TestCorpus writes its detection and false-positive table (markdown) to this file")

// corpusLines reads testdata lines, skipping comments and blank lines.
func corpusLines(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// placements put one value where a JSON API receives data.
var placements = []struct {
	name string
	req  func(v string) *Request
}{
	{"query", func(v string) *Request { return get("/api/search", "q="+url.QueryEscape(v)) }},
	{"JSON body", func(v string) *Request {
		b, _ := json.Marshal(map[string]any{"id": 42, "comment": v, "tags": []string{"a", "b"}})
		return post("POST", "/api/comments", "application/json", string(b))
	}},
	{"header", func(v string) *Request {
		return get("/api/status", "", "Referer", "https://app.example.com/", "X-Note", "n/a", "User-Agent", v)
	}},
}

// TestCorpus measures the detection rate on testdata/attacks.txt and the
// false-positive rate on testdata/legit.txt, per paranoia level and
// placement, with the json-api profile; it fails when PL1 misses more
// than a tenth of the attacks or blocks any legitimate value.
func TestCorpus(t *testing.T) {
	attacks := corpusLines(t, "attacks.txt")
	legit := corpusLines(t, "legit.txt")
	var out strings.Builder
	fmt.Fprintf(&out, "| PL | placement | attacks blocked (%d) | detection | legitimate blocked (%d) | false positives |\n|---|---|---:|---:|---:|---:|\n", len(attacks), len(legit))
	for pl := 1; pl <= 4; pl++ {
		w := compiled(t, Options{Paranoia: pl, Profiles: []string{"json-api"}})
		for _, p := range placements {
			blocked, missed := 0, []string{}
			for _, a := range attacks {
				class, payload, _ := strings.Cut(a, "\t")
				v, err := w.Inspect(context.Background(), p.req(payload))
				if err != nil {
					t.Fatal(err)
				}
				if v.Blocked {
					blocked++
				} else {
					missed = append(missed, class+":"+payload)
				}
			}
			fps, fpList := 0, []string{}
			if p.name != "header" { // the legitimate corpus is free text, not header values
				for _, l := range legit {
					v, err := w.Inspect(context.Background(), p.req(l))
					if err != nil {
						t.Fatal(err)
					}
					if v.Blocked {
						fps++
						fpList = append(fpList, fmt.Sprintf("%q %v", l, v.Rules))
					}
				}
			}
			fp := "-"
			if p.name != "header" {
				fp = fmt.Sprintf("%d", fps)
			}
			fmt.Fprintf(&out, "| %d | %s | %d | %.0f%% | %s | %s |\n", pl, p.name, blocked, 100*float64(blocked)/float64(len(attacks)), fp, pct(fps, len(legit), p.name != "header"))
			t.Logf("PL%d %s missed: %v", pl, p.name, missed)
			t.Logf("PL%d %s false positives: %v", pl, p.name, fpList)
			if pl == 1 && p.name != "header" {
				if blocked*10 < len(attacks)*9 {
					t.Errorf("PL1 %s: %d of %d attacks blocked, want at least 90%%", p.name, blocked, len(attacks))
				}
				if fps > 0 {
					t.Errorf("PL1 %s: %d legitimate values blocked: %v", p.name, fps, fpList)
				}
			}
		}
	}
	t.Log("\n" + out.String())
	if *corpusOut != "" {
		if err := os.WriteFile(*corpusOut, []byte(out.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func pct(n, of int, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
}
