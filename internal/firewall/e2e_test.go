package firewall_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/client"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/engine"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/problem"
)

// TestEndToEnd runs the real client stage and the global firewall in the
// net/http engine: the firewall sees the address the client stage
// believes, so a forwarding header decides only from a trusted proxy.
func TestEndToEnd(t *testing.T) {
	cs, err := client.New(config.Client{TrustedProxies: []string{"10.0.0.0/8", "2001:db8:ffff::/48"},
		IPHeader: "X-Forwarded-For", RequestIDHeader: "X-Request-Id"}, client.Deps{IDs: client.NewIDs()})
	if err != nil {
		t.Fatal(err)
	}
	bans := firewall.NewMemoryBans(config.Bans{}, nil)
	if _, err := bans.Add(context.Background(), netip.MustParsePrefix("192.0.2.99/32"), time.Hour, "scanner"); err != nil {
		t.Fatal(err)
	}
	fw, err := firewall.New(config.Firewall{Deny: []string{"198.51.100.0/24", "2001:db8:bad::/48"}}, firewall.Deps{Bans: bans})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	p := pipeline.New([]pipeline.RequestStage{cs, fw.Global()}, []pipeline.ResponseStage{cs}, nil)
	h := engine.New(p, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("upstream"))
	}), engine.Options{})

	tests := []struct {
		name   string
		peer   string
		xff    string
		status int
		reason string
	}{
		{"untrusted peer, clean", "192.0.2.1:5555", "", 200, ""},
		{"untrusted denied peer", "198.51.100.7:5555", "", 403, firewall.ReasonDenied},
		{"untrusted denied peer claims a clean address", "198.51.100.7:5555", "192.0.2.1", 403, firewall.ReasonDenied},
		{"untrusted clean peer claims a denied address", "192.0.2.1:5555", "198.51.100.7", 200, ""},
		{"trusted proxy forwards a denied client", "10.0.0.2:5555", "198.51.100.7", 403, firewall.ReasonDenied},
		{"trusted proxy forwards a clean client", "10.0.0.2:5555", "192.0.2.1", 200, ""},
		{"spoofed left of the real client", "10.0.0.2:5555", "192.0.2.1, 198.51.100.7", 403, firewall.ReasonDenied},
		{"spoofed denied left of a clean client", "10.0.0.2:5555", "198.51.100.7, 192.0.2.1", 200, ""},
		{"trusted proxy forwards a banned client", "10.0.0.2:5555", "192.0.2.99", 403, firewall.ReasonBanned},
		{"banned peer", "192.0.2.99:5555", "", 403, firewall.ReasonBanned},
		{"mapped peer", "[::ffff:198.51.100.7]:5555", "", 403, firewall.ReasonDenied},
		{"mapped forwarded address", "10.0.0.2:5555", "::ffff:198.51.100.7", 403, firewall.ReasonDenied},
		{"ipv6 peer denied", "[2001:db8:bad::1]:5555", "", 403, firewall.ReasonDenied},
		{"ipv6 trusted proxy forwards a denied v6 client", "[2001:db8:ffff::1]:443", "[2001:db8:bad::7]:1234", 403, firewall.ReasonDenied},
		{"ipv6 untrusted peer claims a denied client", "[2001:db8:1::1]:443", "2001:db8:bad::7", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/anything", nil)
			req.RemoteAddr = tt.peer
			if tt.xff != "" {
				req.Header.Set("X-Forwarded-For", tt.xff)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status == 200 {
				if w.Body.String() != "upstream" {
					t.Errorf("body %q", w.Body)
				}
				return
			}
			var doc problem.Document
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
				t.Fatal(err)
			}
			if doc.Reason != tt.reason || doc.RequestID == "" || doc.RequestID != w.Header().Get("X-Request-Id") {
				t.Errorf("problem %+v, want reason %s", doc, tt.reason)
			}
			for _, leak := range []string{"198.51", "192.0.2", "2001:db8", "scanner"} {
				if strings.Contains(w.Body.String(), leak) {
					t.Errorf("refusal reveals %q: %s", leak, w.Body)
				}
			}
		})
	}
}
