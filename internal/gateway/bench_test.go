package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/accesslog"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/client"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/engine"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/route"
	"github.com/rampart-gw/rampart/internal/secheaders"
)

const benchBody = `{"id":42,"name":"Product 42","price_cents":1654,"tags":["a","b"],"stock":17,"updated":"2026-11-27T12:00:00Z"}`

// discardWriter is a minimal ResponseWriter for in-process benchmarks.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

func benchConfig() *config.Config {
	c := testConfig("http://127.0.0.1:1")
	c.Routes = append(c.Routes, config.Route{Name: "bench", Path: "/api/items/{id}/detail", Methods: []string{"GET"}, Upstream: "api", Public: true})
	return c
}

// BenchmarkPipeline measures what the pipeline adds to one request with
// every stage this build has: engine, client IP and request id, path
// normalization and routing, security headers, metrics and the access log
// (to io.Discard). The terminal handler writes a small JSON body.
func BenchmarkPipeline(b *testing.B) {
	cfg := benchConfig()
	ids := client.NewIDs()
	cs, err := client.New(cfg.Client, client.Deps{IDs: ids})
	if err != nil {
		b.Fatal(err)
	}
	rs, err := route.New(cfg.Paths, route.Deps{Routes: cfg.Routes})
	if err != nil {
		b.Fatal(err)
	}
	names := make([]string, len(cfg.Routes))
	for i, r := range cfg.Routes {
		names[i] = r.Name
	}
	terminal := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchBody)
	})
	for _, tc := range []struct {
		name      string
		observers []pipeline.Observer
		sync      bool // audit.sync: the response's end waits for the event (engine.Options.AwaitRecord)
	}{
		{"stages", nil, false},
		{"stages+metrics", []pipeline.Observer{metrics.New("bench").NewObserver(names)}, false},
		{"stages+metrics+accesslog", []pipeline.Observer{metrics.New("bench").NewObserver(names), accesslog.New(io.Discard)}, false},
		{"stages+metrics+accesslog+audit", []pipeline.Observer{metrics.New("bench").NewObserver(names), accesslog.New(io.Discard), auditObserver(b, false)}, false},
		{"stages+metrics+accesslog+audit(sync)", []pipeline.Observer{metrics.New("bench").NewObserver(names), accesslog.New(io.Discard), auditObserver(b, true)}, true},
	} {
		hs, err := secheaders.New(cfg.Headers, secheaders.Deps{Routes: cfg.Routes})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			p := pipeline.New([]pipeline.RequestStage{cs, rs}, []pipeline.ResponseStage{cs, hs}, tc.observers)
			h := engine.New(p, terminal, engine.Options{MaxHeaderBytes: 32 << 10, MaxBodyBytes: 1 << 20, NewRequestID: ids.Next, AwaitRecord: tc.sync})
			req := httptest.NewRequest("GET", "/api/items/42/detail?x=1", nil)
			req.RemoteAddr = "127.0.0.1:5555"
			req.Header.Set("User-Agent", "bench")
			req.Header.Set("Accept", "application/json")
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() { // one goroutine: ns/op is the CPU cost of a request
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// auditObserver is an audit log in a temporary directory, closed with b.
func auditObserver(b *testing.B, sync bool) pipeline.Observer {
	l, err := audit.Open(audit.Options{Dir: b.TempDir(), Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = l.Close() })
	return audit.NewObserver(l, nil)
}

// BenchmarkProxy compares, over real loopback connections in one run, a
// bare httputil.ReverseProxy (as is, and with a buffer pool) and the
// Rampart gateway, all in front of the same upstream. The ratio of the
// gateway's ns/op to the bare proxy's is its relative cost.
func BenchmarkProxy(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, benchBody)
	}))
	defer up.Close()
	target, _ := url.Parse(up.URL)
	transport := func() *http.Transport {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 256
		return t
	}
	bare := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: transport()}
	pooled := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }, Transport: transport(), BufferPool: &pool{}}
	cfg := benchConfig()
	cfg.Upstreams["api"] = config.Upstream{URL: up.URL, ConnectTimeout: config.Duration(1e9), ResponseHeaderTimeout: config.Duration(1e10),
		IdleConnTimeout: config.Duration(1e10), MaxIdleConns: 256}
	g, err := New(cfg, Deps{Metrics: metrics.New("bench"), AccessLog: accesslog.New(io.Discard)})
	if err != nil {
		b.Fatal(err)
	}
	// With audit.sync every response's last byte waits for its event's
	// fsync (shared by a batch): what the durability costs end to end.
	syncCfg := *cfg
	syncCfg.Audit.Enabled, syncCfg.Audit.Sync = true, true
	gs, err := New(&syncCfg, Deps{Metrics: metrics.New("bench"), AccessLog: accesslog.New(io.Discard), Audit: auditObserver(b, true)})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{{"bare", bare}, {"bare+bufferpool", pooled}, {"rampart", g}, {"rampart+audit(sync)", gs}} {
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(tc.h)
			defer srv.Close()
			c := &http.Client{Transport: transport()}
			url := srv.URL + "/api/items/42/detail"
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Get(url)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

type pool struct{ p sync.Pool }

func (p *pool) Get() []byte {
	if v := p.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, 32<<10)
}
func (p *pool) Put(b []byte) { p.p.Put(&b) }

// BenchmarkInputsPost is the gateway end to end, over loopback, on the
// POST of bench/run.sh's 1 KiB item (rows 21 and 22): the route alone, and
// with the item's OpenAPI contract enforced. The difference is what the
// contract costs a request, body buffering included.
func BenchmarkInputsPost(b *testing.B) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, benchBody)
	}))
	defer up.Close()
	text := strings.Repeat("Sturdy steel widget, powder-coated; fits the standard rail. Ask Ann about bulk orders before noon. ", 10)[:916]
	item := `{"name":"widget","description":"` + text + `","price":19.99,"currency":"EUR","tags":["bench","rampart"],"in_stock":true}`
	for _, tc := range []struct {
		name    string
		openapi *config.RouteOpenAPI
	}{{"route", nil}, {"contract", &config.RouteOpenAPI{Spec: "../../bench/testdata/items.openapi.yaml"}}} {
		cfg := testConfig(up.URL)
		cfg.Routes = []config.Route{{Name: "items", Path: "/api/items/{id}", Methods: []string{"POST"}, Upstream: "api", Public: true, OpenAPI: tc.openapi}}
		config.SetDefaults(cfg)
		g, err := New(cfg, Deps{Metrics: metrics.New("bench"), AccessLog: accesslog.New(io.Discard)})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(tc.name, func(b *testing.B) {
			srv := httptest.NewServer(g)
			defer srv.Close()
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.MaxIdleConnsPerHost = 256
			c := &http.Client{Transport: t}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := c.Post(srv.URL+"/api/items/42", "application/json", strings.NewReader(item))
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
