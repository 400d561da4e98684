package admin

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/problem"
)

// banServer serves the admin API over TLS with bans and returns a client.
func banServer(t *testing.T, bans *firewall.Bans) (*httptest.Server, *Client) {
	t.Helper()
	handler, err := New(Options{Token: testToken, Registry: prometheus.NewRegistry(), Bans: bans})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(handler)
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	c, err := NewClient(srv.URL, testToken, caFile)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// TestBansAPI drives the ban endpoints through Client, the way
// `rampart ban` does.
func TestBansAPI(t *testing.T) {
	bans := firewall.NewMemoryBans(config.Bans{MaxEntries: 3, MaxTTL: config.Duration(24 * time.Hour)}, nil)
	_, c := banServer(t, bans)
	ctx := context.Background()

	b, err := c.AddBan(ctx, AddBanRequest{Network: "203.0.113.7", TTL: "1h", Reason: "scanner"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Network != "203.0.113.7/32" || b.Reason != "scanner" || b.ExpiresAt.Sub(b.CreatedAt) != time.Hour {
		t.Errorf("ban %+v", b)
	}
	if !bans.Banned(netAddr("203.0.113.7")) {
		t.Error("the ban is not enforced")
	}
	for _, tc := range []struct{ in, want string }{
		{"2001:db8::/48", "2001:db8::/48"},
		{"::ffff:198.51.100.7", "198.51.100.7/32"},
	} {
		b, err := c.AddBan(ctx, AddBanRequest{Network: tc.in, TTL: "30m"})
		if err != nil || b.Network != tc.want {
			t.Errorf("%s: %+v %v", tc.in, b, err)
		}
	}
	if _, err := c.AddBan(ctx, AddBanRequest{Network: "192.0.2.0/24", TTL: "1h"}); err == nil || !strings.Contains(err.Error(), "409 admin.ban_list_full") {
		t.Errorf("fourth ban: %v", err)
	}
	list, err := c.ListBans(ctx)
	if err != nil || len(list) != 3 || list[0].Network != "198.51.100.7/32" || list[1].Network != "203.0.113.7/32" || list[2].Network != "2001:db8::/48" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := c.RemoveBan(ctx, "203.0.113.7"); err != nil {
		t.Fatal(err)
	}
	if bans.Banned(netAddr("203.0.113.7")) {
		t.Error("removed ban enforced")
	}
	if err := c.RemoveBan(ctx, "203.0.113.7/32"); err == nil || !strings.Contains(err.Error(), "404 admin.not_found") {
		t.Errorf("second removal: %v", err)
	}
	if err := c.RemoveBan(ctx, "::ffff:198.51.100.7"); err != nil {
		t.Errorf("removal by the mapped spelling: %v", err)
	}
	if list, _ := c.ListBans(ctx); len(list) != 1 {
		t.Errorf("list after removals %+v", list)
	}
	if _, err := NewClient("https://127.0.0.1:1", "", ""); err == nil {
		t.Error("client without a token")
	}
}

func netAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestBansAPIBadInput: every mistake is a 400 problem document that says
// what is wrong, never a 500.
func TestBansAPIBadInput(t *testing.T) {
	bans := firewall.NewMemoryBans(config.Bans{MaxTTL: config.Duration(24 * time.Hour)}, nil)
	srv, _ := banServer(t, bans)
	tests := []struct {
		name, method, path, ct, body, token string
		status                              int
		detail                              string
	}{
		{"no token", "GET", "/v1/bans", "", "", "nope-nope-nope-nope", 401, ""},
		{"list", "GET", "/v1/bans", "", "", testToken, 200, ""},
		{"form body", "POST", "/v1/bans", "application/x-www-form-urlencoded", "network=1.2.3.4&ttl=1h", testToken, 415, ""},
		{"unknown field", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"1h","admin":true}`, testToken, 400, "not the expected JSON"},
		{"bad network", "POST", "/v1/bans", "application/json", `{"network":"host.example","ttl":"1h"}`, testToken, 400, "network must be an IP address"},
		{"zone", "POST", "/v1/bans", "application/json", `{"network":"fe80::1%eth0","ttl":"1h"}`, testToken, 400, "network must be"},
		{"bad cidr", "POST", "/v1/bans", "application/json", `{"network":"10.0.0.0/33","ttl":"1h"}`, testToken, 400, "network must be"},
		{"everyone", "POST", "/v1/bans", "application/json", `{"network":"::/0","ttl":"1h"}`, testToken, 400, "/0"},
		{"no ttl", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4"}`, testToken, 400, "ttl must be a positive duration"},
		{"bad ttl", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"soon"}`, testToken, 400, "ttl must be"},
		{"negative ttl", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"-1h"}`, testToken, 400, "ttl must be"},
		{"ttl over max", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"25h"}`, testToken, 400, "at most 24h"},
		{"control character", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"1h","reason":"a\nb"}`, testToken, 400, "control character"},
		{"long reason", "POST", "/v1/bans", "application/json", `{"network":"1.2.3.4","ttl":"1h","reason":"` + strings.Repeat("x", 201) + `"}`, testToken, 400, "longer than 200"},
		{"delete without network", "DELETE", "/v1/bans", "", "", testToken, 400, "give the network"},
		{"delete two networks", "DELETE", "/v1/bans?network=1.2.3.4&network=1.2.3.5", "", "", testToken, 400, "give the network"},
		{"delete bad network", "DELETE", "/v1/bans?network=nope", "", "", testToken, 400, "network must be"},
		{"delete unknown", "DELETE", "/v1/bans?network=" + url.QueryEscape("2001:db8::/48"), "", "", testToken, 404, ""},
		{"put", "PUT", "/v1/bans", "application/json", `{}`, testToken, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Authorization", "Bearer "+tt.token)
			if tt.ct != "" {
				req.Header.Set("Content-Type", tt.ct)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.detail != "" {
				var p problem.Document
				_ = json.NewDecoder(resp.Body).Decode(&p)
				if p.Reason != "admin.bad_request" || !strings.Contains(p.Detail, tt.detail) {
					t.Errorf("problem %+v, want detail with %q", p, tt.detail)
				}
			}
		})
	}
	if l, _ := bans.List(context.Background()); len(l) != 0 {
		t.Errorf("bad requests banned %v", l)
	}
}

