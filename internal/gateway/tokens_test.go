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
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tokens"
)

// TestTokenServer runs the client-credentials flow end to end: an API key
// is the client, the access token opens a route that accepts the
// "rampart" authenticator, revocation shuts it at once, and every error
// takes RFC 6749's form.
func TestTokenServer(t *testing.T) {
	f := newTokenServer(t)
	resp, m := f.post("/oauth/token", f.grant, f.client.ID, f.secret)
	if resp.StatusCode != 200 || m["token_type"] != "Bearer" || m["scope"] != "orders:read" || m["expires_in"] != float64(300) ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %v %v", resp.StatusCode, m, resp.Header)
	}
	access := m["access_token"].(string)
	if code, body := f.call(access); code != 200 {
		t.Fatalf("the access token: %d %s", code, body)
	}
	if _, _, h, _ := f.seen.Get(); h.Get("X-Rampart-Subject") != "svc-billing" || h.Get("X-Rampart-Scopes") != "orders:read" || h.Get("X-Rampart-Roles") != "service" {
		t.Fatalf("upstream identity %v", h)
	}
	checkTokenErrors(t, f)
	// client_secret_post works too, and with no scope asks for all.
	resp, m = f.post("/oauth/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {f.client.ID}, "client_secret": {f.secret}}, "", "")
	if resp.StatusCode != 200 || m["scope"] != "orders:read orders:write" {
		t.Fatalf("client_secret_post: %d %v", resp.StatusCode, m)
	}
	checkTokenRevocation(t, f, access)
	// Metadata and keys.
	for p, want := range map[string]string{"/.well-known/oauth-authorization-server": `"token_endpoint":"https://gw.test/oauth/token"`,
		"/.well-known/jwks.json": `"alg":"ES256"`} {
		resp, body := do(t, mustRequest(t, "GET", f.srv.URL+p))
		if resp.StatusCode != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	// A revoked client gets no token.
	if err := f.st.RevokeAPIKey(context.Background(), f.client.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, m := f.post("/oauth/token", f.grant, f.client.ID, f.secret); resp.StatusCode != 401 || m["error"] != "invalid_client" {
		t.Fatalf("revoked client: %d %v", resp.StatusCode, m)
	}
}

// tokenServer is TestTokenServer's gateway: a token server on a store
// that holds two clients, billing (orders:read and orders:write) and
// other (orders:read), in front of an upstream whose route takes the
// "rampart" authenticator and wants orders:read.
type tokenServer struct {
	t      *testing.T
	st     *store.Store
	srv    *httptest.Server
	seen   *gatewaytest.Seen
	client store.APIKey // billing
	secret string       // billing's key
	// other and otherSecret are the other client.
	other       store.APIKey
	otherSecret string
	// grant asks for orders:read with client credentials.
	grant url.Values
}

// newTokenServer starts TestTokenServer's gateway; on the way it checks
// that a gateway with a token server and no signing keys is refused.
func newTokenServer(t *testing.T) *tokenServer {
	t.Helper()
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
	f := &tokenServer{t: t, st: st, grant: url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}}
	f.secret, f.client, err = apikey.Create(ctx, st, hasher, apikey.Spec{Name: "billing", Subject: "svc-billing",
		Roles: []string{"service"}, Scopes: []string{"orders:read", "orders:write"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.otherSecret, f.other, err = apikey.Create(ctx, st, hasher, apikey.Spec{Name: "other", Subject: "svc-other", Scopes: []string{"orders:read"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	up, seen := upstream(t)
	f.seen = seen
	cfg := testConfig(up.URL)
	cfg.TokenServer = config.TokenServer{Enabled: true, Issuer: "https://gw.test"}
	cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"rampart"}, &config.Authz{Scopes: []string{"orders:read"}}
	config.SetDefaults(cfg)
	if probs := config.Validate(cfg); hasError(probs) {
		t.Fatal(probs)
	}
	d := tokenServerDeps(t, st, hasher, cfg.TokenServer)
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("token server without keys: %v", err)
	}
	g, err := New(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	f.srv = httptest.NewServer(g)
	t.Cleanup(f.srv.Close)
	return f
}

// tokenServerDeps: the signing keys, revocations and token server a
// gateway with cfg's token server needs.
func tokenServerDeps(t *testing.T, st *store.Store, hasher *apikey.Hasher, cfg config.TokenServer) Deps {
	t.Helper()
	ctx := context.Background()
	keys, err := signing.New(ctx, st, signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: cfg.TTL.Std(), KEK: zeroKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	rev, err := tokens.NewRevocations(ctx, st, tokens.RevocationOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rev.Close() })
	return Deps{TokenKeys: keys, Revocations: rev, TokenServer: tokens.New(cfg, st, hasher, keys, rev, tokens.Options{})}
}

// post sends form (none if nil: not a form) to path, authenticating with
// HTTP Basic as id if id is not empty, and decodes the JSON answer.
func (f *tokenServer) post(path string, form url.Values, id, secret string) (*http.Response, map[string]any) {
	f.t.Helper()
	req := mustRequest(f.t, "POST", f.srv.URL+path)
	req.Body = http.NoBody
	if form != nil {
		req = httptest.NewRequest("POST", f.srv.URL+path, strings.NewReader(form.Encode()))
		req.RequestURI = ""
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, body := do(f.t, req)
	var m map[string]any
	_ = json.Unmarshal([]byte(body), &m)
	return resp, m
}

// call gets the protected route with tok as the bearer token.
func (f *tokenServer) call(tok string) (int, string) {
	f.t.Helper()
	req := mustRequest(f.t, "GET", f.srv.URL+"/api/items/1")
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, body := do(f.t, req)
	return resp.StatusCode, body
}

// checkTokenErrors: the token endpoint's errors, each in RFC 6749's form.
func checkTokenErrors(t *testing.T, f *tokenServer) {
	t.Helper()
	client, secret, grant := f.client, f.secret, f.grant
	for _, tc := range []struct {
		name       string
		form       url.Values
		id, secret string
		status     int
		code       string
	}{
		{"wrong secret", grant, client.ID, f.otherSecret, 401, "invalid_client"},
		{"no client", grant, "", "", 401, "invalid_client"},
		{"password grant", url.Values{"grant_type": {"password"}}, client.ID, secret, 400, "unsupported_grant_type"},
		{"scope beyond the client", url.Values{"grant_type": {"client_credentials"}, "scope": {"admin"}}, client.ID, secret, 400, "invalid_scope"},
		{"repeated parameter", url.Values{"grant_type": {"client_credentials", "client_credentials"}}, client.ID, secret, 400, "invalid_request"},
		{"two ways to authenticate", url.Values{"grant_type": {"client_credentials"}, "client_secret": {secret}}, client.ID, secret, 400, "invalid_request"},
		{"not a form", nil, client.ID, secret, 400, "invalid_request"},
	} {
		resp, m := f.post("/oauth/token", tc.form, tc.id, tc.secret)
		if resp.StatusCode != tc.status || m["error"] != tc.code {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, m)
		}
		if tc.status == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("%s: no Basic challenge", tc.name)
		}
	}
}

// checkTokenRevocation: another client cannot revoke the access token
// (200, nothing done); its own client can, and it stops working at once.
// Another gateway on the same store learns it on its next reread.
func checkTokenRevocation(t *testing.T, f *tokenServer, access string) {
	t.Helper()
	if resp, _ := f.post("/oauth/revoke", url.Values{"token": {access}}, f.other.ID, f.otherSecret); resp.StatusCode != 200 {
		t.Fatalf("revoke by another client: %d", resp.StatusCode)
	}
	if code, _ := f.call(access); code != 200 {
		t.Fatalf("another client revoked the token: %d", code)
	}
	if resp, _ := f.post("/oauth/revoke", url.Values{"token": {access}}, f.client.ID, f.secret); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if code, body := f.call(access); code != 401 || !strings.Contains(body, "authn.token_revoked") {
		t.Fatalf("a revoked token: %d %s", code, body)
	}
	rev2, err := tokens.NewRevocations(context.Background(), f.st, tokens.RevocationOptions{Every: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer rev2.Close()
	if !strings.Contains(access, ".") || !rev2.Has(jtiOf(t, access)) {
		t.Fatal("the revocation is not in the store")
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
