package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// clock is an injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// build validates a limits config the way rampart serve does and compiles
// it over backend.
func build(t *testing.T, y string, backend Backend, now func() time.Time) *Limiter {
	t.Helper()
	cfg, _, err := config.Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	l, err := New(cfg.Limits, Deps{Routes: cfg.Routes, Backend: backend, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = backend.Close() })
	return l
}

const base = `
version: 1
listeners: [{address: "127.0.0.1:8443", plaintext: true}]
upstreams: {api: {url: "http://127.0.0.1:9"}}
authn: {apikey: [{name: keys}]}
`

type result struct {
	status  int
	reason  string
	headers map[string]string
	retry   string
}

// run sends one request through the limits stage (pre-auth first, like the
// gateway) and returns what the client would see of it.
func run(l *Limiter, route int, id *pipeline.Identity, ip string) result {
	x := &pipeline.Exchange{}
	x.Reset()
	x.ClientIP = netip.MustParseAddr(ip)
	x.Route = &pipeline.Route{Index: route, Name: fmt.Sprintf("r%d", route)}
	x.Identity = id
	x.RequestID = "req"
	var err error
	if pre := l.PreAuth(); pre != nil {
		err = pre.Request(context.Background(), x)
	}
	if err == nil {
		err = l.Stage().Request(context.Background(), x)
	}
	r := result{status: 200, headers: map[string]string{}}
	for _, e := range x.ResponseHeaders {
		r.headers[e.Name] = e.Value
	}
	if err != nil {
		d, ok := pipeline.AsDenial(err)
		if !ok {
			r.status, r.reason = 500, err.Error()
			return r
		}
		r.status, r.reason, r.retry = d.Status, d.Reason, d.Header.Get("Retry-After")
	}
	p := pipeline.New(nil, nil, nil)
	p.Finish(x) // releases concurrency slots
	return r
}

func alice(roles ...string) *pipeline.Identity {
	return &pipeline.Identity{Subject: "alice", Roles: roles, CredentialID: "key-a"}
}

func count(l *Limiter, n, route int, id *pipeline.Identity, ip string) (admitted int, last result) {
	for range n {
		last = run(l, route, id, ip)
		if last.status == 200 {
			admitted++
		}
	}
	return admitted, last
}

func TestRateGCRA(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: burst, requests: 10, per: 1s, burst: 20}]}}
`, NewMemory(1000, c.Now), c.Now)
	n, last := count(l, 25, 0, alice(), "192.0.2.1")
	if n != 20 {
		t.Fatalf("admitted %d at once, want the burst of 20", n)
	}
	if last.status != 429 || last.reason != "limits.rate_exceeded" || last.retry != "1" {
		t.Fatalf("refusal = %+v", last)
	}
	if got := last.headers["RateLimit"]; got != `"burst";r=0;t=1` {
		t.Errorf("RateLimit = %q", got)
	}
	if got := last.headers["RateLimit-Policy"]; got != `"burst";q=20;w=2` {
		t.Errorf("RateLimit-Policy = %q", got)
	}
	c.Add(100 * time.Millisecond) // one emission interval: one more request
	if n, _ := count(l, 3, 0, alice(), "192.0.2.1"); n != 1 {
		t.Fatalf("after 100ms admitted %d, want 1", n)
	}
	c.Add(time.Second) // ten more
	if n, _ := count(l, 15, 0, alice(), "192.0.2.1"); n != 10 {
		t.Fatalf("after 1s admitted %d, want 10", n)
	}
	// Another subject has its own counter; so has an anonymous client, by IP.
	if n, _ := count(l, 5, 0, &pipeline.Identity{Subject: "bob"}, "192.0.2.1"); n != 5 {
		t.Fatalf("bob admitted %d of 5", n)
	}
	if r := run(l, 0, nil, "192.0.2.9"); r.status != 200 {
		t.Fatalf("anonymous = %+v", r)
	}
}

func TestQuotaCalendarDay(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no time zone data:", err)
	}
	// 23:59:30 in Paris.
	c := &clock{t: time.Date(2026, 11, 27, 23, 59, 30, 0, paris)}
	l := build(t, base+`
