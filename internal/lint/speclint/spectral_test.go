package speclint

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/yamlpos"
)

var listExtras = flag.Bool("list-extras", false, "TestAgainstSpectral: log every finding Spectral does not have")

// spectralResult is one entry of Spectral's JSON output.
type spectralResult struct {
	Code string `json:"code"`
	Path []any  `json:"path"`
}

// TestAgainstSpectral runs the checker on real public specs and requires
// every finding that Spectral 6 with the OWASP ruleset reported on them
// (stored in testdata/real/*/spectral.json by bench/lint/spectral.sh) to
// be reported here too: by the rule SpectralEquivalents names for its
// code, at its JSON pointer or at an ancestor of it, or where the node is
// written when Spectral's path goes through a $ref (we report a problem
// where it is fixed: a shared component once, an operation's responses
// object rather than each of its codes). testdata/real/extra.txt, a golden
// file (go test -update), counts per rule how many of our findings cover
// Spectral's and which we add, so that a rule that starts reporting less
// precisely, or more, shows in review.
func TestAgainstSpectral(t *testing.T) {
	equiv := SpectralEquivalents()
	dirs, err := filepath.Glob(filepath.Join("testdata", "real", "*", "spectral.json"))
	if err != nil || len(dirs) < 5 {
		t.Fatalf("want at least five real specs with Spectral's output, have %d (%v)", len(dirs), err)
	}
	var extra strings.Builder
	for _, out := range dirs {
		dir := filepath.Dir(out)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			spec, _ := filepath.Glob(filepath.Join(dir, "openapi.*"))
			if len(spec) != 1 {
				t.Fatalf("%s: want one openapi.* file, have %v", dir, spec)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var theirs []spectralResult
			if err := json.Unmarshal(b, &theirs); err != nil {
				t.Fatalf("%s: %v", out, err)
			}
			ours, _ := check(t, spec[0])
			raw, err := os.ReadFile(spec[0])
			if err != nil {
				t.Fatal(err)
			}
			idx, err := yamlpos.New(raw)
			if err != nil {
				t.Fatal(err)
			}
			byRule := map[string][]string{}
			for _, f := range ours {
				if f.Location != nil {
					byRule[f.RuleID] = append(byRule[f.RuleID], f.Location.Pointer)
				}
			}
			matched := map[string]map[string]bool{}
			missed := 0
			for _, r := range theirs {
				id, ok := equiv[r.Code]
				if !ok {
					t.Errorf("Spectral code %s has no equivalent", r.Code)
					continue
				}
				ptr := pointerOf(r.Path)
				hit := ""
				for _, p := range byRule[id] {
					if covers(p, ptr) || covers(p, sourceOf(idx, ptr)) {
						hit = p
						break
					}
				}
				if hit == "" {
					missed++
					if missed <= 20 {
						t.Errorf("Spectral %s at %s: no %s finding there", r.Code, ptr, id)
					}
					continue
				}
				if matched[id] == nil {
					matched[id] = map[string]bool{}
				}
				matched[id][hit] = true
			}
			if missed > 20 {
				t.Errorf("... and %d more Spectral findings missed", missed-20)
			}
			counts := map[string]int{}
			for _, f := range ours {
				if f.Location == nil || !matched[f.RuleID][f.Location.Pointer] {
					counts[f.RuleID]++
					if *listExtras {
						t.Logf("extra %s %s:%d %s %s: %s", strings.TrimPrefix(f.RuleID, rulePrefix), name, f.Location.Line, f.Location.Pointer, f.Key, f.Message)
					}
				}
			}
			fmt.Fprintf(&extra, "%s: Spectral %d findings, rampart lint %d; ours covering Spectral's:\n", name, len(theirs), len(ours))
			for _, id := range slices.Sorted(maps.Keys(matched)) {
				fmt.Fprintf(&extra, "  %-50s %d\n", id, len(matched[id]))
			}
			fmt.Fprintf(&extra, "not in Spectral:\n")
			ids := make([]string, 0, len(counts))
			for id := range counts {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				fmt.Fprintf(&extra, "  %-50s %d\n", id, counts[id])
			}
		})
	}
	golden(t, filepath.Join("testdata", "real", "extra.txt"), []byte(extra.String()))
}

// sourceOf maps a pointer into the resolved document (Spectral's paths go
// through $refs) to where that node is written: at each step, a node that
// is a local $ref is replaced by its target.
func sourceOf(idx yamlpos.Index, ptr string) string {
	if ptr == "" {
		return ""
	}
	tokens := strings.Split(ptr[1:], "/")
	at := ""
	for _, tok := range tokens {
		at += "/" + tok
		for hops := 0; hops < 16; hops++ {
			ref, ok := idx.Scalar(at + "/$ref")
			if !ok || !strings.HasPrefix(ref, "#/") {
				break
			}
			at = ref[1:]
		}
	}
	return at
}

func pointerOf(path []any) string {
	var tokens []string
	for _, p := range path {
		tokens = append(tokens, fmt.Sprint(p))
	}
	if len(tokens) == 0 {
		return ""
	}
	return yamlpos.Pointer(tokens...)
}

// covers reports whether our finding at ours covers Spectral's at theirs:
// the same JSON pointer, or an ancestor of it (we report where a problem
// is fixed: an operation's responses object rather than each code), the
// document's root excepted, which covers only the root.
func covers(ours, theirs string) bool {
	if ours == "" || theirs == "" {
		return ours == theirs
	}
	return ours == theirs || strings.HasPrefix(theirs, ours+"/")
}
