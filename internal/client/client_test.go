package client

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	xff := NewResolver(trusted, "X-Forwarded-For")
	realIP := NewResolver(trusted, "X-Real-IP")
	none := NewResolver(nil, "X-Forwarded-For")

	tests := []struct {
		name    string
		r       *Resolver
		peer    string
		headers []string // X-Forwarded-For or X-Real-IP lines
		want    string
		err     error
	}{
		{"no proxy configured, header ignored", none, "203.0.113.9", []string{"1.2.3.4"}, "203.0.113.9", nil},
		{"untrusted peer, header ignored", xff, "203.0.113.9", []string{"10.1.1.1"}, "203.0.113.9", nil},
		{"trusted peer, no header", xff, "10.0.0.2", nil, "10.0.0.2", nil},
		{"one trusted hop", xff, "10.0.0.2", []string{"198.51.100.7"}, "198.51.100.7", nil},
		{"two trusted hops", xff, "10.0.0.2", []string{"198.51.100.7, 10.0.0.3"}, "198.51.100.7", nil},
		{"with port", xff, "10.0.0.2", []string{"198.51.100.7:5555"}, "198.51.100.7", nil},
		{"ipv6 with port", xff, "10.0.0.2", []string{"[2001:db9::1]:443"}, "2001:db9::1", nil},
		{"mapped v4 peer", xff, "::ffff:10.0.0.2", []string{"198.51.100.7"}, "198.51.100.7", nil},
		{"multiple header lines", xff, "10.0.0.2", []string{"198.51.100.7", "10.0.0.9"}, "198.51.100.7", nil},
		{"all hops trusted", xff, "10.0.0.2", []string{"10.0.0.5, 10.0.0.3"}, "10.0.0.5", nil},
		{"ipv6 proxy", xff, "2001:db8::5", []string{"192.0.2.1"}, "192.0.2.1", nil},
		// A zoned link-local peer would match no network: the zone goes.
		{"zoned peer", none, "fe80::1%eth0", nil, "fe80::1", nil},

		// Spoofing: the client prepends what it wants us to believe.
		{"spoofed leftmost ignored", xff, "10.0.0.2", []string{"127.0.0.1, 198.51.100.7"}, "198.51.100.7", nil},
		{"spoofed trusted leftmost ignored", xff, "10.0.0.2", []string{"10.9.9.9, 198.51.100.7"}, "198.51.100.7", nil},
		{"spoofed separate line ignored", xff, "10.0.0.2", []string{"1.1.1.1", "198.51.100.7"}, "198.51.100.7", nil},
		{"garbage left of client ignored", xff, "10.0.0.2", []string{"<script>, 198.51.100.7"}, "198.51.100.7", nil},

		// Fail closed where the believed part is unreadable.
		{"garbage at the trusted edge", xff, "10.0.0.2", []string{"198.51.100.7, not-an-ip"}, "", ErrMalformed},
		{"empty entry", xff, "10.0.0.2", []string{"198.51.100.7, "}, "", ErrMalformed},
		{"zone", xff, "10.0.0.2", []string{"fe80::1%eth0"}, "", ErrMalformed},
		{"too many hops", xff, "10.0.0.2", []string{strings.Repeat("10.0.0.1, ", 40) + "10.0.0.1"}, "", ErrMalformed},

		{"x-real-ip", realIP, "10.0.0.2", []string{"198.51.100.7"}, "198.51.100.7", nil},
		{"x-real-ip untrusted", realIP, "198.51.100.1", []string{"10.0.0.1"}, "198.51.100.1", nil},
		{"x-real-ip twice", realIP, "10.0.0.2", []string{"198.51.100.7", "1.2.3.4"}, "", ErrMalformed},
		{"x-real-ip list", realIP, "10.0.0.2", []string{"198.51.100.7, 1.2.3.4"}, "", ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.headers {
				h.Add(tt.r.header, v)
			}
			got, err := tt.r.ClientIP(netip.MustParseAddr(tt.peer), h)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && got.String() != tt.want {
				t.Errorf("ClientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStage(t *testing.T) {
	s, err := New(config.Client{TrustedProxies: []string{"10.0.0.0/8"}, IPHeader: "X-Forwarded-For",
		RequestIDHeader: "X-Request-Id", TrustRequestID: true}, Deps{IDs: NewIDs()})
	if err != nil {
		t.Fatal(err)
	}
	run := func(peer string, h http.Header) (*pipeline.Exchange, error) {
		t.Helper()
		x := &pipeline.Exchange{}
		x.Reset()
		x.In = pipeline.Request{Header: h, Peer: netip.MustParseAddrPort(peer)}
		return x, s.Request(context.Background(), x)
	}

	x, err := run("10.0.0.1:1234", http.Header{"X-Request-Id": {"abc-123"}, "X-Forwarded-For": {"192.0.2.5"}})
	if err != nil || x.RequestID != "abc-123" || x.ClientIP.String() != "192.0.2.5" {
		t.Errorf("trusted proxy: id=%q ip=%s err=%v", x.RequestID, x.ClientIP, err)
	}
	x, _ = run("192.0.2.9:1234", http.Header{"X-Request-Id": {"forged"}})
	if x.RequestID == "forged" || x.RequestID == "" {
		t.Errorf("untrusted peer chose its request id: %q", x.RequestID)
	}
	x, _ = run("10.0.0.1:1234", http.Header{"X-Request-Id": {"bad id\r\n"}})
	if x.RequestID == "bad id\r\n" {
		t.Error("malformed request id kept")
	}
	_, err = run("10.0.0.1:1234", http.Header{"X-Forwarded-For": {"junk"}})
	if d, ok := pipeline.AsDenial(err); !ok || d.Status != http.StatusBadRequest || d.Reason != "client.bad_forwarding_header" {
		t.Errorf("malformed forwarding header: %v", err)
	}
}

func TestIDsUnique(t *testing.T) {
	a, b := NewIDs(), NewIDs()
	seen := map[string]bool{}
	for range 1000 {
		for _, id := range []string{a.Next(), b.Next()} {
			if seen[id] || !validID(id) {
				t.Fatalf("duplicate or invalid id %q", id)
			}
			seen[id] = true
		}
	}
}

func FuzzClientIP(f *testing.F) {
	r := NewResolver([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "X-Forwarded-For")
	for _, s := range []string{"1.2.3.4", "1.2.3.4, 10.0.0.1", "[::1]:80", ",,,", "10.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ip, err := r.ClientIP(netip.MustParseAddr("10.0.0.2"), http.Header{"X-Forwarded-For": {v}})
		if err == nil && !ip.IsValid() {
			t.Fatalf("invalid IP without error for %q", v)
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	r := NewResolver([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, "X-Forwarded-For")
	h := http.Header{"X-Forwarded-For": {"198.51.100.7, 10.0.0.3, 10.0.0.4"}}
	peer := netip.MustParseAddr("10.0.0.2")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = r.ClientIP(peer, h)
	}
}
