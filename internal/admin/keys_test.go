package admin

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/store"
)

const testToken = "rpa_0123456789abcdef0123"

// TestKeysAPI drives the API key endpoints through Client, over TLS, the
// way `rampart apikey --addr` does.
func TestKeysAPI(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	handler, err := New(Options{Token: testToken, Registry: prometheus.NewRegistry(), Store: s, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(handler)
	defer srv.Close()
	caFile := filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	c, err := NewClient(srv.URL, testToken, caFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	k, err := c.CreateKey(ctx, CreateKeyRequest{Subject: "bob", Roles: []string{"reader"}, ExpiresIn: "1h"})
	if err != nil {
		t.Fatal(err)
	}
	id, secret, err := apikey.Parse(k.Key)
	if err != nil || id != k.ID || k.Status != "active" || k.ExpiresAt.IsZero() {
		t.Fatalf("created %+v %v", k, err)
	}
	rec, _ := s.APIKey(ctx, id)
	if h.Check(rec, true, secret, netip.Addr{}, time.Now()) != apikey.Valid {
		t.Error("created key does not check")
	}
	list, err := c.ListKeys(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id {
		t.Fatalf("list %+v %v", list, err)
	}
	r, err := c.RotateKey(ctx, id, time.Hour)
	if err != nil || r.Key == k.Key || r.Status != "rotating" {
		t.Fatalf("rotate %+v %v", r, err)
	}
	if info, err := c.RevokeKey(ctx, id); err != nil || info.Status != "revoked" {
		t.Fatalf("revoke %+v %v", info, err)
	}
	if _, err := c.RotateKey(ctx, id, time.Hour); err == nil || !strings.Contains(err.Error(), "admin.not_found") {
		t.Errorf("rotating a revoked key: %v", err)
	}
	if _, err := c.CreateKey(ctx, CreateKeyRequest{Subject: "bob", CIDRs: []string{"nonsense"}}); err == nil || !strings.Contains(err.Error(), "admin.bad_request") {
		t.Errorf("bad CIDR: %v", err)
	}
	if _, err := c.CreateKey(ctx, CreateKeyRequest{}); err == nil {
		t.Error("key without subject created")
	}

	bad, _ := NewClient(srv.URL, "rpa_wrong_wrong_wrong_wrong", caFile)
	if _, err := bad.ListKeys(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
	if _, err := NewClient("http://127.0.0.1:9443", testToken, ""); err == nil {
		t.Error("plain-HTTP admin address accepted")
	}

	// State-changing calls need application/json (no cross-site forms) and
	// exact bodies.
	for _, tc := range []struct {
		ct, body string
		status   int
	}{
		{"text/plain", `{"subject":"x"}`, http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", `subject=x`, http.StatusUnsupportedMediaType},
		{"application/json", `{"subject":"x","admin":true}`, http.StatusBadRequest},
		{"application/json", `{"subject":"x","expires_in":"soon"}`, http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/apikeys", strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", tc.ct)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.ct, tc.body, resp.StatusCode, tc.status)
		}
	}
}

// TestStoreFailureIsNot400 is the regression test for store errors
// answered as the caller's mistake with the driver's text.
func TestStoreFailureIsNot400(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	handler, _ := New(Options{Token: testToken, Registry: prometheus.NewRegistry(), Store: s, Hasher: h})
	_ = s.Close()
	req := httptest.NewRequest("POST", "/v1/apikeys", strings.NewReader(`{"subject":"bob"}`))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	handler.ServeHTTP(w, req)
	if w.Code != http.StatusServiceUnavailable || strings.Contains(w.Body.String(), "sql") {
		t.Errorf("closed store: %d %s", w.Code, w.Body)
	}
}

func TestKeysWithinOwnersScopes(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	k := &LocalKeys{Store: s, Hasher: h, MaxScopes: map[string][]string{"reader": {"products:read"}}}
	ctx := context.Background()
	if _, err := k.CreateKey(ctx, CreateKeyRequest{Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"products:read"}}); err != nil {
		t.Fatalf("within the role: %v", err)
	}
	_, err = k.CreateKey(ctx, CreateKeyRequest{Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"products:read", "orders:write"}})
	var in inputError
	if !errors.As(err, &in) || !strings.Contains(err.Error(), `"orders:write" is more than the key's roles allow`) {
		t.Fatalf("beyond the role: %v", err)
	}
	if keys, _ := k.ListKeys(ctx); len(keys) != 1 {
		t.Fatalf("%d keys stored", len(keys))
	}
}

func TestAdminActionsRecorded(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	var got []string
	handler, err := New(Options{Token: testToken, Store: s, Hasher: h, Bans: firewall.NewMemoryBans(config.Bans{MaxEntries: 10, MaxTTL: config.Duration(time.Hour)}, nil),
		Record: func(action, subject, detail string) { got = append(got, action+" "+subject+" "+detail) }})
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, path, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	rec := do("POST", "/v1/apikeys", `{"subject":"bob"}`)
	var k NewKey
	_ = json.Unmarshal(rec.Body.Bytes(), &k)
	do("POST", "/v1/apikeys/"+k.ID+"/rotate", `{"grace":"1h"}`)
	do("POST", "/v1/apikeys/"+k.ID+"/revoke", `{}`)
	do("POST", "/v1/bans", `{"network":"203.0.113.7","ttl":"10m"}`)
	do("DELETE", "/v1/bans?network=203.0.113.7", "")
	want := []string{"apikey.create bob key " + k.ID, "apikey.rotate bob key " + k.ID + ", grace 1h0m0s", "apikey.revoke bob key " + k.ID,
		"ban.add  203.0.113.7/32 for 10m0s", "ban.remove  203.0.113.7/32"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("recorded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, g := range got {
		if strings.Contains(g, "rpk_") {
			t.Fatalf("a secret was recorded: %s", g)
		}
	}
}
