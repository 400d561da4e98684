package firewall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/redisconn"
	"github.com/rampart-gw/rampart/internal/redistest"
)

// testRedis returns the options of the Redis named by RAMPART_TEST_REDIS,
// or skips the test.
func testRedis(t *testing.T) *redis.Options {
	t.Helper()
	u := os.Getenv("RAMPART_TEST_REDIS")
	if u == "" {
		t.Skip("set RAMPART_TEST_REDIS (such as redis://127.0.0.1:6379/15) to run the Redis ban tests")
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("RAMPART_TEST_REDIS: %v", err)
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second, time.Second
	opt.ContextTimeoutEnabled = true
	opt.MaxRetries = -1
	return opt
}

func newRedisClient(t *testing.T, opt *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keyPrefix returns a prefix of keys unique to the test, deleted after it,
// so tests can share a database with others.
func keyPrefix(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	p := fmt.Sprintf("rampart-test:%s:%d:", t.Name(), time.Now().UnixNano())
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("RAMPART_TEST_REDIS is set but Redis does not answer: %v", err)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), p+"{bans}", p+"{bans}:expiry") })
	return p
}

func newRedisBans(t *testing.T, rdb redis.UniversalClient, cfg config.Bans, prefix string, now func() time.Time, logs *logBuffer, opts ...RedisOption) *Bans {
	t.Helper()
	if logs == nil {
		logs = &logBuffer{}
	}
	opts = append([]RedisOption{WithKeyPrefix(prefix), WithTimeout(time.Second)}, opts...)
	b, err := NewRedisBans(context.Background(), cfg, rdb, logs.logger(), now, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

// TestRedisBansShared: two gateways on one Redis see each other's changes
// through the change notices, long before the periodic reread.
func TestRedisBansShared(t *testing.T) {
	opt := testRedis(t)
	rdb := newRedisClient(t, opt)
	prefix := keyPrefix(t, rdb)
	cfg := config.Bans{MaxEntries: 3, SyncInterval: config.Duration(time.Hour)}
	a := newRedisBans(t, rdb, cfg, prefix, nil, nil)
	b := newRedisBans(t, newRedisClient(t, opt), cfg, prefix, nil, nil)
	ctx := context.Background()

	ban, err := a.Add(ctx, pfx("::ffff:203.0.113.7/128"), time.Hour, "scanner")
	if err != nil {
		t.Fatal(err)
	}
	if ban.Network.String() != "203.0.113.7/32" || ban.Reason != "scanner" || ban.Expires.Sub(ban.Created) != time.Hour {
		t.Errorf("ban %+v", ban)
	}
	if !a.Banned(addr("203.0.113.7")) {
		t.Error("the adding gateway does not enforce its ban at once")
	}
	eventually(t, "the ban on the other gateway", func() bool { return b.Banned(addr("203.0.113.7")) })
	if l, err := b.List(ctx); err != nil || len(l) != 1 || l[0] != ban {
		t.Errorf("list on b: %+v %v (want %+v)", l, err, ban)
	}
	if n, _ := rdb.HLen(ctx, prefix+"{bans}").Result(); n != 1 {
		t.Errorf("hash holds %d entries", n)
	}

	// Renewal on b keeps the creation time and the later expiry.
	renewed, err := b.Add(ctx, pfx("203.0.113.7/32"), time.Minute, "still scanning")
	if err != nil || !renewed.Created.Equal(ban.Created) || !renewed.Expires.Equal(ban.Expires) || renewed.Reason != "still scanning" {
		t.Errorf("renewed %+v %v", renewed, err)
	}
	eventually(t, "the new reason on a", func() bool {
		l := a.snap.Load().bans
		return len(l) == 1 && l[0].Reason == "still scanning"
	})

	// max_entries counts across gateways.
	if _, err := a.Add(ctx, pfx("2001:db8:bad::/48"), time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Add(ctx, pfx("198.51.100.0/24"), time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, pfx("192.0.2.1/32"), time.Hour, ""); !errors.Is(err, ErrBanListFull) {
		t.Errorf("fourth ban: %v", err)
	}
	if _, err := a.Add(ctx, pfx("192.0.2.1/32"), 0, ""); !errors.Is(err, ErrInvalidBan) {
		t.Errorf("bad ttl: %v", err)
	}

	// Removal on b reaches a.
	if ok, err := b.Remove(ctx, pfx("203.0.113.7/32")); !ok || err != nil {
		t.Fatalf("remove: %v %v", ok, err)
	}
	if b.Banned(addr("203.0.113.7")) {
		t.Error("the removing gateway still enforces the ban")
	}
	eventually(t, "the removal on a", func() bool { return !a.Banned(addr("203.0.113.7")) })
	if ok, err := a.Remove(ctx, pfx("203.0.113.7/32")); ok || err != nil {
		t.Errorf("second removal: %v %v", ok, err)
	}
	eventually(t, "the v6 ban on b", func() bool { return b.Banned(addr("2001:db8:bad::1")) })
	if l, err := a.List(ctx); err != nil || fmt.Sprint(networks(l)) != "[198.51.100.0/24 2001:db8:bad::/48]" {
		t.Errorf("list %v %v", networks(l), err)
	}
}

// TestRedisBansExpiry: expired bans stop matching on each gateway's clock
// and are deleted from Redis.
func TestRedisBansExpiry(t *testing.T) {
	opt := testRedis(t)
	rdb := newRedisClient(t, opt)
	prefix := keyPrefix(t, rdb)
	clk := newClock()
	cfg := config.Bans{SyncInterval: config.Duration(time.Hour)}
	a := newRedisBans(t, rdb, cfg, prefix, clk.Now, nil)
	b := newRedisBans(t, rdb, cfg, prefix, clk.Now, nil)
	ctx := context.Background()
	if _, err := a.Add(ctx, pfx("192.0.2.1/32"), time.Minute, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Add(ctx, pfx("192.0.2.2/32"), time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "both bans on b", func() bool { return b.Banned(addr("192.0.2.1")) && b.Banned(addr("192.0.2.2")) })
	clk.Advance(time.Minute)
	if a.Banned(addr("192.0.2.1")) || b.Banned(addr("192.0.2.1")) || !b.Banned(addr("192.0.2.2")) {
		t.Error("expiry not applied on time")
	}
	if l, err := b.List(ctx); err != nil || len(l) != 1 {
		t.Errorf("list %v %v", l, err)
	}
	// List reread the hash and deleted the expired entry from it.
	if n, _ := rdb.HLen(ctx, prefix+"{bans}").Result(); n != 1 {
		t.Errorf("hash holds %d entries after the purge", n)
	}
	if n, _ := rdb.ZCard(ctx, prefix+"{bans}:expiry").Result(); n != 1 {
		t.Errorf("expiry set holds %d entries after the purge", n)
	}
	// An expired ban is re-added as new.
	again, err := a.Add(ctx, pfx("192.0.2.1/32"), time.Minute, "")
	if err != nil || !again.Created.Equal(stamp(clk.Now())) {
		t.Errorf("re-added %+v %v", again, err)
	}
}

// TestRedisBansPeriodicSync: a change made without a notice (another tool,
// or a lost message) is picked up by the periodic reread; malformed entries
// are ignored and reported without their contents.
func TestRedisBansPeriodicSync(t *testing.T) {
	opt := testRedis(t)
	rdb := newRedisClient(t, opt)
	prefix := keyPrefix(t, rdb)
	var logs logBuffer
	b := newRedisBans(t, rdb, config.Bans{SyncInterval: config.Duration(20 * time.Millisecond)}, prefix, nil, &logs)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).UTC()
	v := fmt.Sprintf(`{"created":%q,"expires":%q,"reason":"by hand\u001b[2J"}`, time.Now().UTC().Format(time.RFC3339), exp.Format(time.RFC3339))
	rdb.HSet(ctx, prefix+"{bans}", "198.51.100.0/24", v, "not-a-network", v, "192.0.2.9/32", "{broken")
	eventually(t, "the silent change", func() bool { return b.Banned(addr("198.51.100.77")) })
	if b.Banned(addr("192.0.2.9")) {
		t.Error("a malformed entry bans")
	}
	l, err := b.List(ctx)
	if err != nil || len(l) != 1 || l[0].Reason != "(unprintable reason)" {
		t.Errorf("list %+v %v", l, err)
	}
	eventually(t, "the malformed-entries warning", func() bool { return strings.Contains(logs.String(), "count=2") })
	if out := logs.String(); strings.Contains(out, "not-a-network") || strings.Contains(out, "192.0.2.9") {
		t.Errorf("log quotes entries: %s", out)
	}
	rdb.HDel(ctx, prefix+"{bans}", "198.51.100.0/24")
	eventually(t, "the silent removal", func() bool { return !b.Banned(addr("198.51.100.77")) })
}

// proxy is a TCP forwarder to Redis that a test can cut and restore.
type proxy struct {
	t      *testing.T
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	p := &proxy{t: t, target: target}
	p.start("127.0.0.1:0")
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) start(addr string) {
	var ln net.Listener
	var err error
	backgroundtest.Eventually(p.t, "listening on "+addr+" again (the port may linger a moment)", 5*time.Second, func() bool {
		ln, err = net.Listen("tcp", addr)
		return err == nil
	})
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln { // stopped while this one was being accepted: cut it too
				p.mu.Unlock()
				_ = c.Close()
				_ = up.Close()
				return
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
}

// stop refuses new connections and cuts the open ones.
func (p *proxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// TestRedisBansOutage: while Redis is unreachable a gateway keeps its last
// list, Add and List fail fast, one warning is logged per outage, and the
// list is reread when Redis is back.
func TestRedisBansOutage(t *testing.T) {
	opt := testRedis(t)
	direct := newRedisClient(t, opt)
	prefix := keyPrefix(t, direct)
	px := newProxy(t, opt.Addr)
	popt := *opt
	popt.Addr = px.addr
	popt.DialTimeout, popt.ReadTimeout, popt.WriteTimeout = 200*time.Millisecond, 200*time.Millisecond, 200*time.Millisecond
	viaProxy := newRedisClient(t, &popt)
	var logs logBuffer
	cfg := config.Bans{SyncInterval: config.Duration(20 * time.Millisecond)}
	bg, clock := backgroundtest.Runner(t)
	reread := func() { backgroundtest.Tick(t, clock, 20*time.Millisecond, 1) }
	b := newRedisBans(t, viaProxy, cfg, prefix, nil, &logs, WithBackground(bg))
	other := newRedisBans(t, direct, cfg, prefix, nil, nil)
	ctx := context.Background()
	if _, err := b.Add(ctx, pfx("203.0.113.0/24"), time.Hour, ""); err != nil {
		t.Fatal(err)
	}

	px.stop()
	reread()
	if !strings.Contains(logs.String(), "redis unavailable") {
		t.Fatalf("no outage warning after a failed reread:\n%s", logs.String())
	}
	if !b.Banned(addr("203.0.113.5")) {
		t.Error("the last known list was dropped")
	}
	start := time.Now()
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), time.Hour, ""); err == nil || errors.Is(err, ErrInvalidBan) {
		t.Errorf("add during the outage: %v", err)
	}
	if _, err := b.List(ctx); err == nil {
		t.Error("list during the outage succeeded")
	}
	if _, err := b.Remove(ctx, pfx("203.0.113.0/24")); err == nil {
		t.Error("remove during the outage succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("calls during the outage took %v", d)
	}
	if b.Banned(addr("192.0.2.1")) || !b.Banned(addr("203.0.113.5")) {
		t.Error("a failed change changed the list")
	}
	// Meanwhile another gateway bans someone.
	if _, err := other.Add(ctx, pfx("198.51.100.0/24"), time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	// Let many rereads fail: still one warning.
	for range 10 {
		reread()
	}
	if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d outage warnings, want 1:\n%s", n, logs.String())
	}

	px.start(px.addr)
	// go-redis redials a pool that failed many dials once a second: each
	// poll is one more reread until one gets through.
	eventually(t, "recovery", func() bool {
		reread()
		return strings.Contains(logs.String(), "available again")
	})
	if !b.Banned(addr("198.51.100.1")) {
		t.Error("the ban made during the outage was not read on recovery")
	}
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), time.Hour, ""); err != nil {
		t.Errorf("add after recovery: %v", err)
	}
}

// TestRedisBansUnreachable: a gateway that starts while Redis is down
// starts with an empty list and fails changes without hanging.
func TestRedisBansUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	rdb := newRedisClient(t, &redis.Options{Addr: closed, DialTimeout: 200 * time.Millisecond, MaxRetries: -1,
		ReadTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
	var logs logBuffer
	start := time.Now()
	bg, clock := backgroundtest.Runner(t)
	b, err := NewRedisBans(context.Background(), config.Bans{SyncInterval: config.Duration(10 * time.Millisecond)}, rdb, logs.logger(), nil,
		WithKeyPrefix("rampart-test-unreachable:"), WithBackground(bg))
	if err != nil {
		t.Fatal(err)
	}
	if b.Banned(addr("192.0.2.1")) {
		t.Error("banned with no list")
	}
	for range 3 {
		if _, err := b.Add(context.Background(), pfx("192.0.2.1/32"), time.Hour, ""); err == nil {
			t.Error("add succeeded")
		}
	}
	if _, err := b.List(context.Background()); err == nil {
		t.Error("list succeeded")
	}
	for range 3 { // failed rereads
		backgroundtest.Tick(t, clock, 10*time.Millisecond, 1)
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
	done := make(chan struct{})
	go func() { _ = b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hangs while Redis is down")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	_ = b.Close()
}

func TestNewRedisBansNeedsClient(t *testing.T) {
	if _, err := NewRedisBans(context.Background(), config.Bans{}, nil, nil, nil); err == nil {
		t.Error("nil client accepted")
	}
}

// TestRedisBansCluster shares bans through a real three-node Redis
// Cluster: the scripts' keys share a slot ({bans}), and change notices
// reach every gateway.
func TestRedisBansCluster(t *testing.T) {
	url := redistest.Cluster(t)
	open := func() redis.UniversalClient {
		c, err := redisconn.Open(&config.Redis{URL: url, Cluster: true, Timeout: config.Duration(2 * time.Second), PoolSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	cfg := config.Bans{MaxEntries: 10, SyncInterval: config.Duration(time.Hour)}
	prefix := fmt.Sprintf("rampart-test:%d:", time.Now().UnixNano())
	a := newRedisBans(t, open(), cfg, prefix, nil, nil)
	b := newRedisBans(t, open(), cfg, prefix, nil, nil)
	ctx := context.Background()
	if _, err := a.Add(ctx, pfx("203.0.113.0/24"), time.Hour, "cluster"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the ban on the other gateway", func() bool { return b.Banned(addr("203.0.113.9")) })
	if ok, err := b.Remove(ctx, pfx("203.0.113.0/24")); err != nil || !ok {
		t.Fatalf("remove: %v %v", ok, err)
	}
	eventually(t, "the lifted ban on the first gateway", func() bool { return !a.Banned(addr("203.0.113.9")) })
}
