package waf

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"go.yaml.in/yaml/v3"
)

var crsOut = flag.String("crs-out", "", "TestCRSRegression writes its summary (markdown) to this file")

// ftwFile is the go-ftw YAML test format the CRS ships its regression
// tests in (only the fields Inspect can use or must skip on).
type ftwFile struct {
	RuleID int `yaml:"rule_id"`
	Tests  []struct {
		TestID int `yaml:"test_id"`
		Stages []struct {
			Input struct {
				Method              *string           `yaml:"method"`
				URI                 *string           `yaml:"uri"`
				Version             *string           `yaml:"version"`
				Port                int               `yaml:"port"`
				Headers             map[string]string `yaml:"headers"`
				Data                *string           `yaml:"data"`
				EncodedRequest      string            `yaml:"encoded_request"`
				AutocompleteHeaders *bool             `yaml:"autocomplete_headers"`
			} `yaml:"input"`
			Output struct {
				Log struct {
					ExpectIDs   []int `yaml:"expect_ids"`
					NoExpectIDs []int `yaml:"no_expect_ids"`
				} `yaml:"log"`
				ExpectError *bool `yaml:"expect_error"`
			} `yaml:"output"`
		} `yaml:"stages"`
	} `yaml:"tests"`
}

// crsCounts are the results for one file (or all) at one paranoia level.
type crsCounts struct{ pass, fail, skip int }

