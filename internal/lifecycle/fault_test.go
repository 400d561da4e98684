package lifecycle

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/faultnet"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/redisconn"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

// The fault tests run the whole gateway (Serve, from a YAML config) on a
// real PostgreSQL or Redis reached through a fault proxy, break the
// network under it while clients keep calling, and check each route's
// documented failure mode, a latency bound derived from the configured
// timeout (a functional bound: a stalled request takes the whole outage,
// not a little longer), recovery, and how many log lines an outage costs.
// Latencies are reported with t.Logf.

// served is a gateway started by Serve.
type served struct {
	url  string
	logs *syncBuffer
}

// serveYAML parses a config as rampart config validate would and serves
// it until the test ends.
func serveYAML(t *testing.T, yaml string) served {
	t.Helper()
	cfg, _, err := config.Parse("fault.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	logs := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan Running, 1)
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, ServeOptions{Config: cfg, Logger: slog.New(slog.NewJSONHandler(logs, nil)), Stdout: io.Discard,
			Started: func(r Running) { started <- r }})
	}()
	var r Running
	select {
	case r = <-started:
	case err := <-done:
		cancel()
		t.Fatalf("Serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("not started")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("no shutdown")
		}
	})
	return served{url: "http://" + r.Listeners[0].String(), logs: logs}
}

// lines counts the log records whose message starts with msg.
func (s served) lines(msg string) int {
	return strings.Count(s.logs.String(), `"msg":"`+msg)
}

// sample is one request's outcome.
type sample struct {
	took   time.Duration
	status int
	reason string // of a problem document
	err    error
}

// request1 makes one request.
func request1(c *http.Client, method, url string, header http.Header) sample {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return sample{err: err}
	}
	req.Header = header
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return sample{took: time.Since(start), err: err}
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	s := sample{took: time.Since(start), status: resp.StatusCode}
	var d struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &d) == nil {
		s.reason = d.Reason
	}
	return s
}

