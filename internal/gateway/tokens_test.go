package gateway

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tokens"
)

// TestTokenServer runs the client-credentials flow end to end: an API key
// is the client, the access token opens a route that accepts the
// "rampart" authenticator, revocation shuts it at once, and every error
// takes RFC 6749's form.
func TestTokenServer(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	hasher, err := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	if err != nil {
		t.Fatal(err)
	}
	secret, client, err := apikey.Create(ctx, st, hasher, apikey.Spec{Name: "billing", Subject: "svc-billing",
		Roles: []string{"service"}, Scopes: []string{"orders:read", "orders:write"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, otherRec, err := apikey.Create(ctx, st, hasher, apikey.Spec{Name: "other", Subject: "svc-other", Scopes: []string{"orders:read"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	up, seen := upstream(t)
	cfg := testConfig(up.URL)
	cfg.TokenServer = config.TokenServer{Enabled: true, Issuer: "https://gw.test"}
	cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"rampart"}, &config.Authz{Scopes: []string{"orders:read"}}
	config.SetDefaults(cfg)
	if probs := config.Validate(cfg); hasError(probs) {
		t.Fatal(probs)
	}
	keys, err := signing.New(ctx, st, signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: cfg.TokenServer.TTL.Std(), KEK: zeroKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	rev, err := tokens.NewRevocations(ctx, st, tokens.RevocationOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rev.Close() })
	d := Deps{TokenKeys: keys, Revocations: rev, TokenServer: tokens.New(cfg.TokenServer, st, hasher, keys, rev, tokens.Options{})}
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("token server without keys: %v", err)
	}
	g, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	post := func(path string, form url.Values, id, secret string) (*http.Response, map[string]any) {
		req := mustRequest(t, "POST", srv.URL+path)
		req.Body = http.NoBody
		if form != nil {
			req = httptest.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
			req.RequestURI = ""
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if id != "" {
			req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
		}
		resp, body := do(t, req)
		var m map[string]any
		_ = json.Unmarshal([]byte(body), &m)
		return resp, m
	}
	grant := url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}
	resp, m := post("/oauth/token", grant, client.ID, secret)
	if resp.StatusCode != 200 || m["token_type"] != "Bearer" || m["scope"] != "orders:read" || m["expires_in"] != float64(300) ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %v %v", resp.StatusCode, m, resp.Header)
	}
	access := m["access_token"].(string)
	call := func(tok string) (int, string) {
		req := mustRequest(t, "GET", srv.URL+"/api/items/1")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, body := do(t, req)
		return resp.StatusCode, body
	}
	if code, body := call(access); code != 200 {
		t.Fatalf("the access token: %d %s", code, body)
	}
	if _, _, h, _ := seen.Get(); h.Get("X-Rampart-Subject") != "svc-billing" || h.Get("X-Rampart-Scopes") != "orders:read" || h.Get("X-Rampart-Roles") != "service" {
		t.Fatalf("upstream identity %v", h)
	}

	// Errors, each in RFC 6749's form.
	for _, tc := range []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		code       string
	}{
		{"wrong secret", grant, client.ID, other, 401, "invalid_client"},
		{"no client", grant, "", "", 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, client.ID, secret, 400, "unsupported_grant_type"},
		{"scope beyond the client", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, client.ID, secret, 400, "invalid_scope"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, client.ID, secret, 400, "invalid_request"},
		{"two ways to authenticate", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, client.ID, secret, 400, "invalid_request"},
		{"not a form", nil, client.ID, secret, 400, "invalid_request"},
	} {
		resp, m := post("/oauth/token", tc.form, tc.id, tc.secret)
		if resp.StatusCode != tc.status || m["error"] != tc.code {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, m)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: no Basic challenge", tc.name)
		}
	}
	// client_secret_post works too, and with no scope asks for all.
	resp, m = post("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client.ID}, "client_secret": {secret}}, "", "")
	if resp.StatusCode != 200 || m["scope"] != "orders:read orders:write" {
		t.Fatalf("client_secret_post: %d %v", resp.StatusCode, m)
	}

	// Revocation: another client cannot revoke it (200, nothing done);
	// its own client can, and it stops working at once.
	if resp, _ := post("/oauth/revoke", url.Values{"token": {access}}, otherRec.ID, other); resp.StatusCode != 200 {
		t.Fatalf("revoke by another client: %d", resp.StatusCode)
	}
	if code, _ := call(access); code != 200 {
		t.Fatalf("another client revoked the token: %d", code)
	}
	if resp, _ := post("/oauth/revoke", url.Values{"token": {access}}, client.ID, secret); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if code, body := call(access); code != 401 || !strings.Contains(body, "authn.token_revoked") {
		t.Fatalf("a revoked token: %d %s", code, body)
	}
	// Another gateway on the same store learns it on its next reread.
	rev2, err := tokens.NewRevocations(ctx, st, tokens.RevocationOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer rev2.Close()
	if !strings.Contains(access, ".") || !rev2.Has(jtiOf(t, access)) {
		t.Fatal("the revocation is not in the store")
	}

	// Metadata and keys.
	for p, want := range map[string]string{"/.well-known/oauth-authorization-server": `"token_endpoint":"https://gw.test/oauth/token"`,
		"/.well-known/jwks.json": `"alg":"ES256"`} {
		resp, body := do(t, mustRequest(t, "GET", srv.URL+p))
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	// A revoked client gets no token.
	if err := st.RevokeAPIKey(ctx, client.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, m := post("/oauth/token", grant, client.ID, secret); resp.StatusCode != 401 || m["error"] != "invalid_client" {
		t.Fatalf("revoked client: %d %v", resp.StatusCode, m)
	}
}

func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64URL(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		JTI string `json:"jti"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c.JTI
}

func base64URL(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
