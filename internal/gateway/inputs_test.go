package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// notesAPI answers the notes spec's operations, echoing what it is sent
// (writeOnly pin included, for the gateway to strip), and records what
// reached it.
type notesAPI struct {
	mu   sync.Mutex
	seen []string
}

func (n *notesAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	n.mu.Lock()
	n.seen = append(n.seen, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost:
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(body)
	case strings.HasSuffix(r.URL.Path, "0bad"):
		w.WriteHeader(http.StatusTeapot) // not declared
		_, _ = w.Write([]byte(`{"title":"x"}`))
	case strings.HasPrefix(r.URL.Path, "/notes/"):
		_, _ = w.Write([]byte(`{"title":"groceries","pin":"1234"}`))
	default:
		_, _ = w.Write([]byte(`[]`))
	}
}

func (n *notesAPI) reached() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.seen)
}

// inputsSeen keeps the last exchange's inspection and refusal.
type inputsSeen struct {
	mu     sync.Mutex
	in     pipeline.Inspection
	reason string
}

func (s *inputsSeen) Observe(x *pipeline.Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.in = pipeline.Inspection{WAFRules: slices.Clone(x.Inputs.WAFRules), WAFScore: x.Inputs.WAFScore, Contract: slices.Clone(x.Inputs.Contract)}
	s.reason = ""
	if x.Denial != nil {
		s.reason = x.Denial.Reason
	}
}

func (s *inputsSeen) last() (pipeline.Inspection, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.in, s.reason
}

func inputsGateway(t *testing.T) (*httptest.Server, *notesAPI, *inputsSeen, *Gateway) {
	t.Helper()
	api := &notesAPI{}
	up := httptest.NewServer(api)
	t.Cleanup(up.Close)
	spec := "testdata/inputs/notes.yaml"
	cfg := testConfig(up.URL)
	block := &config.RouteWAF{}
	cfg.Routes = []config.Route{
		// both defences, responses checked and blocked
		{Name: "notes", Path: "/notes", Methods: []string{"GET", "POST"}, Upstream: "api", Public: true,
			OpenAPI: &config.RouteOpenAPI{Spec: spec, Response: "block"}, WAF: block},
		{Name: "note", Path: "/notes/{id}", Methods: []string{"GET"}, Upstream: "api", Public: true,
			OpenAPI: &config.RouteOpenAPI{Spec: spec, Operation: "getNote", Response: "block"}, WAF: &config.RouteWAF{}},
		// report-only contract, detect-only WAF
		{Name: "report", Host: "report.test", Path: "/notes", Methods: []string{"POST"}, Upstream: "api", Public: true,
			OpenAPI: &config.RouteOpenAPI{Spec: spec, Request: "report"}, WAF: &config.RouteWAF{Mode: "detect"}},
		// neither
		{Name: "plain", Host: "plain.test", Path: "/notes", Methods: []string{"POST"}, Upstream: "api", Public: true},
	}
	config.SetDefaults(cfg)
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			t.Fatalf("config: %v", p)
		}
	}
	seen := &inputsSeen{}
	g, err := New(cfg, Deps{Audit: seen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, api, seen, g
}

type problemDoc struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	Errors []struct {
		In, Parameter, Pointer, Detail string
	} `json:"errors"`
}

