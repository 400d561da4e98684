package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/problem"
	"github.com/rampart-gw/rampart/internal/store"
)

func upstream(t *testing.T) (*httptest.Server, *gatewaytest.Seen) { return gatewaytest.Upstream(t) }

func testConfig(upstreamURL string) *config.Config { return gatewaytest.Config(upstreamURL) }

// recorder is an Observer that keeps the last exchange's key fields.
type recorder struct {
	mu       sync.Mutex
	path     string
	status   int
	reason   string
	requests int
}

func (r *recorder) Observe(x *pipeline.Exchange) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.path, r.status, r.requests = x.Path, x.Response.Status, r.requests+1
	r.reason = ""
	if x.Denial != nil {
		r.reason = x.Denial.Reason
	}
}

func newGateway(t *testing.T) (*httptest.Server, *gatewaytest.Seen, *recorder) {
	t.Helper()
	up, s := upstream(t)
	rec := &recorder{}
	g, err := New(testConfig(up.URL), Deps{AccessLog: rec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv, s, rec
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestForwarding(t *testing.T) {
	gw, s, _ := newGateway(t)
	req, _ := http.NewRequest("GET", gw.URL+"/api/items/%34%32?q=1", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Port", "443")
	req.Header.Set("Forwarded", "for=6.6.6.6")
	req.Header.Set("X-Real-IP", "6.6.6.6")
	req.Header.Set("X-Rampart-Subject", "alice")
	req.Header.Set("x-rampart-roles", "admin")
	req.Header.Set("X-Request-Id", "forged-id")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "secret")
	req.Header.Set("Keep-Alive", "timeout=5")
	req.Header.Set("Authorization", "Bearer kept")
	req.Header["X_forwarded_for"] = []string{"6.6.6.6"}
	req.Header["X-Rampart_identity"] = []string{"admin"}
	req.Header.Set("X-Original-URL", "/api/admin/stats")
	req.Header.Set("X-Rewrite-URL", "/api/admin/stats")
	req.Header.Set("X-HTTP-Method-Override", "DELETE")
	req.Header.Set("True-Client-IP", "6.6.6.6")
	req.Header.Set("X-Client-IP", "6.6.6.6")
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	path, query, h, _ := s.Get()
	if path != "/api/items/42" || query != "q=1" {
		t.Errorf("upstream got %q ? %q", path, query)
	}
	// The peer (127.0.0.1) is a trusted proxy in this config, so the
	// client's X-Forwarded-For is believed as the client IP...
	if got := h.Values("X-Forwarded-For"); len(got) != 1 || got[0] != "6.6.6.6" {
		t.Errorf("X-Forwarded-For = %v", got)
	}
	// ...and so is its X-Forwarded-Proto: the client reached the trusted
	// proxy over TLS.
	if got := h.Get("X-Forwarded-Proto"); got != "https" {
		t.Errorf("X-Forwarded-Proto = %q, want https from the trusted proxy", got)
	}
	if got := h.Get("X-Forwarded-Host"); got != strings.TrimPrefix(gw.URL, "http://") {
		t.Errorf("X-Forwarded-Host = %q", got)
	}
	for _, name := range []string{"Forwarded", "X-Real-Ip", "X-Forwarded-Port", "X-Rampart-Subject", "X-Rampart-Roles", "X-Hop", "Keep-Alive",
		"X_forwarded_for", "X-Rampart_identity", "X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "True-Client-Ip", "X-Client-Ip",
		"Upgrade", "Http2-Settings"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s reached the upstream: %q", name, v)
		}
	}
	if h.Get("Authorization") != "Bearer kept" {
		t.Error("Authorization should pass through (authn is not in this build)")
	}
	id := h.Get("X-Request-Id")
	if id == "" || id == "forged-id" {
		t.Errorf("request id upstream = %q", id)
	}
	if resp.Header.Get("X-Request-Id") != id {
		t.Errorf("request id to client = %q, upstream %q", resp.Header.Get("X-Request-Id"), id)
	}
	for _, name := range []string{"Server", "X-Powered-By"} {
		if v := resp.Header.Get(name); v != "" {
			t.Errorf("%s reached the client: %q", name, v)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("security headers missing: %v", resp.Header)
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS although the trusted proxy terminated TLS")
	}
}

func TestUntrustedPeerCannotSpoof(t *testing.T) {
	up, s := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Client.TrustedProxies = nil
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()
	req, _ := http.NewRequest("GET", gw.URL+"/api/items/1", nil)
	req.Header.Set("X-Forwarded-For", "6.6.6.6")
	req.Header.Set("X-Forwarded-Proto", "https")
	resp, _ := do(t, req)
	_, _, h, _ := s.Get()
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" {
		t.Errorf("X-Forwarded-For = %q, -Proto = %q, want the peer's", h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"))
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on plain HTTP from an untrusted peer")
	}
}

// TestQueryCannotBreakRequestLine: whatever the client puts in the query,
// the upstream's request line stays one method, one target, one version.
func TestQueryCannotBreakRequestLine(t *testing.T) {
	gw, s, _ := newGateway(t)
	addr := strings.TrimPrefix(gw.URL, "http://")
	for _, tc := range []struct{ raw, want string }{
		{"/api/items/1?a=1&b=%20x", "a=1&b=%20x"},
		{"/api/items/1?q=<script>|{}^`\\", "q=%3Cscript%3E%7C%7B%7D%5E%60%5C"},
		{"/api/items/1?bad=%zz&pct=%", "bad=%25zz&pct=%25"},
		{"/api/items/1?caf\xc3\xa9", "caf%C3%A9"},
		{"/api/items/1?filter[name]=x", "filter%5Bname%5D=x"},
	} {
		if status := rawGet(t, addr, tc.raw); status != 200 {
			t.Errorf("%s: status %d", tc.raw, status)
			continue
		}
		if _, q, _, _ := s.Get(); q != tc.want {
			t.Errorf("%s: upstream query %q, want %q", tc.raw, q, tc.want)
		}
	}
}

// TestNoProtocolUpgrade: an Upgrade (h2c, websocket) never reaches the
// upstream, so no tunnel can carry requests past routing.
func TestNoProtocolUpgrade(t *testing.T) {
	gw, s, _ := newGateway(t)
	for _, up := range []string{"h2c", "websocket"} {
		req := mustRequest(t, "GET", gw.URL+"/api/items/1")
		req.Header.Set("Connection", "Upgrade, HTTP2-Settings")
		req.Header.Set("Upgrade", up)
		req.Header.Set("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")
		resp, _ := do(t, req)
		_, _, h, _ := s.Get()
		if resp.StatusCode != 200 || h.Get("Upgrade") != "" || h.Get("Http2-Settings") != "" || strings.Contains(strings.ToLower(h.Get("Connection")), "upgrade") {
			t.Errorf("%s: status %d, upstream headers %v", up, resp.StatusCode, h)
		}
	}
}

func decodeProblem(t *testing.T, resp *http.Response, body string) problem.Document {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type = %q, body %s", ct, body)
	}
	var d problem.Document
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("bad problem body %q: %v", body, err)
	}
	if d.RequestID == "" || d.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("problem request id %q, header %q", d.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("problem lacks nosniff")
	}
	return d
}

func TestRefusals(t *testing.T) {
	gw, _, rec := newGateway(t)
	big := strings.Repeat("a", 5000)
	tests := []struct {
		name, method, path string
		header             http.Header
		body               io.Reader
		length             int64
		status             int
		reason             string
	}{
		{"no route", "GET", "/nope", nil, nil, 0, 404, "route.not_found"},
		{"method", "DELETE", "/api/items/1", nil, nil, 0, 405, "route.method_not_allowed"},
		{"encoded slash", "GET", "/api/admin%2fstats", nil, nil, 0, 400, "route.bad_path"},
		{"traversal", "GET", "/../etc/passwd", nil, nil, 0, 400, "route.bad_path"},
		{"headers too large", "GET", "/api/items/1", http.Header{"X-Big": {big}}, nil, 0, 431, "listener.headers_too_large"},
		{"body too large", "POST", "/upload", nil, strings.NewReader(strings.Repeat("b", 2000)), 2000, 413, "listener.body_too_large"},
		{"chunked body too large", "POST", "/upload", nil, io.MultiReader(strings.NewReader(strings.Repeat("b", 2000))), -1, 413, "listener.body_too_large"},
		{"upstream down", "GET", "/dead", nil, nil, 0, 502, "upstream.unavailable"},
		{"upstream slow", "GET", "/slow", nil, nil, 0, 504, "upstream.timeout"},
		{"bad forwarding header", "GET", "/api/items/1", http.Header{"X-Forwarded-For": {"nonsense"}}, nil, 0, 400, "client.bad_forwarding_header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, gw.URL+tt.path, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			req.URL.Opaque = tt.path // send the path exactly as written
			req.ContentLength = tt.length
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, body := do(t, req)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			d := decodeProblem(t, resp, body)
			if d.Reason != tt.reason || d.Status != tt.status {
				t.Errorf("problem = %+v, want reason %s", d, tt.reason)
			}
			for _, leak := range []string{"127.0.0.1:1", "dial", "timeout awaiting", "connection refused"} {
				if strings.Contains(body, leak) {
					t.Errorf("body leaks internals (%q): %s", leak, body)
				}
			}
			if tt.status == 405 && resp.Header.Get("Allow") != "GET, HEAD, PUT" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
			rec.mu.Lock()
			defer rec.mu.Unlock()
			if rec.status != tt.status || rec.reason != tt.reason {
				t.Errorf("observed status %d reason %q", rec.status, rec.reason)
			}
		})
	}
}

