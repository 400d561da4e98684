package firewall

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

// clock is a settable clock, safe for concurrent use.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func pfx(s string) netip.Prefix          { return netip.MustParsePrefix(s) }
func addr(s string) netip.Addr           { return netip.MustParseAddr(s) }
func networks(bs []Ban) (out []string) {
	for _, b := range bs {
		out = append(out, b.Network.String())
	}
	return out
}

func TestBansAddValidation(t *testing.T) {
	b := NewMemoryBans(config.Bans{MaxTTL: config.Duration(24 * time.Hour)}, nil)
	ctx := context.Background()
	tests := []struct {
		name   string
		p      netip.Prefix
		ttl    time.Duration
		reason string
		err    string
	}{
		{"invalid network", netip.Prefix{}, time.Hour, "", "not a valid address"},
		{"everyone", pfx("0.0.0.0/0"), time.Hour, "", "/0"},
		{"everyone mapped", pfx("::ffff:0.0.0.0/96"), time.Hour, "", "/0"},
		{"zero ttl", pfx("192.0.2.1/32"), 0, "", "ttl"},
		{"negative ttl", pfx("192.0.2.1/32"), -time.Second, "", "ttl"},
		{"ttl over max", pfx("192.0.2.1/32"), 25 * time.Hour, "", "at most 24h"},
		{"long reason", pfx("192.0.2.1/32"), time.Hour, strings.Repeat("x", MaxReasonBytes+1), "longer than 200 bytes"},
		{"newline in reason", pfx("192.0.2.1/32"), time.Hour, "scan\nFAKE LOG LINE", "control character"},
		{"escape in reason", pfx("192.0.2.1/32"), time.Hour, "\x1b[31mred", "control character"},
		{"bidi override", pfx("192.0.2.1/32"), time.Hour, "abc\u202edcba", "control character"},
		{"invalid utf-8", pfx("192.0.2.1/32"), time.Hour, "\xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := b.Add(ctx, tt.p, tt.ttl, tt.reason)
			if !errors.Is(err, ErrInvalidBan) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want ErrInvalidBan with %q", err, tt.err)
			}
		})
	}
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), 24*time.Hour, strings.Repeat("é", MaxReasonBytes/2)+" tab\tno"); err == nil {
		t.Error("tab accepted")
	}
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), 24*time.Hour, strings.Repeat("é", MaxReasonBytes/2)); err != nil {
		t.Errorf("a 200-byte UTF-8 reason: %v", err)
	}
	if l, _ := b.List(ctx); len(l) != 1 {
		t.Errorf("list %v", l)
	}
}

func TestBansMatchAndExpire(t *testing.T) {
	clk := newClock()
	b := NewMemoryBans(config.Bans{}, clk.Now)
	ctx := context.Background()
	t0 := clk.Now()
	must := func(p string, ttl time.Duration, reason string) Ban {
		t.Helper()
		ban, err := b.Add(ctx, pfx(p), ttl, reason)
		if err != nil {
			t.Fatal(err)
		}
		return ban
	}
	host := must("203.0.113.7/32", time.Hour, "scanner")
	if host.Created != t0 || host.Expires != t0.Add(time.Hour) || host.Reason != "scanner" {
		t.Errorf("ban %+v", host)
	}
	mapped := must("::ffff:198.51.100.0/120", 2*time.Hour, "")
	if mapped.Network.String() != "198.51.100.0/24" {
		t.Errorf("mapped ban stored as %s", mapped.Network)
	}
	must("2001:db8:bad::/48", 3*time.Hour, "v6")

	tests := []struct {
		addr string
		want bool
	}{
		{"203.0.113.7", true}, {"::ffff:203.0.113.7", true}, {"203.0.113.8", false},
		{"198.51.100.200", true}, {"::ffff:198.51.100.1", true}, {"198.51.101.1", false},
		{"2001:db8:bad::1", true}, {"2001:db8:bad:ffff::1", true}, {"2001:db8:bae::1", false},
		{"::", false}, {"0.0.0.0", false},
	}
	for _, tt := range tests {
		if got := b.Banned(addr(tt.addr)); got != tt.want {
			t.Errorf("Banned(%s) = %v", tt.addr, got)
		}
	}
	if b.Banned(netip.Addr{}) {
		t.Error("no address banned")
	}
	l, _ := b.List(ctx)
	if got := fmt.Sprint(networks(l)); got != "[198.51.100.0/24 203.0.113.7/32 2001:db8:bad::/48]" {
		t.Errorf("list %s", got)
	}

	// At the hour the first ban stops matching at once, before any
	// rebuild, and the snapshot is rebuilt in the background.
	clk.Advance(time.Hour)
	if b.Banned(addr("203.0.113.7")) {
		t.Error("expired ban still matches")
	}
	if !b.Banned(addr("198.51.100.1")) || !b.Banned(addr("2001:db8:bad::1")) {
		t.Error("live bans stopped matching with the expired one")
	}
	eventually(t, "the rebuilt snapshot", func() bool { return len(b.snap.Load().bans) == 2 })
	if next := b.snap.Load().next; !next.Equal(t0.Add(2 * time.Hour)) {
		t.Errorf("next expiry %v", next)
	}
	l, _ = b.List(ctx)
	if got := fmt.Sprint(networks(l)); got != "[198.51.100.0/24 2001:db8:bad::/48]" {
		t.Errorf("list after expiry %s", got)
	}
	clk.Advance(10 * time.Hour)
	if b.Banned(addr("198.51.100.1")) || b.Banned(addr("2001:db8:bad::1")) {
		t.Error("expired bans match")
	}
	if l, _ := b.List(ctx); len(l) != 0 {
		t.Errorf("list %v", l)
	}
}

