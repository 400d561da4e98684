package gateway

import (
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// jwtIssuer makes a signing key, its JWKS file and a token function.
func jwtIssuer(t *testing.T) (string, func(sub string, exp time.Time) string) {
	t.Helper()
	keysFile, sign := jwtSigner(t)
	return keysFile, func(sub string, exp time.Time) string {
		return sign(map[string]any{"iss": "https://idp.test", "aud": "api", "sub": sub, "exp": exp.Unix(), "roles": []string{"reader"}})
	}
}

// jwtSigner makes a signing key, its JWKS file and a function that signs
// any claims.
func jwtSigner(t *testing.T) (string, func(claims map[string]any) string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	keysFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(keysFile, set, 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	return keysFile, func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		obj, err := signer.Sign(b)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := obj.CompactSerialize()
		return s
	}
}

// TestJWTRoute runs a JWT-protected route end to end: the upstream gets the
// identity headers Rampart derived, never ones the client sent.
func TestJWTRoute(t *testing.T) {
	keysFile, token := jwtIssuer(t)
	up, s := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Authn.JWT = []config.JWT{{Name: "idp", Issuer: "https://idp.test", Audiences: []string{"api"}, KeysFile: keysFile}}
	cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"idp"}, &config.Authz{Authenticated: true}
	config.SetDefaults(cfg)
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			t.Fatalf("config: %v", p)
		}
	}
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()

	req := mustRequest(t, "GET", gw.URL+"/api/items/1")
	req.Header.Set("Authorization", "Bearer "+token("bob", time.Now().Add(time.Hour)))
	req.Header.Set("X-Rampart-Subject", "alice")
	req.Header.Set("X-Rampart-Roles", "admin")
	resp, body := do(t, req)
	if resp.StatusCode != 200 {
		t.Fatalf("valid token: %d %s", resp.StatusCode, body)
	}
	_, _, h, _ := s.Get()
	if h.Get("X-Rampart-Subject") != "bob" || h.Get("X-Rampart-Roles") != "reader" || h.Get("X-Rampart-Auth-Method") != "jwt" {
		t.Errorf("identity headers upstream: %v", h)
	}

	for name, tc := range map[string]struct {
		auth, reason string
	}{
		"no token":      {"", "authn.missing_credentials"},
		"expired token": {"Bearer " + token("bob", time.Now().Add(-time.Hour)), "authn.token_expired"},
		"garbage":       {"Bearer a.b.c", "authn.malformed"},
	} {
		req := mustRequest(t, "GET", gw.URL+"/api/items/1")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		req.Header.Set("X-Rampart-Subject", "alice")
		resp, body := do(t, req)
		d := decodeProblem(t, resp, body)
		if resp.StatusCode != 401 || d.Reason != tc.reason || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: %d %s %q", name, resp.StatusCode, d.Reason, resp.Header.Get("WWW-Authenticate"))
		}
	}
	// The public route stays public, and a token there changes nothing.
	req = mustRequest(t, "GET", gw.URL+"/api/admin/stats")
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Errorf("public route: %d", resp.StatusCode)
	}
}

// TestResponseFieldsThroughProxy: a reader's view of an upstream JSON
// response loses the fields the rule does not grant, with Content-Length
// fixed.
func TestResponseFieldsThroughProxy(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const body = `{"id":"bob","name":"Bob","ssn":"219-09-9999","card_number":"5555555555554444"}`
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			// A compressing upstream: the gateway must still see (and
			// filter) the fields, never pass the compressed body on.
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			_, _ = io.WriteString(zw, body)
			_ = zw.Close()
			return
		}
		_, _ = io.WriteString(w, body)
	}))
	defer up.Close()
	keysFile, token := jwtIssuer(t)
	cfg := testConfig(up.URL)
	cfg.Authn.JWT = []config.JWT{{Name: "idp", Issuer: "https://idp.test", Audiences: []string{"api"}, KeysFile: keysFile}}
	cfg.Routes[0].Public, cfg.Routes[0].Auth = false, []string{"idp"}
	cfg.Routes[0].Authz = &config.Authz{Authenticated: true, ResponseFields: map[string][]string{"admin": {"*"}, "*": {"id", "name"}}}
	config.SetDefaults(cfg)
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	gw := httptest.NewServer(g)
	defer gw.Close()
	req := mustRequest(t, "GET", gw.URL+"/api/items/1")
	req.Header.Set("Authorization", "Bearer "+token("bob", time.Now().Add(time.Hour)))
	req.Header.Set("Accept-Encoding", "gzip")
	resp, body := do(t, req)
	if resp.StatusCode != 200 || strings.Contains(body, "ssn") || strings.Contains(body, "5555") || !strings.Contains(body, `"name":"Bob"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp.ContentLength != int64(len(body)) {
		t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(body))
	}
}

// TestScopesCappedByRoles: a token whose issuer granted more scopes than
// the owner's roles allow (authz.max_scopes) loses the extra ones before
// authorization and before the upstream sees them.
func TestScopesCappedByRoles(t *testing.T) {
	keysFile, sign := jwtSigner(t)
	token := func(role, scope string) string {
		return sign(map[string]any{"iss": "https://idp.test", "aud": "api", "sub": "bob",
			"exp": time.Now().Add(time.Hour).Unix(), "roles": []string{role}, "scope": scope})
	}
	up, seen := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Authn.JWT = []config.JWT{{Name: "idp", Issuer: "https://idp.test", Audiences: []string{"api"}, KeysFile: keysFile}}
	cfg.Authz.MaxScopes = map[string][]string{"reader": {"items:read"}}
	cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"idp"}, &config.Authz{Scopes: []string{"items:read"}}
	config.SetDefaults(cfg)
	if probs := config.Validate(cfg); hasError(probs) {
		t.Fatal(probs)
	}
	g, err := New(cfg, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	get := func(tok string) int {
		req := mustRequest(t, "GET", srv.URL+"/api/items/1")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, _ := do(t, req)
		return resp.StatusCode
	}
	if code := get(token("reader", "items:read items:write admin:all")); code != 200 {
		t.Fatalf("reader: %d", code)
	}
	if _, _, h, _ := seen.Get(); h.Get("X-Rampart-Scopes") != "items:read" {
		t.Fatalf("upstream saw scopes %q, want only items:read", h.Get("X-Rampart-Scopes"))
	}
	if code := get(token("guest", "items:read")); code != 403 {
		t.Fatalf("a role the cap does not list kept its scope: %d", code)
	}
	// authz explain applies the cap too.
	ex, err := Explain(cfg, "GET", "", "/api/items/1", &pipeline.Identity{Subject: "bob", Roles: []string{"guest"}, Scopes: []string{"items:read"}}, "")
	if err != nil || ex.Reason != "authz.missing_scope" {
		t.Fatalf("explain: %+v %v", ex, err)
	}
	// A route asking for a scope no role may hold is a config error.
	cfg.Routes[0].Authz = &config.Authz{Scopes: []string{"items:write"}}
	if probs := config.Validate(cfg); !hasError(probs) {
		t.Fatal("a route nobody can use validated")
	}
}