func TestUpstreamErrorStatusPassesThrough(t *testing.T) {
	gw, _, _ := newGateway(t)
	resp, _ := do(t, mustRequest(t, "GET", gw.URL+"/boom"))
	if resp.StatusCode != 500 {
		t.Errorf("status = %d", resp.StatusCode)
	}
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestRawPathsSeenAlike sends raw request lines: whatever route a path is
// matched to, the upstream receives exactly the path that was routed.
func TestRawPathsSeenAlike(t *testing.T) {
	gw, s, rec := newGateway(t)
	addr := strings.TrimPrefix(gw.URL, "http://")
	for _, raw := range []string{
		"/api/items/%2e%2e/%2e%2e/api/admin/stats", "//api/admin/stats", "/api/items/42/", "/any/a/./b/../c",
		"/any/%E2%82%AC", "/any/a%3Fb", "/any/a%23b", "/any/a%20b",
	} {
		status := rawGet(t, addr, raw)
		rec.mu.Lock()
		routed := rec.path
		rec.mu.Unlock()
		path, _, _, _ := s.Get()
		if status != 200 || path != routed {
			t.Errorf("%s: status %d, routed %q, upstream saw %q", raw, status, routed, path)
		}
	}
}

func rawGet(t *testing.T, addr, path string) int {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n", path)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func TestReload(t *testing.T) {
	up, _ := upstream(t)
	cfg := testConfig(up.URL)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()
	if resp, _ := do(t, mustRequest(t, "GET", gw.URL+"/new")); resp.StatusCode != 404 {
		t.Fatalf("before reload: %d", resp.StatusCode)
	}
	next := testConfig(up.URL)
	next.Routes = append(next.Routes, config.Route{Name: "new", Path: "/new", Methods: []string{"GET"}, Upstream: "api", Public: true})
	if err := g.Reload(next, time.Millisecond); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if resp, _ := do(t, mustRequest(t, "GET", gw.URL+"/new")); resp.StatusCode != 200 {
		t.Fatalf("after reload: %d", resp.StatusCode)
	}
	// A config that fails to build leaves the running one in place.
	bad := testConfig(up.URL)
	bad.Routes = append(bad.Routes, bad.Routes[0])
	if err := g.Reload(bad, time.Millisecond); err == nil {
		t.Fatal("conflicting routes accepted on reload")
	}
	if resp, _ := do(t, mustRequest(t, "GET", gw.URL+"/new")); resp.StatusCode != 200 {
		t.Fatalf("after failed reload: %d", resp.StatusCode)
	}
}

// TestReloadNamesRestartSettings: a reload that changes what the process
// opened at start (here the store, which the old hand-written list missed,
// and protect.redact_logs) applies the rest, keeps the old values, and
// says which settings wait for a restart.
func TestReloadNamesRestartSettings(t *testing.T) {
	up, _ := upstream(t)
	cfg := testConfig(up.URL)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	next := testConfig(up.URL)
	next.Store.Path = filepath.Join(t.TempDir(), "other.db")
	off := false
	next.Protect.RedactLogs = &off
	next.Routes = append(next.Routes, config.Route{Name: "new", Path: "/new", Methods: []string{"GET"}, Upstream: "api", Public: true})
	err = g.Reload(next, time.Millisecond)
	if !errors.Is(err, ErrRestartNeeded) || !strings.Contains(err.Error(), ": store, protect.redact_logs") {
		t.Fatalf("reload: %v", err)
	}
	cur := g.Current().Config
	if cur.Store.Path != cfg.Store.Path || cur.Protect.RedactLogs != cfg.Protect.RedactLogs || len(cur.Routes) != len(cfg.Routes)+1 {
		t.Fatalf("after reload: store %q, redact_logs %v, %d routes", cur.Store.Path, cur.Protect.RedactLogs, len(cur.Routes))
	}
}

// FuzzPathsSeenAlike checks that authorization (the routed path) and the
// upstream always see the same path, for any request target.
func FuzzPathsSeenAlike(f *testing.F) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path) // the body, not a header: header values lose surrounding spaces
	}))
	defer up.Close()
	rec := &recorder{}
	g, err := New(testConfig(up.URL), Deps{AccessLog: rec})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/any/a", "/any/%2e%2e/x", "/any//a/./b", "/any/%E2%82%AC", "/any/a%3Fb", "/any/%25"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		req := httptest.NewRequest("GET", "/", nil)
		req.RequestURI = target
		req.URL.Path, req.URL.RawPath = target, ""
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != 200 {
			return
		}
		rec.mu.Lock()
		routed := rec.path
		rec.mu.Unlock()
		if got := w.Body.String(); got != routed {
			t.Fatalf("target %q: routed %q, upstream saw %q", target, routed, got)
		}
	})
}

// TestFailedBuildStopsWhatItStarted is the regression test for a reload
// that fails after API key authenticators started their writers.
func TestFailedBuildStopsWhatItStarted(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := testConfig("http://127.0.0.1:1")
	cfg.Authn.APIKey = []config.APIKeyAuth{{Name: "keys", Header: "X-API-Key", PepperFile: filepath.Join(dir, "pepper")}}
	cfg.Authn.Introspection = []config.Introspection{{Name: "as", URL: "https://as.invalid/introspect", ClientID: "x",
		ClientSecretFile: filepath.Join(dir, "missing-secret")}}
	before := runtime.NumGoroutine()
	for range 5 {
		if _, err := Build(cfg, Deps{Store: st}); err == nil {
			t.Fatal("build with a missing secret file succeeded")
		}
	}
	// Stopped goroutines exit asynchronously; leaked ones never do.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+1 && time.Now().Before(deadline) {
		runtime.Gosched()
	}
	if after := runtime.NumGoroutine(); after > before+1 {
		t.Errorf("%d goroutines before 5 failed builds, %d after", before, after)
	}
}