limits:
  time_zone: Europe/Paris
  plans:
    - {name: reader, roles: [reader], quotas: [{name: daily, period: day, requests: 3}]}
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`, NewMemory(1000, c.Now), c.Now)
	n, last := count(l, 5, 0, alice("reader"), "192.0.2.1")
	if n != 3 || last.reason != "limits.quota_exceeded" {
		t.Fatalf("admitted %d, last %+v", n, last)
	}
	if last.retry != "30" || last.headers["RateLimit"] != `"daily";r=0;t=30` {
		t.Errorf("retry = %q, RateLimit = %q; want 30s to midnight in Paris", last.retry, last.headers["RateLimit"])
	}
	// An identity without the role has no plan and no limit.
	if n, _ := count(l, 5, 0, alice(), "192.0.2.1"); n != 5 {
		t.Fatalf("no plan: admitted %d of 5", n)
	}
	c.Add(31 * time.Second) // a new day in Paris (still the 27th in UTC)
	if n, _ := count(l, 5, 0, alice("reader"), "192.0.2.1"); n != 3 {
		t.Fatalf("next day admitted %d, want 3", n)
	}
}

func TestQuotaMonth(t *testing.T) {
	c := &clock{t: time.Date(2026, 12, 31, 23, 0, 0, 0, time.UTC)}
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {quotas: [{name: monthly, period: month, requests: 2}]}}
`, NewMemory(1000, c.Now), c.Now)
	if n, _ := count(l, 4, 0, alice(), "192.0.2.1"); n != 2 {
		t.Fatalf("admitted %d, want 2", n)
	}
	c.Add(time.Hour)
	if n, _ := count(l, 4, 0, alice(), "192.0.2.1"); n != 2 {
		t.Fatalf("January admitted %d, want 2", n)
	}
}

func TestConcurrency(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {concurrency: [{name: inflight, max: 2}]}}
`, NewMemory(1000, nil), nil)
	var xs []*pipeline.Exchange
	for i := range 3 {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.Identity, x.RequestID = &pipeline.Route{Name: "r0"}, alice(), fmt.Sprint(i)
		err := l.Stage().Request(context.Background(), x)
		if (i < 2) != (err == nil) {
			t.Fatalf("request %d: %v", i, err)
		}
		if d, _ := pipeline.AsDenial(err); i == 2 && d.Reason != "limits.too_many_concurrent" {
			t.Fatalf("reason %q", d.Reason)
		}
		xs = append(xs, x)
	}
	p := pipeline.New(nil, nil, nil)
	p.Finish(xs[0]) // one finishes: its slot is free again
	x := &pipeline.Exchange{}
	x.Reset()
	x.Route, x.Identity = &pipeline.Route{Name: "r0"}, alice()
	if err := l.Stage().Request(context.Background(), x); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

func TestKeysAndPlans(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := build(t, base+`
limits:
  headers: legacy
  pre_auth: [{name: ip, requests: 1, per: 1h, burst: 6}]
  plans:
    - {name: admin, roles: [admin], rates: [{name: a, requests: 1, per: 1h, burst: 4}]}
    - {name: default, rates: [{name: d, requests: 1, per: 1h, burst: 2, key: [apikey]}]}
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
  - {path: /b, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: g, requests: 1, per: 1h, burst: 1, key: [global]}]}}
`, NewMemory(1000, c.Now), c.Now)
	if n, last := count(l, 5, 0, alice("admin"), "192.0.2.1"); n != 4 {
		t.Fatalf("admin plan admitted %d, want 4", n)
	} else if last.headers["RateLimit-Limit"] != "4" || last.headers["RateLimit-Remaining"] != "0" || last.headers["RateLimit-Reset"] != "3600" {
		t.Errorf("legacy headers %v", last.headers)
	}
	bob := &pipeline.Identity{Subject: "bob", CredentialID: "key-b1"}
	if n, _ := count(l, 3, 0, bob, "192.0.2.2"); n != 2 {
		t.Fatalf("default plan admitted %d, want 2", n)
	}
	bob2 := &pipeline.Identity{Subject: "bob", CredentialID: "key-b2"} // another of bob's keys
	if n, _ := count(l, 3, 0, bob2, "192.0.2.2"); n != 2 {
		t.Fatalf("per-key limit: second key admitted %d, want 2", n)
	}
	// The pre-auth limit counts every request from 192.0.2.2: 6 so far
	// reached the stage, so the next is refused before authentication.
	if r := run(l, 0, &pipeline.Identity{Subject: "carol"}, "192.0.2.2"); r.status != 429 || r.reason != "limits.rate_exceeded" {
		t.Fatalf("pre-auth = %+v", r)
	}
	// global: one counter for everyone on route b.
	if r := run(l, 1, &pipeline.Identity{Subject: "dave"}, "192.0.2.3"); r.status != 200 {
		t.Fatalf("global first = %+v", r)
	}
	if r := run(l, 1, &pipeline.Identity{Subject: "erin"}, "192.0.2.4"); r.status != 429 {
		t.Fatalf("global second = %+v", r)
	}
}

// A request refused by one limit is counted by none.
func TestRefusedCountsNowhere(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: wide, requests: 1, per: 1h, burst: 5}],
              quotas: [{name: q, period: day, requests: 2}]}}
`, NewMemory(1000, c.Now), c.Now)
	count(l, 10, 0, alice(), "192.0.2.1") // 2 admitted, 8 refused by the quota
	c.Add(48 * time.Hour)                 // quota renewed; the rate refilled anyway
	if n, _ := count(l, 10, 0, alice(), "192.0.2.1"); n != 2 {
		t.Fatalf("admitted %d", n)
	}
}

type failing struct{}

