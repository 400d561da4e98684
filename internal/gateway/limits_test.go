package gateway

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/limits"
	"github.com/rampart-gw/rampart/internal/redisconn"
)

// TestClusterRateAccuracy runs three gateways on one Redis and hammers one
// shared limit of N per minute through all three at once: the number
// admitted must be what GCRA allows in the time taken (the burst of N,
// plus one per N-th of a minute), within 1% of N.
func TestClusterRateAccuracy(t *testing.T) {
	url := os.Getenv("RAMPART_TEST_REDIS")
	if url == "" {
		t.Skip("RAMPART_TEST_REDIS is not set (such as redis://127.0.0.1:6379/15); .ci/run sets it")
	}
	const n = 600 // per minute: one more every 100ms
	up, _ := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Redis = &config.Redis{URL: url}
	cfg.Limits.Backend = "redis"
	cfg.Routes[0].Limits = &config.RouteLimits{Rates: []config.Rate{{Name: "shared", Key: []string{"global"}, Requests: n, Per: config.Duration(time.Minute)}}}
	config.SetDefaults(cfg)
	cfg.Redis.Timeout = config.Duration(2 * time.Second) // the race detector is slow; this test is about counting
	if probs := config.Validate(cfg); hasError(probs) {
		t.Fatal(probs)
	}
	prefix := fmt.Sprintf("rampart-test:%s:%d:", t.Name(), time.Now().UnixNano())
	var urls []string
	for range 3 {
		rdb, err := redisconn.Open(cfg.Redis)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		backend := limits.NewRedis(rdb, limits.RedisOptions{Prefix: prefix, Timeout: cfg.Redis.Timeout.Std()})
		t.Cleanup(func() { _ = backend.Close() })
		g, err := New(cfg, Deps{Counters: backend})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(g.Current().Close)
		srv := httptest.NewServer(g)
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	var admitted, refused atomic.Int64
	var odd atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 24 { // eight clients per gateway
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			for range 250 {
				resp, err := c.Get(urls[w%3] + "/api/items/1")
				if err != nil {
					odd.Store(err.Error())
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				switch resp.StatusCode {
				case 200:
					admitted.Add(1)
				case 429:
					refused.Add(1)
				default:
					odd.Store(resp.Status)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if v := odd.Load(); v != nil {
		t.Fatalf("unexpected answer: %v", v)
	}
	interval := time.Minute / n
	low, high := int64(n), int64(n)+int64(elapsed/interval)+1
	got := admitted.Load()
	tol := int64(n / 100)
	t.Logf("admitted %d, refused %d in %v through 3 gateways; GCRA allows %d..%d", got, refused.Load(), elapsed, low, high)
	if got < low-tol || got > high+tol {
		t.Fatalf("admitted %d, want %d..%d within 1%% of %d", got, low, high, n)
	}
}

func hasError(ps []config.Problem) bool {
	for _, p := range ps {
		if !p.Warning {
			return true
		}
	}
	return false
}

// TestLimitHeaders checks the headers of admitted and refused responses
// end to end, and that the 429 is a problem document.
func TestLimitHeaders(t *testing.T) {
	up, _ := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Routes[0].Limits = &config.RouteLimits{Rates: []config.Rate{{Name: "burst", Requests: 1, Per: config.Duration(time.Hour), Burst: 2}}}
	config.SetDefaults(cfg)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	want := []struct {
		status           int
		rateLimit, retry string
	}{
		{200, `"burst";r=1;t=3600`, ""},
		{200, `"burst";r=0;t=7200`, ""},
		{429, `"burst";r=0;t=3600`, "3600"},
	}
	for i, w := range want {
		resp, body := do(t, mustRequest(t, "GET", srv.URL+"/api/items/1"))
		if resp.StatusCode != w.status || resp.Header.Get("RateLimit") != w.rateLimit || resp.Header.Get("Retry-After") != w.retry {
			t.Errorf("request %d: %d RateLimit=%q Retry-After=%q", i, resp.StatusCode, resp.Header.Get("RateLimit"), resp.Header.Get("Retry-After"))
		}
		if got := resp.Header.Get("RateLimit-Policy"); got != `"burst";q=2;w=7200` {
			t.Errorf("request %d: RateLimit-Policy %q", i, got)
		}
		if w.status == 429 {
			if doc := decodeProblem(t, resp, body); doc.Reason != "limits.rate_exceeded" {
				t.Errorf("reason %q", doc.Reason)
			}
		}
	}
	// Other routes carry no limit headers.
	if resp, _ := do(t, mustRequest(t, "GET", srv.URL+"/api/admin/stats")); resp.Header.Get("RateLimit") != "" {
		t.Errorf("unlimited route has RateLimit %q", resp.Header.Get("RateLimit"))
	}
}

// TestFirewallThroughGateway checks route firewall rules against the real
// peer address and against X-Forwarded-For from trusted and untrusted
// peers.
func TestFirewallThroughGateway(t *testing.T) {
	up, _ := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Client.TrustedProxies = []string{"127.0.0.3/32"}
	cfg.Routes[1].Firewall = &config.RouteFirewall{Allow: []string{"127.0.0.1"}}
	cfg.Firewall.Deny = []string{"10.66.0.0/16", "2001:db8:bad::/48"}
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
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	for _, tc := range []struct {
		name, from, xff, path string
		status                int
		reason                string
	}{
		{"admin from 127.0.0.1", "127.0.0.1", "", "/api/admin/stats", 200, ""},
		{"admin from 127.0.0.2", "127.0.0.2", "", "/api/admin/stats", 403, "firewall.not_allowed"},
		{"other route from 127.0.0.2", "127.0.0.2", "", "/api/items/1", 200, ""},
		{"untrusted peer cannot claim 127.0.0.1", "127.0.0.2", "127.0.0.1", "/api/admin/stats", 403, "firewall.not_allowed"},
		{"trusted proxy forwards a denied network", "127.0.0.3", "10.66.1.2", "/api/items/1", 403, "firewall.denied"},
		{"trusted proxy forwards a denied v6 network", "127.0.0.3", "2001:db8:bad::1", "/api/items/1", 403, "firewall.denied"},
		{"trusted proxy forwards a v4-mapped denied address", "127.0.0.3", "::ffff:10.66.1.2", "/api/items/1", 403, "firewall.denied"},
		{"trusted proxy forwards an outsider to admin", "127.0.0.3", "192.0.2.1", "/api/admin/stats", 403, "firewall.not_allowed"},
		{"untrusted peer's XFF of a denied network is ignored", "127.0.0.2", "10.66.1.2", "/api/items/1", 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(tc.from)}}
			c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			}}}
			req := mustRequest(t, "GET", srv.URL+tc.path)
			if tc.xff != "" {
				req.Header.Set("X-Forwarded-For", tc.xff)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.reason != "" {
				if doc := decodeProblem(t, resp, string(body)); doc.Reason != tc.reason {
					t.Fatalf("reason %q, want %q", doc.Reason, tc.reason)
				}
			}
		})
	}
}
