package gateway

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
)

// zeroKEK is a keyring KEK of one version, 32 zero bytes: the test key
// that seals the signing keys.
func zeroKEK(t *testing.T) signing.KEK {
	t.Helper()
	k, err := keyring.ParseKEK([]byte("1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "test KEK")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestIdentityTokenToUpstream: the upstream of an authenticated route
// receives a JWT of the identity that it can verify with Rampart's JWKS;
// a client cannot forge one by sending the header itself.
func TestIdentityTokenToUpstream(t *testing.T) {
	keysFile, token := jwtIssuer(t)
	up, seen := upstream(t)
	cfg := testConfig(up.URL)
	cfg.Authn.JWT = []config.JWT{{Name: "idp", Issuer: "https://idp.test", Audiences: []string{"api"}, KeysFile: keysFile}}
	cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"idp"}, &config.Authz{Authenticated: true}
	cfg.IdentityToken = config.IdentityToken{Enabled: true, Issuer: "https://gw.test"}
	config.SetDefaults(cfg)
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: t.TempDir() + "/r.db"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := signing.New(context.Background(), st, signing.Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: zeroKEK(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	if _, err := New(cfg, Deps{}); err == nil || !strings.Contains(err.Error(), "restart") {
		t.Fatalf("identity tokens without keys: %v", err)
	}
	g, err := New(cfg, Deps{Signing: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	req := mustRequest(t, "GET", srv.URL+"/api/items/1")
	req.Header.Set("Authorization", "Bearer "+token("bob", time.Now().Add(time.Hour)))
	req.Header.Set("X-Rampart-Identity", "forged.token.here")
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Fatal(resp.Status, body)
	}
	_, _, h, _ := seen.Get()
	tok := h.Get("X-Rampart-Identity")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatalf("upstream got %q: %v", tok, err)
	}
	var claims struct {
		jwt.Claims
		Roles []string `json:"roles"`
		IDP   string   `json:"idp"`
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatal("the token's kid is not in the JWKS")
	}
	if err := parsed.Claims(keys[0].Key, &claims); err != nil {
		t.Fatal(err)
	}
	if err := claims.Validate(jwt.Expected{Issuer: "https://gw.test", AnyAudience: jwt.Audience{"api"}, Subject: "bob", Time: time.Now()}); err != nil {
		t.Fatalf("claims %+v: %v", claims, err)
	}
	if claims.IDP != "https://idp.test" || len(claims.Roles) != 1 || claims.Roles[0] != "reader" {
		t.Fatalf("claims %+v", claims)
	}
	// A public route has no identity: a forged token is dropped, none sent.
	req = mustRequest(t, "GET", srv.URL+"/api/admin/stats")
	req.Header.Set("X-Rampart-Identity", "forged.token.here")
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	if _, _, h, _ := seen.Get(); h.Get("X-Rampart-Identity") != "" {
		t.Fatalf("the upstream received %q on a public route", h.Get("X-Rampart-Identity"))
	}
}