// TestCRSRegression runs the CRS's own regression tests (go-ftw YAML,
// embedded in coraza-coreruleset/v4/tests) through Inspect, in detect-only
// mode so that every rule is evaluated, at paranoia 1 and 2. A test counts
// at a level when its rule is active at that level (the rule's
// paranoia-level tag); it passes when every expected rule id is in the
// Verdict and no unexpected one is. Tests Inspect cannot express are
// skipped by kind. It is a measurement, not a gate: it runs only with
// RAMPART_CRS_TESTS set, and fails only when it cannot run.
func TestCRSRegression(t *testing.T) {
	if os.Getenv("RAMPART_CRS_TESTS") == "" {
		t.Skip("measurement, not a gate: set RAMPART_CRS_TESTS=1 to run the CRS regression tests (add -crs-out FILE for a summary)")
	}
	levels := ruleLevels(t)
	files, err := fs.Glob(crstests.FS, "*/*.yaml")
	if err != nil || len(files) < 100 {
		t.Fatalf("found %d CRS test files (%v)", len(files), err)
	}
	sort.Strings(files)
	var summary strings.Builder
	fmt.Fprintf(&summary, "# CRS regression tests through waf.Inspect\n\n%d test files of coraza-coreruleset/v4 (CRS 4.25.0), detect-only, ", len(files))
	summary.WriteString("a test counted at a paranoia level when its rule is active there.\n\n")
	for _, pl := range []int{1, 2} {
		w := compiled(t, Options{Paranoia: pl, DetectOnly: true})
		total := crsCounts{}
		skipped := map[string]int{}
		type row struct {
			file string
			c    crsCounts
		}
		var rows []row
		var failed []string
		for _, name := range files {
			c := crsCounts{}
			if strings.HasPrefix(name, "RESPONSE-") {
				n := countTests(t, name)
				skipped["response tests (the WAF inspects requests only)"] += n
				total.skip += n
				continue
			}
			var f ftwFile
			raw, err := fs.ReadFile(crstests.FS, name)
			if err != nil {
				t.Fatal(err)
			}
			if err := yaml.Unmarshal(raw, &f); err != nil {
				skipped["files that do not parse as go-ftw YAML"]++
				continue
			}
			ruleID := f.RuleID
			if ruleID == 0 {
				ruleID, _ = strconv.Atoi(strings.TrimSuffix(path.Base(name), ".yaml"))
			}
			lvl, ok := levels[ruleID]
			if !ok {
				lvl = 1
			}
			for _, tc := range f.Tests {
				if lvl > pl {
					skipped[fmt.Sprintf("rule above paranoia %d", pl)]++
					c.skip++
					continue
				}
				pass, kind := true, ""
				for _, st := range tc.Stages {
					in, out := st.Input, st.Output
					switch {
					case in.EncodedRequest != "":
						kind = "raw encoded requests (encoded_request)"
					case in.AutocompleteHeaders != nil && !*in.AutocompleteHeaders:
						kind = "exact header sets (autocomplete_headers: false)"
					case out.ExpectError != nil:
						kind = "expected transport errors (expect_error)"
					case len(out.Log.ExpectIDs) == 0 && len(out.Log.NoExpectIDs) == 0:
						kind = "no rule-id expectation (status or log regex only)"
					}
					if kind != "" {
						break
					}
					v, err := w.Inspect(context.Background(), ftwRequest(in.Method, in.URI, in.Version, in.Port, in.Headers, in.Data))
					if err != nil {
						t.Fatalf("%s test %d: %v", name, tc.TestID, err)
					}
					for _, id := range out.Log.ExpectIDs {
						if !matched(v, id) {
							pass = false
						}
					}
					for _, id := range out.Log.NoExpectIDs {
						if matched(v, id) {
							pass = false
						}
					}
				}
				switch {
				case kind != "":
					skipped[kind]++
					c.skip++
				case pass:
					c.pass++
				default:
					c.fail++
					failed = append(failed, fmt.Sprintf("%d-%d", ruleID, tc.TestID))
				}
			}
			total.pass += c.pass
			total.fail += c.fail
			total.skip += c.skip
			rows = append(rows, row{name, c})
		}
		var tbl strings.Builder
		fmt.Fprintf(&tbl, "## Paranoia %d\n\n| file | pass | fail | skipped | pass rate |\n|---|---:|---:|---:|---:|\n", pl)
		for _, r := range rows {
			if r.c.pass+r.c.fail == 0 {
				continue
			}
			fmt.Fprintf(&tbl, "| %s | %d | %d | %d | %s |\n", r.file, r.c.pass, r.c.fail, r.c.skip, rate(r.c))
		}
		fmt.Fprintf(&tbl, "| **all** | **%d** | **%d** | **%d** | **%s** |\n\nSkipped, by kind:\n\n", total.pass, total.fail, total.skip, rate(total))
		kinds := make([]string, 0, len(skipped))
		for k := range skipped {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(&tbl, "- %s: %d\n", k, skipped[k])
		}
		fmt.Fprintf(&tbl, "\nFailed (rule-test): %s\n\n", strings.Join(failed, " "))
		t.Log("\n" + tbl.String())
		summary.WriteString(tbl.String())
	}
	if *crsOut != "" {
		if err := os.WriteFile(*crsOut, []byte(summary.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// matched reports whether the verdict shows rule id: in Rules, or for the
// blocking evaluation (949110, 949111, left out of Rules as bookkeeping)
// as Exceeded.
func matched(v Verdict, id int) bool {
	if id == 949110 || id == 949111 {
		return v.Score >= v.Threshold
	}
	return slices.Contains(v.Rules, id)
}

func rate(c crsCounts) string {
	if c.pass+c.fail == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(c.pass)/float64(c.pass+c.fail))
}

// countTests counts the tests of a file without decoding it whole.
func countTests(t *testing.T, name string) int {
	raw, err := fs.ReadFile(crstests.FS, name)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		if strings.HasPrefix(strings.TrimSpace(sc.Text()), "- test_id:") {
			n++
		}
	}
	return n
}

// ftwRequest maps a go-ftw input onto a Request as go-ftw sends it
// (defaults: GET, /, HTTP/1.1; Content-Length added for data).
func ftwRequest(method, uri, version *string, port int, headers map[string]string, data *string) *Request {
	r := &Request{Method: "GET", RawPath: "/", Proto: "HTTP/1.1", ServerPort: port, ClientIP: netip.MustParseAddr("127.0.0.1"), ClientPort: 40000}
	if method != nil {
		r.Method = *method
	}
	if version != nil {
		r.Proto = *version
	}
	if uri != nil {
		r.RawPath, r.RawQuery, _ = strings.Cut(*uri, "?")
	}
	keys := make([]string, 0, len(headers))
	for k := range headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	r.Headers = func(yield func(string, string) bool) {
		for _, k := range keys {
			if !yield(k, headers[k]) {
				return
			}
		}
	}
	for _, k := range keys {
		if strings.EqualFold(k, "Host") {
			r.Host = headers[k]
		}
	}
	if data != nil {
		r.Body, r.HasBody = []byte(*data), true
	}
	return r
}

var (
	ruleIDRe = regexp.MustCompile(`"id:(\d+)`)
	plTagRe  = regexp.MustCompile(`tag:'paranoia-level/(\d)'`)
)

// ruleLevels reads each CRS request rule's paranoia level from its
// paranoia-level tag (rules without one, such as the setup rules, are
// level 1).
func ruleLevels(t *testing.T) map[int]int {
	confs, err := fs.Glob(coreruleset.FS, "@owasp_crs/REQUEST-*.conf")
	if err != nil || len(confs) == 0 {
		t.Fatalf("no CRS rule files (%v)", err)
	}
	levels := map[int]int{}
	for _, c := range confs {
		raw, err := fs.ReadFile(coreruleset.FS, c)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		locs := ruleIDRe.FindAllStringSubmatchIndex(text, -1)
		for i, loc := range locs {
			end := len(text)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			id, _ := strconv.Atoi(text[loc[2]:loc[3]])
			if m := plTagRe.FindStringSubmatch(text[loc[1]:end]); m != nil {
				levels[id], _ = strconv.Atoi(m[1])
			}
		}
	}
	return levels
}
