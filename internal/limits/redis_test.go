package limits

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// testRedis returns a client for RAMPART_TEST_REDIS (optionally through
// addr instead of the URL's address) and a key prefix of the test's own.
func testRedis(t *testing.T, addr string) (*redis.Client, string) {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_REDIS")
	if u == "" {
		t.Skip("RAMPART_TEST_REDIS is not set (such as redis://127.0.0.1:6379/15); .ci/run sets it")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	if addr != "" {
		opt.Addr = addr
	}
	opt.ContextTimeoutEnabled, opt.MaxRetries, opt.DisableIdentity = true, -1, true
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c, fmt.Sprintf("rampart-test:%s:%d:", t.Name(), time.Now().UnixNano())
}

// testRedisOptional is testRedis without the skip: nil when unset.
func testRedisOptional(t *testing.T) (*redis.Client, string) {
	if os.Getenv("RAMPART_TEST_REDIS") == "" {
		return nil, ""
	}
	return testRedis(t, "")
}

// gateways builds n limiters, each with its own client, on one Redis.
func gateways(t *testing.T, n int, y string, now func() time.Time) []*Limiter {
	t.Helper()
	var ls []*Limiter
	_, prefix := testRedis(t, "")
	for i := range n {
		c, _ := testRedis(t, "")
		// Gateways with and without auto-pipelining share the counters.
		ls = append(ls, build(t, y, NewRedis(c, RedisOptions{Prefix: prefix, Now: now, Timeout: time.Second, AutoPipeline: i%2 == 0}), now))
	}
	return ls
}

// hammer sends total requests spread over the limiters from 8 goroutines
// each and returns how many were admitted.
func hammer(ls []*Limiter, total int, id func(i int) *pipeline.Identity) (int64, []string) {
	var admitted atomic.Int64
	var mu sync.Mutex
	var odd []string
	var wg sync.WaitGroup
	per := total / (len(ls) * 8)
	for g := range len(ls) * 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[g%len(ls)]
			for i := range per {
				r := run(l, 0, id(g*per+i), "192.0.2.1")
				switch {
				case r.status == 200:
					admitted.Add(1)
				case r.status != 429 || os.Getenv("DEBUG_LIMITS") != "":
					mu.Lock()
					odd = append(odd, fmt.Sprintf("%d %s %v", r.status, r.reason, r.headers))
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return admitted.Load(), odd
}

func TestRedisRateExactAcrossGateways(t *testing.T) {
	ls := gateways(t, 3, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: hourly, requests: 1, per: 1h, burst: 50}]}}
`, nil)
	n, odd := hammer(ls, 480, func(int) *pipeline.Identity { return alice() })
	if len(odd) > 0 {
		t.Fatalf("unexpected answers: %v", odd[:min(len(odd), 5)])
	}
	// One request per hour refills: within the test at most one more.
	if n < 50 || n > 51 {
		t.Fatalf("admitted %d through 3 gateways, want 50", n)
	}
}

func TestRedisQuotaAcrossDayBoundary(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 27, 23, 59, 0, 0, time.UTC)}
	ls := gateways(t, 3, base+`
limits:
  backend: redis
  plans: [{name: p, quotas: [{name: daily, period: day, requests: 100}]}]
redis: {url: "redis://127.0.0.1:6379"}
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`, c.Now)
	if n, odd := hammer(ls, 480, func(int) *pipeline.Identity { return alice() }); n != 100 || len(odd) > 0 {
		t.Fatalf("day 1: admitted %d, want 100 (%v)", n, odd)
	}
	c.Add(2 * time.Minute)
	if n, odd := hammer(ls, 480, func(int) *pipeline.Identity { return alice() }); n != 100 || len(odd) > 0 {
		t.Fatalf("day 2: admitted %d, want 100 (%v)", n, odd)
	}
}

func TestRedisConcurrencyAndRelease(t *testing.T) {
	ls := gateways(t, 2, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {concurrency: [{name: inflight, max: 2}]}}
`, nil)
	var held []*pipeline.Exchange
	for i := range 3 {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.Identity, x.RequestID = &pipeline.Route{Name: "r0"}, alice(), fmt.Sprint(i)
		err := ls[i%2].Stage().Request(context.Background(), x)
		if (i < 2) != (err == nil) {
			t.Fatalf("request %d: %v", i, err)
		}
		held = append(held, x)
	}
	pipeline.New(nil, nil, nil).Finish(held[0])
	// The release is sent to Redis in the background.
	backgroundtest.Eventually(t, "the released slot free on the other gateway", 5*time.Second, func() bool {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.Identity, x.RequestID = &pipeline.Route{Name: "r0"}, alice(), "again"
		return ls[1].Stage().Request(context.Background(), x) == nil
	})
}

