package gateway

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// recordsUpstream serves JSON lists of ?n= records: /list (an array with a
// Content-Length), /page (an object with the records under "items") and
// /stream (an array sent in chunks, with no length).
func recordsUpstream(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		items := make([]map[string]any, n)
		for i := range items {
			items[i] = map[string]any{"id": i, "name": fmt.Sprintf("product [%d], \"quoted\"", i)}
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/list":
			b, _ := json.Marshal(items)
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		case "/page":
			b, _ := json.Marshal(map[string]any{"total": n, "items": items, "next": "/page?after=x"})
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		case "/stream":
			_, _ = w.Write([]byte("["))
			for i, it := range items {
				if i > 0 {
					_, _ = w.Write([]byte(","))
				}
				b, _ := json.Marshal(it)
				_, _ = w.Write(b)
				w.(http.Flusher).Flush()
			}
			_, _ = w.Write([]byte("]"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRecordsPerSession(t *testing.T) {
	up := recordsUpstream(t)
	cfg := testConfig(up.URL)
	route := func(name, path, recPath, action string, max int64) config.Route {
		return config.Route{Name: name, Path: path, Methods: []string{"GET"}, Upstream: "api", Public: true,
			Limits: &config.RouteLimits{Records: &config.Records{Max: max, Path: recPath, Action: action}}}
	}
	cfg.Routes = []config.Route{
		route("list", "/list", "", "refuse", 10),
		route("page", "/page", "$.items", "truncate", 6),
		route("stream", "/stream", "", "refuse", 5),
	}
	config.SetDefaults(cfg)
	if probs := config.Validate(cfg); hasError(probs) {
		t.Fatal(probs)
	}
	rec := &recordsSeen{}
	g, err := New(cfg, Deps{Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	type step struct {
		path    string
		status  int
		records int // in the body the client got
		reason  string
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"refuse: a response that would pass the threshold is not sent", []step{
			{"/list?n=4", 200, 4, ""},
			{"/list?n=4", 200, 4, ""},
			{"/list?n=4", 429, 0, "limits.records_exceeded"}, // 2 left: nothing sent, nothing charged
			{"/list?n=2", 200, 2, ""},
			{"/list?n=1", 429, 0, "limits.records_exceeded"}, // refused before the upstream
		}},
		{"truncate: $.items cut to what is left", []step{
			{"/page?n=4", 200, 4, ""},
			{"/page?n=4", 200, 2, ""},
			{"/page?n=4", 429, 0, "limits.records_exceeded"},
		}},
		{"chunked: counted as it streams, the next request refused", []step{
			{"/stream?n=8", 200, 8, ""},
			{"/stream?n=1", 429, 0, "limits.records_exceeded"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i, s := range tc.steps {
				resp, body := do(t, mustRequest(t, "GET", srv.URL+s.path))
				if resp.StatusCode != s.status {
					t.Fatalf("step %d %s: status %d, want %d: %s", i, s.path, resp.StatusCode, s.status, body)
				}
				if s.status == 429 {
					if doc := decodeProblem(t, resp, body); doc.Reason != s.reason {
						t.Fatalf("step %d: reason %q", i, doc.Reason)
					}
					if resp.Header.Get("Retry-After") == "" {
						t.Errorf("step %d: no Retry-After", i)
					}
					continue
				}
				if got := countRecords(t, body); got != s.records {
					t.Fatalf("step %d %s: %d records, want %d: %s", i, s.path, got, s.records, body)
				}
				if got := rec.last(); got != int64(s.records) {
					t.Fatalf("step %d: the exchange says %d records were sent, want %d", i, got, s.records)
				}
				if strings.HasPrefix(s.path, "/page") && !strings.Contains(body, `"next":"/page?after=x"`) {
					t.Fatalf("step %d: the rest of the document was lost: %s", i, body)
				}
				if resp.Header.Get("RateLimit") == "" && !strings.HasPrefix(s.path, "/stream") {
					t.Errorf("step %d: no RateLimit header", i)
				}
			}
		})
	}
}

// recordsSeen is an observer keeping the last exchange's record count,
// as the audit log sees it.
type recordsSeen struct {
	mu sync.Mutex
	n  int64
}

func (r *recordsSeen) Observe(x *pipeline.Exchange) {
	r.mu.Lock()
	r.n = x.Response.Records
	r.mu.Unlock()
}
func (r *recordsSeen) last() int64 { r.mu.Lock(); defer r.mu.Unlock(); return r.n }

func countRecords(t *testing.T, body string) int {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	if m, ok := v.(map[string]any); ok {
		v = m["items"]
	}
	return len(v.([]any))
}

// TestRecordsCannotBeDodged covers the ways around the threshold found in
// review: hanging up mid-stream, asking for ranges, and compression.
func TestRecordsCannotBeDodged(t *testing.T) {
	var sawRange, sawEncoding atomic.Value
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawRange.Store(r.Header.Get("Range"))
		sawEncoding.Store(r.Header.Get("Accept-Encoding"))
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		items := make([]int, n)
		b, _ := json.Marshal(items)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/gz": // compresses whenever it may
			if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				w.Header().Set("Content-Encoding", "gzip")
				zw := gzip.NewWriter(w)
				_, _ = zw.Write(b)
				_ = zw.Close()
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(b)))
			_, _ = w.Write(b)
		case "/stubborn": // compresses even when asked not to
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = zw.Write(b)
			_ = zw.Close()
		case "/big": // a long stream, slowly
			_, _ = w.Write([]byte("["))
			for i := range n {
				if i > 0 {
					_, _ = w.Write([]byte(","))
				}
				_, _ = w.Write([]byte(`{"id":1}`))
				if i%100 == 0 {
					w.(http.Flusher).Flush()
				}
			}
			_, _ = w.Write([]byte("]"))
		}
	}))
	t.Cleanup(up.Close)
	cfg := testConfig(up.URL)
	route := func(name, path string) config.Route {
		return config.Route{Name: name, Path: path, Methods: []string{"GET"}, Upstream: "api", Public: true,
			Limits: &config.RouteLimits{Records: &config.Records{Max: 10}}}
	}
	cfg.Routes = []config.Route{route("gz", "/gz"), route("stubborn", "/stubborn"), route("big", "/big")}
	config.SetDefaults(cfg)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	// Compression: identity is asked for, so the body is counted before it
	// is sent and refused whole.
	req := mustRequest(t, "GET", srv.URL+"/gz?n=20")
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("Range", "bytes=0-10")
	resp, body := do(t, req)
	if resp.StatusCode != 429 || !strings.Contains(body, "limits.records_exceeded") {
		t.Fatalf("20 records through a gzip upstream: %d %s", resp.StatusCode, body)
	}
	if sawEncoding.Load() != "identity" || sawRange.Load() != "" {
		t.Fatalf("upstream saw Accept-Encoding %q, Range %q", sawEncoding.Load(), sawRange.Load())
	}
	// An upstream that compresses anyway cannot be counted: refused.
	resp, body = do(t, mustRequest(t, "GET", srv.URL+"/stubborn?n=1"))
	if resp.StatusCode != 502 || !strings.Contains(body, "limits.records_uncountable") {
		t.Fatalf("a compressed body on a records route: %d %s", resp.StatusCode, body)
	}
	// Hanging up mid-stream: what was read still counts.
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /big?n=100000 HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	if _, err := io.ReadAtLeast(c, buf, 2048); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()
	// The proxy sees the aborted stream when its copy fails, after the
	// client has gone.
	backgroundtest.Eventually(t, "the records of an aborted stream counted", 5*time.Second, func() bool {
		resp, body := do(t, mustRequest(t, "GET", srv.URL+"/big?n=1"))
		return resp.StatusCode == 429 && strings.Contains(body, "limits.records_exceeded")
	})
}