// load runs workers goroutines that each call once per step until
// steps(worker) says stop, and returns every sample.
func load(c *http.Client, workers int, url string, header http.Header, more func(done int) bool) []sample {
	var mu sync.Mutex
	var out []sample
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; more(i); i++ {
				s := request1(c, http.MethodGet, url, header)
				mu.Lock()
				out = append(out, s)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// times is n calls per worker.
func times(n int) func(int) bool { return func(i int) bool { return i < n } }

// until calls until stop is closed.
func until(stop <-chan struct{}) func(int) bool {
	return func(int) bool {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
}

// percentiles returns p50, p99 and the maximum.
func percentiles(ss []sample) (p50, p99, maxd time.Duration) {
	if len(ss) == 0 {
		return 0, 0, 0
	}
	d := make([]time.Duration, len(ss))
	for i, s := range ss {
		d[i] = s.took
	}
	slices.Sort(d)
	return d[len(d)*50/100], d[min(len(d)-1, len(d)*99/100)], d[len(d)-1]
}

// expect checks that every sample has the status (and reason, if any)
// and finished within bound; it returns how many did not.
func expect(t *testing.T, what string, ss []sample, status int, reason string, bound time.Duration) {
	t.Helper()
	bad := 0
	for _, s := range ss {
		if s.err != nil || s.status != status || (reason != "" && s.reason != reason) || s.took > bound {
			if bad < 3 {
				t.Errorf("%s: %d %q in %v (%v), want %d %q within %v", what, s.status, s.reason, s.took, s.err, status, reason, bound)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d requests like the above", what, bad, len(ss))
	}
	p50, p99, mx := percentiles(ss)
	t.Logf("%s: %d requests, p50 %v, p99 %v, max %v", what, len(ss), p50.Round(time.Microsecond), p99.Round(time.Microsecond), mx.Round(time.Microsecond))
}

// waitFor calls until ok says the answer is right, at most within.
func waitFor(t *testing.T, within time.Duration, what string, f func() sample, ok func(sample) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last sample
	defer func() {
		if t.Failed() {
			t.Logf("%s: last answer %d %q (%v)", what, last.status, last.reason, last.err)
		}
	}()
	backgroundtest.Eventually(t, what, within, func() bool {
		last = f() // a poll of a real server, not a wait for a race
		return ok(last)
	})
	return time.Since(start)
}

const (
	storeOutageLine   = "store unavailable;"
	storeRecoveryLine = "store available again"
	auditFailLine     = "audit: a checkpoint could not be published"
)

// TestStoreFaults: PostgreSQL silent, refusing, resetting or slow under a
// running gateway with an API-key route, a public route and the audit log
// keeping its checkpoints in the store. While the store fails, every
// API-key request is refused with 503 authn.store_unavailable within
// store.timeout (+1s), and the public route does not wait for the store at
// all; a slow store under the timeout still serves; once the fault is gone
// keys work again. Each outage is logged once when it starts and once when
// it ends (the audit log adds its own pair for its checkpoint copies).
func TestStoreFaults(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	pg, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	shared := t.TempDir()
	pepper := filepath.Join(shared, "pepper")
	key := func() string {
		st, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: dsn})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		h, err := apikey.LoadOrCreatePepper(pepper)
		if err != nil {
			t.Fatal(err)
		}
		k, _, err := apikey.Create(context.Background(), st, h, apikey.Spec{Name: "fault", Subject: "svc"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()
	up, _ := gatewaytest.Upstream(t)
	const timeout = time.Second
	bound := timeout + time.Second

	for _, tc := range []struct {
		name  string
		fault func(*faultnet.Proxy) error
		// keyed is what API-key requests get during the fault.
		keyed  int
		reason string
		calls  int // per worker during the fault
	}{
		{"blackhole", func(p *faultnet.Proxy) error { return p.Set(faultnet.Blackhole) }, 503, "authn.store_unavailable", 2},
		{"closed", func(p *faultnet.Proxy) error { return p.Set(faultnet.Closed) }, 503, "authn.store_unavailable", 20},
		{"reset", func(p *faultnet.Proxy) error { return p.Set(faultnet.Reset) }, 503, "authn.store_unavailable", 20},
		// 20ms a chunk each way: far under the timeout, even for a new
		// connection's set-up (about eight chunks).
		{"slow", func(p *faultnet.Proxy) error { return p.SetSlow(20 * time.Millisecond) }, 200, "", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := faultnet.New(t, pg.Host)
			through := *pg
			through.Host = p.Addr()
			dir := t.TempDir()
			gw := serveYAML(t, fmt.Sprintf(`version: 1
data_dir: %q
listeners: [{address: "127.0.0.1:0", plaintext: true}]
admin: {disabled: true}
access_log: {disabled: true}
store: {driver: postgres, dsn: %q, timeout: %s}
audit: {enabled: true, checkpoint_interval: 1s}
authn:
  apikey: [{name: keys, pepper_file: %q}]
upstreams: {api: {url: %q}}
routes:
  - {name: public, path: /public, methods: [GET], upstream: api, public: true}
  - {name: keyed, path: /keyed, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`, dir, through.String(), timeout, pepper, up.URL))
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
			defer c.CloseIdleConnections()
			withKey := http.Header{"X-Api-Key": {key}}

			// Healthy, once the store's pool has its connections: the
			// same load as under the fault.
			load(c, 8, gw.url+"/keyed", withKey, times(2))
			stop := make(chan struct{})
			var public []sample
			var pwg sync.WaitGroup
			pwg.Add(1)
			go func() { defer pwg.Done(); public = load(c, 4, gw.url+"/public", nil, until(stop)) }()
			keyed := load(c, 8, gw.url+"/keyed", withKey, times(5))
			close(stop)
			pwg.Wait()
			expect(t, "healthy, api key", keyed, 200, "", bound)
			expect(t, "healthy, public", public, 200, "", bound)
			_, healthyP99, _ := percentiles(public)

			if err := tc.fault(p); err != nil {
				t.Fatal(err)
			}
			stop = make(chan struct{})
			pwg.Add(1)
			go func() { defer pwg.Done(); public = load(c, 4, gw.url+"/public", nil, until(stop)) }()
			keyed = load(c, 8, gw.url+"/keyed", withKey, times(tc.calls))
			if tc.name == "blackhole" {
				// Keep the public load on until the audit log has tried
				// (and failed) to copy a checkpoint to the silent store,
				// so that the two overlap.
				waitFor(t, 5*time.Second, "an audit checkpoint copy to fail", func() sample { return sample{} },
					func(sample) bool { return gw.lines(auditFailLine) > 0 })
			}
			close(stop)
			pwg.Wait()
			expect(t, tc.name+", api key", keyed, tc.keyed, tc.reason, bound)
			expect(t, tc.name+", public", public, 200, "", bound)
			_, faultP99, faultMax := percentiles(public)
			t.Logf("%s: public p99 %v healthy, %v under the fault", tc.name, healthyP99.Round(time.Microsecond), faultP99.Round(time.Microsecond))
			// A public request that waited for the store would take the
			// store's timeout.
			if faultMax >= timeout {
				t.Errorf("%s: a public request took %v: it waited for the store (timeout %v)", tc.name, faultMax, timeout)
			}

			if err := p.Set(faultnet.Pass); err != nil {
				t.Fatal(err)
			}
			took := waitFor(t, 2*timeout, "API keys after the fault", func() sample { return request1(c, "GET", gw.url+"/keyed", withKey) },
				func(s sample) bool { return s.status == 200 })
			t.Logf("%s: API keys served again %v after the fault ended", tc.name, took.Round(time.Millisecond))
			expect(t, "after "+tc.name+", api key", load(c, 8, gw.url+"/keyed", withKey, times(5)), 200, "", bound)

			outages, recoveries := gw.lines(storeOutageLine), gw.lines(storeRecoveryLine)
			t.Logf("%s: log lines: store outage %d, store recovery %d, audit copy failures %d", tc.name, outages, recoveries, gw.lines(auditFailLine))
			want := 1
			if tc.keyed == 200 {
				want = 0 // slow is no outage
			}
			if outages != want || recoveries != want {
				t.Errorf("%s: %d outage and %d recovery lines, want %d each\n%s", tc.name, outages, recoveries, want, gw.logs.String())
			}
			if n := gw.lines(auditFailLine); n > 1 {
				t.Errorf("%s: %d audit copy failure lines for one outage", tc.name, n)
			}
			if n := gw.lines("request refused"); n > 0 {
				t.Errorf("%s: %d per-request refusal lines", tc.name, n)
			}
		})
	}
}

// TestRedisFaults: Redis silent, refusing or resetting under a running
// gateway whose limits and bans live in Redis. A route that fails closed
// answers 503 limits.unavailable and one that fails open answers 200, each
// within redis.timeout (+1s); the ban list keeps answering from its last
// copy (a banned client stays banned, the others pass); once Redis is back
// both limited routes serve. The limits log one line when an outage starts
// and one when it ends; the ban list at most one of each (it notices only
// when it rereads).
func TestRedisFaults(t *testing.T) {
	raw := os.Getenv("RAMPART_TEST_REDIS")
	if raw == "" {
		t.Skip("RAMPART_TEST_REDIS is not set (such as redis://127.0.0.1:6379/15); .ci/run sets it")
	}
	ru, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	up, _ := gatewaytest.Upstream(t)
	const timeout = 200 * time.Millisecond
	bound := timeout + time.Second
	banned := netip.MustParseAddr("192.0.2.66")

	for _, tc := range []struct {
		name  string
		fault faultnet.Mode
		calls int
	}{
		{"blackhole", faultnet.Blackhole, 5},
		{"closed", faultnet.Closed, 20},
		{"reset", faultnet.Reset, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := faultnet.New(t, ru.Host)
			through := *ru
			through.Host = p.Addr()
			gw := serveYAML(t, fmt.Sprintf(`version: 1
data_dir: %q
listeners: [{address: "127.0.0.1:0", plaintext: true}]
admin: {disabled: true}
access_log: {disabled: true}
client: {trusted_proxies: ["127.0.0.0/8"]}
redis: {url: %q, timeout: %s}
limits: {backend: redis}
firewall: {bans: {backend: redis, sync_interval: 500ms}}
upstreams: {api: {url: %q}}
routes:
  - {name: plain, path: /plain, methods: [GET], upstream: api, public: true}
  - {name: fails-closed, path: /closed, methods: [GET], upstream: api, public: true,
     limits: {rates: [{requests: 100000, per: 1s, key: [ip]}], on_backend_error: closed}}
  - {name: fails-open, path: /open, methods: [GET], upstream: api, public: true,
     limits: {rates: [{requests: 100000, per: 1s, key: [ip]}], on_backend_error: open}}
`, t.TempDir(), through.String(), timeout, up.URL))
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, Timeout: 30 * time.Second}
			defer c.CloseIdleConnections()

			// A ban made by another gateway (directly in Redis) reaches
			// this one before the fault.
			rcfg := &config.Redis{URL: raw, Timeout: config.Duration(2 * time.Second), PoolSize: 2}
			rdb, err := redisconn.Open(rcfg)
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			other, err := firewall.NewRedisBans(context.Background(), config.Bans{MaxEntries: 100, MaxTTL: config.Duration(time.Hour)}, rdb, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			ban := netip.PrefixFrom(banned, 32)
			if _, err := other.Add(context.Background(), ban, time.Minute, "fault test"); err != nil {
				t.Fatal(err)
			}
			defer func() { _, _ = other.Remove(context.Background(), ban) }()
			fromBanned := http.Header{"X-Forwarded-For": {banned.String()}}
			waitFor(t, 5*time.Second, "the ban to reach the gateway", func() sample { return request1(c, "GET", gw.url+"/plain", fromBanned) },
				func(s sample) bool { return s.status == http.StatusForbidden })

			healthy := map[string][]sample{}
			for _, path := range []string{"/closed", "/open", "/plain"} {
				healthy[path] = load(c, 4, gw.url+path, nil, times(10))
				expect(t, "healthy "+path, healthy[path], 200, "", bound)
			}

			if err := p.Set(tc.fault); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			got := map[string][]sample{}
			var mu sync.Mutex
			for _, path := range []string{"/closed", "/open", "/plain"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ss := load(c, 4, gw.url+path, nil, times(tc.calls))
					mu.Lock()
					got[path] = ss
					mu.Unlock()
				}()
			}
			wg.Wait()
			expect(t, tc.name+" /closed (fails closed)", got["/closed"], 503, "limits.unavailable", bound)
			expect(t, tc.name+" /open (fails open)", got["/open"], 200, "", bound)
			expect(t, tc.name+" /plain (no limits)", got["/plain"], 200, "", bound)
			for _, path := range []string{"/closed", "/open", "/plain"} {
				_, h99, _ := percentiles(healthy[path])
				_, f99, _ := percentiles(got[path])
				t.Logf("%s %s: p99 %v healthy, %v under the fault", tc.name, path, h99.Round(time.Microsecond), f99.Round(time.Microsecond))
			}
			if _, _, mx := percentiles(got["/plain"]); mx >= timeout+100*time.Millisecond {
				t.Errorf("%s: a request on a route without limits took %v: it waited for Redis", tc.name, mx)
			}
			if s := request1(c, "GET", gw.url+"/plain", fromBanned); s.status != http.StatusForbidden || s.reason != firewall.ReasonBanned {
				t.Errorf("%s: the banned client during the fault: %d %q", tc.name, s.status, s.reason)
			}

			if err := p.Set(faultnet.Pass); err != nil {
				t.Fatal(err)
			}
			took := waitFor(t, 5*time.Second, "the fail-closed route after the fault", func() sample { return request1(c, "GET", gw.url+"/closed", nil) },
				func(s sample) bool { return s.status == 200 })
			t.Logf("%s: limits decided again %v after the fault ended", tc.name, took.Round(time.Millisecond))
			expect(t, "after "+tc.name+" /closed", load(c, 4, gw.url+"/closed", nil, times(5)), 200, "", bound)

			limOut, limBack := gw.lines("limits back end failed"), gw.lines("limits back end answering again")
			banOut, banBack := gw.lines("bans: redis unavailable"), gw.lines("bans: redis available again")
			t.Logf("%s: log lines: limits outage %d, recovery %d; bans outage %d, recovery %d", tc.name, limOut, limBack, banOut, banBack)
			if limOut != 1 || limBack != 1 {
				t.Errorf("%s: limits logged %d outage and %d recovery lines, want 1 each\n%s", tc.name, limOut, limBack, gw.logs.String())
			}
			if banOut > 1 || banBack > 1 {
				t.Errorf("%s: bans logged %d outage and %d recovery lines, want at most 1 each", tc.name, banOut, banBack)
			}
			if n := gw.lines("request refused"); n > 0 {
				t.Errorf("%s: %d per-request refusal lines", tc.name, n)
			}
		})
	}
}