// TestBansAPIBackendDown: a Redis outage is a 503 that does not tell the
// client what failed.
func TestBansAPIBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	_ = ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: closed, DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer rdb.Close()
	bans, err := firewall.NewRedisBans(context.Background(), config.Bans{}, rdb, nil, nil, firewall.WithKeyPrefix("rampart-test-admin:"))
	if err != nil {
		t.Fatal(err)
	}
	defer bans.Close()
	srv, c := banServer(t, bans)
	if _, err := c.AddBan(context.Background(), AddBanRequest{Network: "192.0.2.1", TTL: "1h"}); err == nil || !strings.Contains(err.Error(), "503 admin.bans_unavailable") {
		t.Errorf("add: %v", err)
	}
	for _, path := range []string{"/v1/bans", "/v1/bans?network=192.0.2.1"} {
		method := "GET"
		if strings.Contains(path, "?") {
			method = "DELETE"
		}
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var p problem.Document
		_ = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 503 || strings.Contains(p.Detail, "127.0.0.1") || strings.Contains(p.Detail, "dial") {
			t.Errorf("%s %s: %d %+v", method, path, resp.StatusCode, p)
		}
	}
}

// TestNoBansNoEndpoints: without a ban list the endpoints do not exist.
func TestNoBansNoEndpoints(t *testing.T) {
	h, _ := New(Options{Token: testToken, Registry: prometheus.NewRegistry()})
	req := httptest.NewRequest("GET", "/v1/bans", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusNotFound {
		t.Errorf("status %d", w.Code)
	}
}