func (failing) Take(context.Context, []Check, []Result) (bool, error) {
	return false, errors.New("down")
}
func (failing) Release([]Check) {}
func (failing) Close() error    { return nil }

func TestFailOpenClosed(t *testing.T) {
	var admitted, refused int
	cfg := base + `
limits: {on_backend_error: closed}
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{requests: 1, per: 1s}]}}
  - {path: /b, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{requests: 1, per: 1s}], on_backend_error: open}}
`
	c, _, err := config.Parse("t.yaml", []byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	l, err := New(c.Limits, Deps{Routes: c.Routes, Backend: failing{}, OnBackendError: func(open bool) {
		if open {
			admitted++
		} else {
			refused++
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	if r := run(l, 0, alice(), "192.0.2.1"); r.status != http.StatusServiceUnavailable || r.reason != "limits.unavailable" || r.retry != "1" {
		t.Fatalf("closed = %+v", r)
	}
	if r := run(l, 1, alice(), "192.0.2.1"); r.status != 200 {
		t.Fatalf("open = %+v", r)
	}
	if admitted != 1 || refused != 1 {
		t.Fatalf("metric calls: admitted %d refused %d", admitted, refused)
	}
}

// flaky is a back end that fails while down is set.
type flaky struct {
	Backend
	down atomic.Bool
}

func (f *flaky) Take(ctx context.Context, c []Check, r []Result) (bool, error) {
	if f.down.Load() {
		return false, errors.New("down")
	}
	return f.Backend.Take(ctx, c, r)
}

// TestOutageLoggedOnce: a back-end outage is one line when it starts and
// one when it ends, however many requests it refuses or admits.
func TestOutageLoggedOnce(t *testing.T) {
	var logs strings.Builder
	var mu sync.Mutex
	cfg, _, err := config.Parse("t.yaml", []byte(base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{requests: 1000, per: 1s}]}}
`))
	if err != nil {
		t.Fatal(err)
	}
	b := &flaky{Backend: NewMemory(1000, nil)}
	l, err := New(cfg.Limits, Deps{Routes: cfg.Routes, Backend: b, Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b.down.Store(true)
	for range 50 {
		if r := run(l, 0, alice(), "192.0.2.1"); r.status != http.StatusServiceUnavailable {
			t.Fatalf("down: %+v", r)
		}
	}
	b.down.Store(false)
	for range 5 {
		if r := run(l, 0, alice(), "192.0.2.1"); r.status != 200 {
			t.Fatalf("back: %+v", r)
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if n := strings.Count(out, "limits back end failed"); n != 1 {
		t.Errorf("%d outage lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "limits back end answering again"); n != 1 {
		t.Errorf("%d recovery lines, want 1:\n%s", n, out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestMemoryBounded floods the memory back end with a million distinct
// keys: it keeps at most max_keys counters and its heap stays small.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("1M keys")
	}
	const maxKeys = 100_000
	m := NewMemory(maxKeys, nil)
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	checks := make([]Check, 1)
	res := make([]Result, 1)
	for i := range 1_000_000 {
		checks[0] = Check{Kind: Rate, Key: "k" + fmt.Sprint(i), Interval: time.Second, Tau: 10 * time.Second}
		if ok, err := m.Take(context.Background(), checks, res); !ok || err != nil {
			t.Fatalf("key %d refused: %v", i, err)
		}
	}
	if n := m.Len(); n > maxKeys {
		t.Fatalf("holds %d counters, bound %d", n, maxKeys)
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 64<<20 {
		t.Fatalf("heap grew by %d MiB for %d counters", grew>>20, maxKeys)
	}
	runtime.KeepAlive(m)
}

func TestPolicyAndValidation(t *testing.T) {
	for _, tc := range []struct{ y, want string }{
		{`limits: {backend: redis}`, "backend redis needs the redis section"},
		{`limits: {time_zone: Mars/Olympus}`, "not a known IANA time zone"},
		{`limits: {pre_auth: [{requests: 1, per: 1s, key: [subject]}]}`, "must be [ip]"},
		{`limits: {plans: [{name: a, rates: [{requests: 0, per: 1s}]}]}`, "positive number of requests"},
		{`limits: {plans: [{name: a}, {name: b, roles: [x]}]}`, "move it last"},
		{`limits: {plans: [{name: a, rates: [{requests: 1, per: 1s, key: [global, ip]}]}]}`, "takes no other key part"},
		{`limits: {plans: [{name: a, quotas: [{period: week, requests: 1}]}]}`, "must be day or month"},
		{`limits: {plans: [{name: a, rates: [{requests: 2000000, per: 1s}]}]}`, "per microsecond"},
		{`limits: {headers: x-ratelimit}`, "draft, legacy or none"},
		{`redis: {url: "redis://:secret@127.0.0.1:6379"}`, "password_file"},
	} {
		_, _, err := config.Parse("t.yaml", []byte(base+"routes: [{path: /a, methods: [GET], upstream: api, public: true}]\n"+tc.y))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.y, err, tc.want)
		}
	}
}
