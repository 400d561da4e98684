package anomaly

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func exchange(ip, reason string) *pipeline.Exchange {
	x := &pipeline.Exchange{}
	x.Reset()
	x.ClientIP = netip.MustParseAddr(ip)
	out := pipeline.Allowed
	if reason != "" {
		out = pipeline.Denied
	}
	x.Decisions = append(x.Decisions, pipeline.Decision{Stage: "client"}, pipeline.Decision{Stage: "authn", Outcome: out, Reason: reason})
	return x
}

// TestAuthFailures runs generated traffic with and without a credential
// stuffing burst: only the burst trips the detector, once, and bans the
// attacker alone.
func TestAuthFailures(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	var banned []string
	var alerts []string
	d := NewAuthFailures(config.AuthFailures{Max: 10, Window: config.Duration(time.Minute), Ban: config.Duration(15 * time.Minute)},
		func(_ context.Context, a netip.Addr, ttl time.Duration, _ string) error {
			banned = append(banned, a.String()+" "+ttl.String())
			return nil
		},
		func(action, ip, detail string) { alerts = append(alerts, action+" "+ip+" "+detail) }, c.Now)

	// Normal traffic: many users, the odd mistyped key, requests without
	// credentials (not guessing), spread over time.
	for i := range 600 {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i % 50)}).String()
		reason := ""
		switch {
		case i%37 == 0:
			reason = "authn.bad_credentials"
		case i%5 == 0:
			reason = "authn.missing_credentials"
		}
		d.Observe(exchange(ip, reason))
		c.t = c.t.Add(time.Second)
	}
	if len(banned) != 0 || len(alerts) != 0 {
		t.Fatalf("normal traffic tripped it: %v %v", banned, alerts)
	}
	// Missing credentials from one address, fast: still not guessing.
	for range 50 {
		d.Observe(exchange("203.0.113.8", "authn.missing_credentials"))
	}
	// A burst of bad keys from one address (v4-mapped on the wire).
	for range 30 {
		d.Observe(exchange("::ffff:203.0.113.9", "authn.bad_credentials"))
	}
	if len(banned) != 1 || banned[0] != "203.0.113.9 15m0s" || len(alerts) != 1 {
		t.Fatalf("the burst: banned %v, alerts %v", banned, alerts)
	}
	// Slow failures (under max per window) never trip it.
	for range 30 {
		d.Observe(exchange("203.0.113.10", "authn.token_expired"))
		c.t = c.t.Add(7 * time.Second)
	}
	if len(banned) != 1 {
		t.Fatalf("slow failures tripped it: %v", banned)
	}
}

func TestOff(t *testing.T) {
	if NewAuthFailures(config.AuthFailures{}, nil, nil, nil) != nil {
		t.Fatal("a detector with max 0")
	}
}
