package anomaly

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
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

func lookup(ip, subject, id string, status int) *pipeline.Exchange {
	x := exchange(ip, "")
	x.Route = &pipeline.Route{Name: "user"}
	x.Params = append(x.Params, pipeline.Param{Name: "id", Value: id})
	x.Response.Status = status
	if subject != "" {
		x.Identity = &pipeline.Identity{Subject: subject, CredentialID: "key-" + subject}
	}
	return x
}

// TestEnumeration: a user who opens their own profile and the odd missing
// page stays quiet; one who walks through other users' ids trips it once.
func TestEnumeration(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	var alerts []string
	e := NewEnumeration(config.Enumeration{MaxDistinct: 10, Window: config.Duration(10 * time.Minute)},
		func(action, ip, detail string) { alerts = append(alerts, action+" "+detail) }, c.Now)
	for i := range 200 { // normal: own profile, and a few 404s on the same id
		e.Observe(lookup("198.51.100.1", "bob", "bob", 200))
		if i%20 == 0 {
			e.Observe(lookup("198.51.100.1", "bob", "bobby", 404))
		}
	}
	if len(alerts) != 0 {
		t.Fatalf("normal use tripped it: %v", alerts)
	}
	for i := range 50 { // BOLA probing
		e.Observe(lookup("198.51.100.2", "mallory", fmt.Sprint("user-", i), 403))
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "subject mallory") {
		t.Fatalf("probing: %v", alerts)
	}
}

func TestScraping(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	var alerts []string
	s := NewScraping(config.Scraping{Enabled: true, Window: config.Duration(time.Hour)}, func(a, ip, d string) { alerts = append(alerts, d) }, c.Now)
	x := lookup("198.51.100.3", "carol", "p", 429)
	x.Denial = pipeline.Deny(429, "limits.records_exceeded", "")
	for range 5 {
		s.Observe(x)
	}
	other := lookup("198.51.100.3", "carol", "p", 429)
	other.Denial = pipeline.Deny(429, "limits.rate_exceeded", "")
	s.Observe(other)
	if len(alerts) != 1 {
		t.Fatalf("alerts %v, want one per window", alerts)
	}
	c.t = c.t.Add(2 * time.Hour)
	s.Observe(x)
	if len(alerts) != 2 {
		t.Fatalf("next window: %v", alerts)
	}
}

func TestNewNetwork(t *testing.T) {
	var alerts []string
	n := NewNewNetwork(config.NewNetwork{Learn: 2}, func(a, ip, d string) { alerts = append(alerts, ip) })
	for _, ip := range []string{"198.51.100.1", "198.51.100.77", "203.0.113.5", "203.0.113.9", "2001:db8:1:2::1", "2001:db8:1:3::1"} {
		n.Observe(lookup(ip, "dave", "x", 200))
	}
	// 198.51.100/24 and 203.0.113/24 are learnt; the /48 2001:db8:1 is new once.
	if len(alerts) != 1 || alerts[0] != "2001:db8:1:2::1" {
		t.Fatalf("alerts %v", alerts)
	}
	n.Observe(lookup("192.0.2.1", "erin", "x", 200)) // another credential learns on its own
	if len(alerts) != 1 {
		t.Fatalf("another credential: %v", alerts)
	}
}

// TestRateSpike: steady use (with its normal ups and downs) stays quiet; a
// sudden flood from the same identity trips it once in that minute.
func TestRateSpike(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0).Truncate(time.Minute)}
	var alerts []string
	r := NewRateSpike(config.RateSpike{Factor: 10, Min: 100}, func(a, ip, d string) { alerts = append(alerts, d) }, c.Now)
	for minute := range 30 {
		n := 20 + (minute%3)*10 // 20 to 40 a minute
		for range n {
			r.Observe(lookup("198.51.100.1", "frank", "x", 200))
		}
		c.t = c.t.Add(time.Minute)
	}
	if len(alerts) != 0 {
		t.Fatalf("steady use tripped it: %v", alerts)
	}
	for range 2000 {
		r.Observe(lookup("198.51.100.1", "frank", "x", 200))
	}
	if len(alerts) != 1 || !strings.Contains(alerts[0], "subject frank") {
		t.Fatalf("the flood: %v", alerts)
	}
	// A newcomer with no baseline yet is not judged.
	for range 500 {
		r.Observe(lookup("198.51.100.2", "gina", "x", 200))
	}
	if len(alerts) != 1 {
		t.Fatalf("a newcomer tripped it: %v", alerts)
	}
}