func TestInputs(t *testing.T) {
	srv, api, seen, _ := inputsGateway(t)
	const sqli = `{"title":"hi","text":"1' UNION SELECT password FROM users WHERE '1'='1"}`
	tests := []struct {
		name, host, method, path, ctype, body string
		status                                int
		reason                                string
		errs                                  []string // "in name-or-pointer: detail" of each error
		wafRules                              bool     // rules recorded
		reached                               bool
	}{
		{name: "valid post", method: "POST", path: "/notes", ctype: "application/json", body: `{"title":"groceries","text":"milk, eggs; and O'Brien's bread"}`, status: 201, reached: true},
		{name: "valid get", method: "GET", path: "/notes?limit=10", status: 200, reached: true},
		{name: "undeclared property", method: "POST", path: "/notes", ctype: "application/json", body: `{"title":"a","isAdmin":true}`,
			status: 400, reason: "inputs.invalid", errs: []string{"body /isAdmin"}},
		{name: "over maxLength", method: "POST", path: "/notes", ctype: "application/json", body: `{"title":"` + strings.Repeat("x", 65) + `"}`,
			status: 400, reason: "inputs.invalid", errs: []string{"body /title"}},
		{name: "readOnly sent", method: "POST", path: "/notes", ctype: "application/json", body: `{"title":"a","id":"6f1c1e0e-8d3a-4c4e-9a55-0b0c3f1d2e4f"}`,
			status: 400, reason: "inputs.invalid", errs: []string{"body /id"}},
		{name: "query over maximum", method: "GET", path: "/notes?limit=1000", status: 400, reason: "inputs.invalid", errs: []string{"query limit"}},
		{name: "path format", method: "GET", path: "/notes/not-a-uuid", status: 400, reason: "inputs.invalid", errs: []string{"path id"}},
		{name: "media type", method: "POST", path: "/notes", ctype: "text/plain", body: `title`, status: 415, reason: "inputs.media_type"},
		{name: "sqli in free text", method: "POST", path: "/notes", ctype: "application/json", body: sqli, status: 403, reason: "waf.blocked", wafRules: true},
		{name: "traversal in an undeclared query parameter", method: "GET", path: "/notes?limit=5&x=../../../../etc/passwd", status: 403, reason: "waf.blocked", wafRules: true},
		{name: "report mode passes", host: "report.test", method: "POST", path: "/notes", ctype: "application/json", body: `{"title":"a","isAdmin":true}`,
			status: 201, errs: []string{"body /isAdmin"}, reached: true},
		{name: "detect mode passes", host: "report.test", method: "POST", path: "/notes", ctype: "application/json", body: sqli, status: 201, wafRules: true, reached: true},
		{name: "neither", host: "plain.test", method: "POST", path: "/notes", ctype: "application/json", body: sqli, status: 201, reached: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(api.reached())
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = http.NoBody
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, b)
			}
			in, reason := seen.last()
			if reason != tc.reason {
				t.Errorf("reason %q, want %q", reason, tc.reason)
			}
			if tc.reason != "" {
				var doc problemDoc
				if err := json.Unmarshal(b, &doc); err != nil || doc.Reason != tc.reason {
					t.Fatalf("problem document %s (%v)", b, err)
				}
				var got []string
				for _, e := range doc.Errors {
					got = append(got, strings.TrimSpace(e.In+" "+e.Parameter+e.Pointer))
				}
				for _, want := range tc.errs {
					if !slices.Contains(got, want) {
						t.Errorf("errors %v lack %q", got, want)
					}
				}
				for _, secret := range []string{"UNION", "xxxxxxxxxx", "not-a-uuid", "1000", "6f1c1e0e", "passwd"} {
					if strings.Contains(string(b), secret) {
						t.Errorf("the refusal echoes %q: %s", secret, b)
					}
				}
			}
			var contract []string
			for _, e := range in.Contract {
				contract = append(contract, strings.TrimSpace(e.In+" "+e.Name+e.Pointer))
			}
			for _, want := range tc.errs {
				if !slices.Contains(contract, want) {
					t.Errorf("audit contract errors %v lack %q", contract, want)
				}
			}
			// Below the threshold, rules may still match: 920350 (a
			// numeric Host) scores 3 on every request to 127.0.0.1.
			if attack := in.WAFScore >= 5; attack != tc.wafRules {
				t.Errorf("waf rules %v, score %d; want an attack: %v", in.WAFRules, in.WAFScore, tc.wafRules)
			}
			if tc.wafRules && strings.Contains(tc.body, "UNION") && !slices.ContainsFunc(in.WAFRules, func(id int) bool { return id >= 942000 && id < 943000 }) {
				t.Errorf("waf rules %v hold no SQL injection rule (942xxx)", in.WAFRules)
			}
			if got := len(api.reached()) > before; got != tc.reached {
				t.Errorf("reached the upstream: %v, want %v", got, tc.reached)
			}
		})
	}
}

// TestInputsResponses: responses are held to the contract (an undeclared
// status is refused with 502) and writeOnly properties never leave.
func TestInputsResponses(t *testing.T) {
	srv, _, seen, _ := inputsGateway(t)
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("/notes/6f1c1e0e-8d3a-4c4e-9a55-0b0c3f1d2e4f")
	if status != 200 || strings.Contains(body, "pin") || strings.Contains(body, "1234") || !strings.Contains(body, "groceries") {
		t.Errorf("writeOnly pin not stripped: %d %s", status, body)
	}
	status, body = get("/notes/6f1c1e0e-8d3a-4c4e-9a55-000000000bad")
	if _, reason := seen.last(); status != 502 || reason != "inputs.response_invalid" {
		t.Errorf("undeclared status: %d %s (%s)", status, body, reason)
	}
}

// TestInputsSharesWAF: routes with the same WAF options share one
// compiled WAF.
func TestInputsSharesWAF(t *testing.T) {
	_, _, _, g := inputsGateway(t)
	if n := len(g.Current().inputs.Stats()); n != 2 { // block (notes and note), detect (report)
		t.Errorf("%d WAFs compiled, want 2", n)
	}
}

// TestInputsEncodedBody: an inspected body may not arrive compressed,
// where neither the contract nor the WAF could read it.
func TestInputsEncodedBody(t *testing.T) {
	srv, api, _, _ := inputsGateway(t)
	req, _ := http.NewRequest("POST", srv.URL+"/notes", strings.NewReader("\x1f\x8b garbage"))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 || len(api.reached()) != 0 {
		t.Errorf("compressed body: %d, reached %v", resp.StatusCode, api.reached())
	}
}
