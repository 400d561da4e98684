package gateway

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
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
	g, err := New(cfg, Deps{})
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