func TestBansRenewAndRemove(t *testing.T) {
	clk := newClock()
	b := NewMemoryBans(config.Bans{}, clk.Now)
	ctx := context.Background()
	t0 := clk.Now()
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), time.Hour, "first"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30 * time.Minute)
	ban, err := b.Add(ctx, pfx("192.0.2.1/32"), 2*time.Hour, "second")
	if err != nil || ban.Created != t0 || ban.Expires != t0.Add(150*time.Minute) || ban.Reason != "second" {
		t.Fatalf("renewed %+v %v", ban, err)
	}
	ban, err = b.Add(ctx, pfx("192.0.2.1/32"), time.Minute, "third")
	if err != nil || ban.Expires != t0.Add(150*time.Minute) || ban.Reason != "third" {
		t.Errorf("a shorter ttl shortened the ban: %+v %v", ban, err)
	}
	if ok, err := b.Remove(ctx, pfx("192.0.2.1/32")); !ok || err != nil {
		t.Errorf("remove: %v %v", ok, err)
	}
	if b.Banned(addr("192.0.2.1")) {
		t.Error("removed ban matches")
	}
	if ok, _ := b.Remove(ctx, pfx("192.0.2.1/32")); ok {
		t.Error("removed twice")
	}
	// Removal is by exact network.
	_, _ = b.Add(ctx, pfx("192.0.2.0/24"), time.Hour, "")
	if ok, _ := b.Remove(ctx, pfx("192.0.2.1/32")); ok || !b.Banned(addr("192.0.2.1")) {
		t.Error("removing a host lifted its network's ban")
	}
	if ok, _ := b.Remove(ctx, pfx("::ffff:192.0.2.0/120")); !ok {
		t.Error("mapped spelling did not remove the ban")
	}
	if _, err := b.Remove(ctx, netip.Prefix{}); !errors.Is(err, ErrInvalidBan) {
		t.Errorf("invalid prefix: %v", err)
	}
	var nilBans *Bans
	if nilBans.Banned(addr("192.0.2.1")) || nilBans.Close() != nil {
		t.Error("nil bans")
	}
}

func TestBansMaxEntries(t *testing.T) {
	clk := newClock()
	b := NewMemoryBans(config.Bans{MaxEntries: 2}, clk.Now)
	ctx := context.Background()
	_, _ = b.Add(ctx, pfx("192.0.2.1/32"), time.Hour, "")
	_, _ = b.Add(ctx, pfx("192.0.2.2/32"), 2*time.Hour, "")
	if _, err := b.Add(ctx, pfx("192.0.2.3/32"), time.Hour, ""); !errors.Is(err, ErrBanListFull) || !strings.Contains(err.Error(), "2 bans") {
		t.Fatalf("third ban: %v", err)
	}
	if _, err := b.Add(ctx, pfx("192.0.2.1/32"), 3*time.Hour, ""); err != nil {
		t.Errorf("renewing at the maximum: %v", err)
	}
	_, _ = b.Remove(ctx, pfx("192.0.2.1/32"))
	if _, err := b.Add(ctx, pfx("192.0.2.3/32"), time.Hour, ""); err != nil {
		t.Errorf("after a removal: %v", err)
	}
	if _, err := b.Add(ctx, pfx("192.0.2.4/32"), time.Hour, ""); !errors.Is(err, ErrBanListFull) {
		t.Errorf("full again: %v", err)
	}
	clk.Advance(time.Hour) // 192.0.2.3 expires
	if _, err := b.Add(ctx, pfx("192.0.2.4/32"), time.Hour, ""); err != nil {
		t.Errorf("after an expiry: %v", err)
	}
}

// TestBansConcurrent runs Banned against changes, for the race detector.
func TestBansConcurrent(t *testing.T) {
	clk := newClock()
	b := NewMemoryBans(config.Bans{}, clk.Now)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					b.Banned(addr("192.0.2.7"))
				}
			}
		}()
	}
	for i := range 200 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)
		if _, err := b.Add(ctx, p, time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			_, _ = b.Remove(ctx, p)
		}
		clk.Advance(time.Second)
	}
	close(stop)
	wg.Wait()
	if !b.Banned(addr("192.0.2.7")) || b.Banned(addr("192.0.2.6")) {
		t.Error("final state")
	}
}
