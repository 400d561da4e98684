package limits

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
)

// Regression tests for bounds and edge cases found in review.

func TestValidationBounds(t *testing.T) {
	eight := strings.Repeat("{requests: 1, per: 1s}, ", 8)
	for _, tc := range []struct{ y, want string }{
		// 8 plan + 8 route + records would be 17 counters per request.
		{`routes: [{path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
           limits: {rates: [` + eight + `], records: {max: 10}}}]`, "has 8 limits and records"},
		{`routes: [{path: /a, methods: [GET], upstream: api, public: true,
           limits: {rates: [{requests: 1, per: 1h, burst: 3000000}]}}]`, "takes over 100 years to refill"},
		{`routes: [{path: /a, methods: [GET], upstream: api, public: true,
           limits: {rates: [{requests: 600000, per: 1s}]}}]`, "whole microseconds cannot keep within 1%"},
		{`routes: [{path: /a, methods: [GET], upstream: api, public: true,
           limits: {records: {max: 10, window: 9000h}}}]`, "at most 366 days"},
		{`routes: [{path: /a, methods: [GET], upstream: api, public: true,
           limits: {records: {max: 10, path: "$.` + strings.Repeat("k", 300) + `"}}}]`, "longer than 256 bytes"},
	} {
		_, _, err := config.Parse("t.yaml", []byte(base+tc.y))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
	// A whole number of microseconds is exact at any rate.
	if _, _, err := config.Parse("t.yaml", []byte(base+`routes: [{path: /a, methods: [GET], upstream: api, public: true,
           limits: {rates: [{requests: 500000, per: 1s}]}}]`)); err != nil {
		t.Errorf("2us per request refused: %v", err)
	}
}

func TestRecordsAndARateNamedRecords(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: records, requests: 1, per: 1h, burst: 5}], records: {max: 2}}}
`, NewMemory(1000, nil), nil)
	ids := map[string]bool{}
	for _, lim := range l.routes[0].checked {
		if ids[lim.id] {
			t.Fatalf("two limits share the counter %q", lim.id)
		}
		ids[lim.id] = true
	}
}

// TestEvictionSparesQuotas floods a full memory back end with rate
// counters: an exhausted quota must survive, since losing it would reset it.
func TestEvictionSparesQuotas(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	l := build(t, base+`
limits:
  pre_auth: [{name: ip, requests: 1, per: 1h, burst: 5}]
  plans: [{name: p, quotas: [{name: daily, period: day, requests: 3}]}]
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`, NewMemory(memShards*8, c.Now), c.Now)
	if n, _ := count(l, 5, 0, alice(), "192.0.2.1"); n != 3 {
		t.Fatalf("admitted %d, want the quota of 3", n)
	}
	for i := range 50_000 { // anonymous churn: one pre_auth counter per address
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		run(l, 0, nil, ip.String())
	}
	if r := run(l, 0, alice(), "192.0.2.200"); r.status != 429 || r.reason != "limits.quota_exceeded" {
		t.Fatalf("after the churn the quota answers %+v", r)
	}
}

func TestIPv6CountsBySlash64(t *testing.T) {
	l := build(t, base+`
routes:
  - {path: /a, methods: [GET], upstream: api, public: true,
     limits: {rates: [{requests: 1, per: 1h, burst: 2, key: [ip]}]}}
`, NewMemory(1000, nil), nil)
	if r := run(l, 0, nil, "2001:db8:1:2::1"); r.status != 200 {
		t.Fatal(r)
	}
	if r := run(l, 0, nil, "2001:db8:1:2:ffff::9"); r.status != 200 {
		t.Fatal(r)
	}
	if r := run(l, 0, nil, "2001:db8:1:2::abcd"); r.status != 429 {
		t.Fatalf("a third address of the same /64: %+v", r)
	}
	if r := run(l, 0, nil, "2001:db8:1:3::1"); r.status != 200 {
		t.Fatalf("another /64: %+v", r)
	}
}

func TestForcedDebtIsBounded(t *testing.T) {
	m := NewMemory(100, nil)
	c := Check{Kind: Records, Key: "k", Interval: time.Second, Tau: 10 * time.Second, Cost: 1_000_000_000, Mode: Force}
	res := make([]Result, 1)
	if _, err := m.Take(context.Background(), []Check{c}, res); err != nil {
		t.Fatal(err)
	}
	c.Mode, c.Cost = Peek, 0
	if _, err := m.Take(context.Background(), []Check{c}, res); err != nil {
		t.Fatal(err)
	}
	if res[0].Allowed || res[0].RetryAfter > 11*time.Second {
		t.Fatalf("after a huge streamed response: %+v; want at most one window of waiting", res[0])
	}
}

// TestRedisReleasesSlotsOfRefusedRequests: a per-user concurrency slot taken
// by one group must be freed when another group (a per-route rate) refuses
// the request; otherwise the user is locked out for the lease.
func TestRedisReleasesSlotsOfRefusedRequests(t *testing.T) {
	ls := gateways(t, 1, base+`
limits:
  plans: [{name: p, concurrency: [{name: inflight, max: 1}]}]
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: per-route, requests: 1, per: 1h, burst: 1, key: [route]}]}}
  - {path: /b, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`, nil)
	l := ls[0]
	if r := run(l, 0, alice(), "192.0.2.1"); r.status != 200 {
		t.Fatal(r)
	}
	if r := run(l, 0, alice(), "192.0.2.1"); r.status != 429 || r.reason != "limits.rate_exceeded" {
		t.Fatalf("second on /a: %+v", r)
	}
	// Releases are sent to Redis in the background.
	backgroundtest.Eventually(t, "alice let in again after her releases", 5*time.Second, func() bool {
		return run(l, 1, alice(), "192.0.2.1").status == 200
	})
}