// blackhole is a TCP proxy to Redis that can stop answering: connections
// stay open, bytes sent to it go nowhere, nothing comes back.
type blackhole struct {
	ln   net.Listener
	to   string
	dead atomic.Bool
}

func newBlackhole(t *testing.T, to string) *blackhole {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &blackhole{ln: ln, to: to}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go b.serve(c)
		}
	}()
	return b
}

func (b *blackhole) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", b.to)
	if err != nil {
		return
	}
	defer up.Close()
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if err != nil {
				return
			}
			if b.dead.Load() {
				continue // swallowed
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if b.dead.Load() {
			continue
		}
		if _, err := up.Write(buf[:n]); err != nil {
			return
		}
	}
}

func TestRedisDownFailsOpenOrClosed(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprintf("autopipeline=%v", auto), func(t *testing.T) { redisDown(t, auto) })
	}
}

func redisDown(t *testing.T, auto bool) {
	direct, prefix := testRedis(t, "")
	bh := newBlackhole(t, direct.Options().Addr)
	c, _ := testRedis(t, bh.ln.Addr().String())
	var mu sync.Mutex
	outcomes := map[bool]int{}
	y := base + `
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{requests: 1000, per: 1s}]}}
  - {path: /b, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{requests: 1000, per: 1s}], on_backend_error: open}}
`
	cfgLimiter := build(t, y, NewRedis(c, RedisOptions{Prefix: prefix, Timeout: 100 * time.Millisecond, AutoPipeline: auto}), nil)
	cfgLimiter.opt.OnBackendError = func(open bool) { mu.Lock(); outcomes[open]++; mu.Unlock() }
	if r := run(cfgLimiter, 0, alice(), "192.0.2.1"); r.status != 200 {
		t.Fatalf("healthy: %+v", r)
	}
	bh.dead.Store(true)
	for _, tc := range []struct {
		route  int
		status int
	}{{0, 503}, {1, 200}} {
		start := time.Now()
		r := run(cfgLimiter, tc.route, alice(), "192.0.2.1")
		if r.status != tc.status {
			t.Errorf("route %d with Redis blackholed: %+v, want %d", tc.route, r, tc.status)
		}
		el := time.Since(start)
		t.Logf("route %d decided in %v with Redis blackholed", tc.route, el)
		if el > 2*time.Second { // a hang check, not a speed test
			t.Errorf("route %d: the decision took %v", tc.route, el)
		}
	}
	if outcomes[true] != 1 || outcomes[false] != 1 {
		t.Errorf("back-end failures counted %v", outcomes)
	}
	bh.dead.Store(false) // Redis is back: new connections work again
	backgroundtest.Eventually(t, "recovery after Redis came back", 5*time.Second, func() bool {
		return run(cfgLimiter, 0, alice(), "192.0.2.1").status == 200
	})

	// Redis stopped: nothing listens on the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	_ = ln.Close()
	stopped, _ := testRedis(t, closedAddr)
	l := build(t, y, NewRedis(stopped, RedisOptions{Prefix: prefix, Timeout: 100 * time.Millisecond, AutoPipeline: auto}), nil)
	if r := run(l, 0, alice(), "192.0.2.1"); r.status != 503 {
		t.Errorf("Redis stopped, closed route: %+v", r)
	}
	if r := run(l, 1, alice(), "192.0.2.1"); r.status != 200 {
		t.Errorf("Redis stopped, open route: %+v", r)
	}
}

// TestRedisClientHangUpIsNotAnOutage: a request whose client went away
// still gets its decision, and does not make Redis look down to everyone.
func TestRedisClientHangUpIsNotAnOutage(t *testing.T) {
	for _, auto := range []bool{false, true} {
		c, prefix := testRedis(t, "")
		r := NewRedis(c, RedisOptions{Prefix: prefix, Timeout: time.Second, AutoPipeline: auto})
		t.Cleanup(func() { _ = r.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		checks := []Check{{Kind: Rate, Key: "k", Tag: "t", Interval: time.Second, Tau: 10 * time.Second}}
		res := make([]Result, 1)
		if ok, err := r.Take(ctx, checks, res); !ok || err != nil {
			t.Fatalf("auto=%v: with the client gone: %v %v", auto, ok, err)
		}
		if ok, err := r.Take(context.Background(), checks, res); !ok || err != nil {
			t.Fatalf("auto=%v: the next request: %v %v", auto, ok, err)
		}
	}
}