// TestActionsOffTheRequest: with a Runner, a tripped detector's ban and
// alert never hold the request (Observe returns while the ban store is
// stuck), they still happen in order once it answers, and Close runs what
// is queued. Another detector's alert goes through the runner too.
func TestActionsOffTheRequest(t *testing.T) {
	r := NewRunner(16, nil)
	release := make(chan struct{})
	var got []string
	record := make(chan string, 8)
	ban := func(context.Context, netip.Addr, time.Duration, string) error { <-release; return nil }
	alert := func(action, ip, detail string) { record <- action + " " + detail }
	d := FromConfig(config.Anomalies{
		AuthFailures: config.AuthFailures{Max: 3, Window: config.Duration(time.Minute), Ban: config.Duration(time.Minute)},
		Scraping:     config.Scraping{Enabled: true, Window: config.Duration(time.Minute)},
	}, ban, alert, r.Go)
	observed := make(chan struct{})
	go func() {
		for range 3 {
			d.Observe(exchange("203.0.113.9", "authn.bad_credentials"))
		}
		close(observed)
	}()
	select {
	case <-observed: // the ban is stuck, and Observe did not wait for it
	case <-time.After(10 * time.Second):
		t.Fatal("Observe waited for the ban")
	}
	close(release)
	got = append(got, <-record)
	if !strings.HasPrefix(got[0], "anomaly.auth_failures 3 authentication failures") || !strings.Contains(got[0], "banned for 1m0s") {
		t.Fatalf("alert %q", got[0])
	}
	x := lookup("198.51.100.4", "ann", "p", 429)
	x.Denial = pipeline.Deny(429, "limits.records_exceeded", "")
	d.Observe(x)
	r.Close()
	select {
	case a := <-record:
		if !strings.HasPrefix(a, "anomaly.scraping") {
			t.Errorf("second alert %q", a)
		}
	default:
		t.Error("Close did not run the queued alert")
	}
	r.Go(func(context.Context) { t.Error("an action ran after Close") })
	if r.Dropped() != 1 {
		t.Errorf("dropped %d, want 1 (the action after Close)", r.Dropped())
	}
}

// TestOutageIsNotGuessing: refusals because the key store or the
// introspection endpoint is down are not counted as failed logins (they
// would ban every client during an outage).
func TestOutageIsNotGuessing(t *testing.T) {
	var banned int
	d := NewAuthFailures(config.AuthFailures{Max: 3, Window: config.Duration(time.Minute), Ban: config.Duration(time.Minute)},
		func(context.Context, netip.Addr, time.Duration, string) error { banned++; return nil }, nil, nil)
	for range 10 {
		d.Observe(exchange("198.51.100.7", "authn.store_unavailable"))
		d.Observe(exchange("198.51.100.7", "authn.introspection_unavailable"))
	}
	if banned != 0 {
		t.Fatalf("an outage banned the client %d times", banned)
	}
}

// TestCloseCancelsStuckBan: a ban waiting on an unreachable store gives up
// when the runner closes; the alert still says what happened.
func TestCloseCancelsStuckBan(t *testing.T) {
	r := NewRunner(4, nil)
	alerts := make(chan string, 2)
	d := FromConfig(config.Anomalies{AuthFailures: config.AuthFailures{Max: 1, Window: config.Duration(time.Minute), Ban: config.Duration(time.Minute)}},
		func(ctx context.Context, _ netip.Addr, _ time.Duration, _ string) error {
			<-ctx.Done()
			return ctx.Err()
		},
		func(_, _, detail string) { alerts <- detail }, r.Go)
	d.Observe(exchange("203.0.113.5", "authn.bad_credentials"))
	r.Close() // returns: the ban's context is cancelled
	if a := <-alerts; !strings.Contains(a, "the ban failed: context canceled") {
		t.Fatalf("alert %q", a)
	}
}
