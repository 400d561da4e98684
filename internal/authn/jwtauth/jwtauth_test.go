package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

const issuer = "https://idp.example.com"

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type keys struct {
	rsa      *rsa.PrivateKey
	ec       *ecdsa.PrivateKey
	otherRSA *rsa.PrivateKey
}

var (
	keysOnce sync.Once
	theKeys  keys
)

func testKeys(t testing.TB) keys {
	t.Helper()
	keysOnce.Do(func() {
		r, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		o, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		theKeys = keys{rsa: r, ec: e, otherRSA: o}
	})
	return theKeys
}

func jwks(k keys) []byte {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"},
		{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"},
	}}
	b, _ := json.Marshal(set)
	return b
}

func jwtConfig(t testing.TB) config.JWT {
	t.Helper()
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwks(testKeys(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Config{Authn: config.Authn{JWT: []config.JWT{{Name: "idp", Issuer: issuer, Audiences: []string{"orders-api"}, KeysFile: path,
		Claims: config.ClaimMapping{Roles: []string{"realm_access.roles"}, Tenant: "tid"}}}}}
	config.SetDefaults(&c)
	return c.Authn.JWT[0]
}

func claims(mod func(map[string]any)) []byte {
	c := map[string]any{
		"iss": issuer, "sub": "bob", "aud": "orders-api",
		"exp": testNow.Add(time.Hour).Unix(), "iat": testNow.Add(-time.Minute).Unix(), "nbf": testNow.Add(-time.Minute).Unix(),
		"scope": "orders:read orders:write", "realm_access": map[string]any{"roles": []any{"reader"}}, "tid": "acme",
	}
	if mod != nil {
		mod(c)
	}
	b, _ := json.Marshal(c)
	return b
}

func sign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, payload []byte, opts *jose.SignerOptions) string {
	t.Helper()
	if opts == nil {
		opts = &jose.SignerOptions{}
	}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// raw builds a token from a header and payload of our choosing and a
// signature segment as given.
func raw(header string, payload []byte, sig string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc(payload) + "." + sig
}

func exchange(tok string) *pipeline.Exchange {
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
	return x
}

func newAuth(t testing.TB, c config.JWT) *Authenticator {
	t.Helper()
	a, err := New(c, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestValidTokens(t *testing.T) {
	k := testKeys(t)
	a := newAuth(t, jwtConfig(t))
	for _, tok := range []string{
		sign(t, jose.RS256, k.rsa, "rsa-1", claims(nil), nil),
		sign(t, jose.ES256, k.ec, "ec-1", claims(nil), nil),
	} {
		id, err := a.Authenticate(context.Background(), exchange(tok))
		if err != nil {
			t.Fatalf("valid token refused: %v", err)
		}
		if id.Subject != "bob" || id.Issuer != issuer || id.Tenant != "acme" || id.Method != "jwt" ||
			strings.Join(id.Roles, ",") != "reader" || strings.Join(id.Scopes, " ") != "orders:read orders:write" ||
			!id.ExpiresAt.Equal(testNow.Add(time.Hour)) || !strings.HasPrefix(id.CredentialID, "sha256:") {
			t.Errorf("identity %+v", id)
		}
	}
}

// TestAttacks is the JWT attack suite: each forged or unacceptable token is
// refused with its own reason.
func TestAttacks(t *testing.T) {
	k := testKeys(t)
	good := claims(nil)
	rsaPub, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaPub})
	valid := sign(t, jose.RS256, k.rsa, "rsa-1", good, nil)
	parts := strings.Split(valid, ".")
	zeroSig := base64.RawURLEncoding.EncodeToString(make([]byte, 64))

	tests := []struct {
		name, token, reason string
	}{
		{"alg none", raw(`{"alg":"none","kid":"rsa-1"}`, good, ""), "authn.alg_not_allowed"},
		{"alg NONE", raw(`{"alg":"NONE","kid":"rsa-1"}`, good, ""), "authn.alg_not_allowed"},
		{"alg nOnE", raw(`{"alg":"nOnE"}`, good, ""), "authn.alg_not_allowed"},
		{"no alg", raw(`{"kid":"rsa-1"}`, good, parts[2]), "authn.malformed"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "authn.bad_signature"},
		{"signature from another token", parts[0] + "." + base64.RawURLEncoding.EncodeToString(claims(func(c map[string]any) { c["sub"] = "alice" })) + "." + parts[2], "authn.bad_signature"},
		{"HS256 with the RSA public key as secret", sign(t, jose.HS256, rsaPubPEM, "rsa-1", good, nil), "authn.alg_not_allowed"},
		{"RS384 not allowed", sign(t, jose.RS384, k.rsa, "rsa-1", good, nil), "authn.alg_not_allowed"},
		{"wrong key, known kid", sign(t, jose.RS256, k.otherRSA, "rsa-1", good, nil), "authn.bad_signature"},
		{"RS256 token with the EC key's kid", sign(t, jose.RS256, k.rsa, "ec-1", good, nil), "authn.bad_signature"},
		{"kid path traversal", sign(t, jose.RS256, k.otherRSA, "../../../../../dev/null", good, nil), "authn.unknown_key"},
		{"kid SQL injection", sign(t, jose.RS256, k.otherRSA, "x' UNION SELECT 'secret' --", good, nil), "authn.unknown_key"},
		{"kid with newline", sign(t, jose.RS256, k.otherRSA, "rsa-1\n", good, nil), "authn.unknown_key"},
		{"no kid, several keys", sign(t, jose.RS256, k.rsa, "", good, nil), "authn.unknown_key"},
		{"jku header", sign(t, jose.RS256, k.otherRSA, "rsa-1", good, (&jose.SignerOptions{}).WithHeader("jku", "https://evil.example/jwks")), "authn.foreign_key_header"},
		{"x5u header", sign(t, jose.RS256, k.otherRSA, "rsa-1", good, (&jose.SignerOptions{}).WithHeader("x5u", "https://evil.example/cert")), "authn.foreign_key_header"},
		{"embedded jwk", sign(t, jose.RS256, k.otherRSA, "", good, &jose.SignerOptions{EmbedJWK: true}), "authn.foreign_key_header"},
		{"crit header", sign(t, jose.RS256, k.rsa, "rsa-1", good, (&jose.SignerOptions{}).WithHeader("crit", []string{"exp"})), "authn.malformed"},
		{"expired", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["exp"] = testNow.Add(-time.Hour).Unix() }), nil), "authn.token_expired"},
		{"not yet valid", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["nbf"] = testNow.Add(time.Hour).Unix() }), nil), "authn.not_yet_valid"},
		{"issued in the future", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["iat"] = testNow.Add(time.Hour).Unix() }), nil), "authn.issued_in_future"},
		{"wrong audience", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["aud"] = "billing-api" }), nil), "authn.wrong_audience"},
		{"no audience", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { delete(c, "aud") }), nil), "authn.wrong_audience"},
		{"no exp", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { delete(c, "exp") }), nil), "authn.missing_claim"},
		{"exp as string", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["exp"] = "never" }), nil), "authn.malformed"},
		{"no sub", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { delete(c, "sub") }), nil), "authn.missing_claim"},
		{"duplicate claims", sign(t, jose.RS256, k.rsa, "rsa-1", []byte(strings.Replace(string(good), `"sub":"bob"`, `"sub":"bob","sub":"alice"`, 1)), nil), "authn.malformed"},
		{"duplicate claims differing in case (exp)", sign(t, jose.RS256, k.rsa, "rsa-1", []byte(strings.Replace(string(claims(func(c map[string]any) { c["exp"] = testNow.Add(-time.Hour).Unix() })), `"exp":`, `"Exp":`+fmt.Sprint(testNow.Add(time.Hour).Unix())+`,"exp":`, 1)), nil), "authn.malformed"},
		{"duplicate claims differing in case (aud)", sign(t, jose.RS256, k.rsa, "rsa-1", []byte(strings.Replace(string(claims(func(c map[string]any) { c["aud"] = "billing-api" })), `"aud":`, `"Aud":"orders-api","aud":`, 1)), nil), "authn.malformed"},
		{"exp null", sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["exp"] = nil }), nil), "authn.missing_claim"},
		{"duplicate header", raw(`{"alg":"RS256","alg":"none","kid":"rsa-1"}`, good, parts[2]), "authn.malformed"},
		{"ECDSA r=s=0 (CVE-2022-21449)", raw(`{"alg":"ES256","kid":"ec-1"}`, good, zeroSig), "authn.bad_signature"},
		{"oversized", raw(`{"alg":"RS256","kid":"rsa-1"}`, claims(func(c map[string]any) { c["pad"] = strings.Repeat("a", 9000) }), parts[2]), "authn.token_too_large"},
		{"bad base64 header", "!!!." + parts[1] + "." + parts[2], "authn.malformed"},
		{"bad base64 payload", parts[0] + ".%%%." + parts[2], "authn.malformed"},
		{"payload not JSON", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("not json")) + "." + parts[2], "authn.malformed"},
		{"deeply nested claims", sign(t, jose.RS256, k.rsa, "rsa-1", []byte(`{"iss":"`+issuer+`","x":`+strings.Repeat("[", 40)+strings.Repeat("]", 40)+`}`), nil), "authn.malformed"},
	}
	a := newAuth(t, jwtConfig(t))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.Authenticate(context.Background(), exchange(tt.token))
			var nm *authn.NotMine
			if errors.As(err, &nm) { // unreadable: passed to the next authenticator, with this reason if none takes it
				if nm.Reason != tt.reason {
					t.Errorf("passed with %s, want %s", nm.Reason, tt.reason)
				}
				return
			}
			d, ok := pipeline.AsDenial(err)
			if !ok {
				t.Fatalf("err = %v, want a denial %s", err, tt.reason)
			}
			if d.Reason != tt.reason || d.Status != http.StatusUnauthorized {
				t.Errorf("reason %s (%d), want %s; cause %v", d.Reason, d.Status, tt.reason, d.Cause)
			}
		})
	}
}

func TestNotMine(t *testing.T) {
	k := testKeys(t)
	a := newAuth(t, jwtConfig(t))
	for name, h := range map[string]http.Header{
		"no header":    {},
		"basic":        {"Authorization": {"Basic YTpi"}},
		"opaque token": {"Authorization": {"Bearer rpk_abc123"}},
	} {
		x := exchange("")
		x.In.Header = h
		if _, err := a.Authenticate(context.Background(), x); !errors.Is(err, authn.ErrNoCredentials) {
			t.Errorf("%s: %v", name, err)
		}
	}
	other := sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil)
	if _, err := a.Authenticate(context.Background(), exchange(other)); !errors.Is(err, authn.ErrOtherIssuer) {
		t.Errorf("other issuer: %v", err)
	}
}

func TestLeeway(t *testing.T) {
	k := testKeys(t)
	a := newAuth(t, jwtConfig(t)) // leeway 30s
	tok := sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["exp"] = testNow.Add(-20 * time.Second).Unix() }), nil)
	if _, err := a.Authenticate(context.Background(), exchange(tok)); err != nil {
		t.Errorf("expired 20s ago, within leeway: %v", err)
	}
}

func TestCacheNeverPastExpiry(t *testing.T) {
	k := testKeys(t)
	now := testNow
	a, err := New(jwtConfig(t), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(c map[string]any) { c["exp"] = testNow.Add(time.Minute).Unix() }), nil)
	if _, err := a.Authenticate(context.Background(), exchange(tok)); err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(2 * time.Minute) // past exp and leeway
	_, err = a.Authenticate(context.Background(), exchange(tok))
	if d, ok := pipeline.AsDenial(err); !ok || d.Reason != "authn.token_expired" {
		t.Errorf("cached token outlived its exp: %v", err)
	}
}

// TestJWKSRotation: the IdP rotates its key; a token with the new kid is
// accepted after one refetch, and a flood of unknown kids causes at most one
// fetch per min_refresh_interval.
func TestJWKSRotation(t *testing.T) {
	k := testKeys(t)
	var (
		mu      sync.Mutex
		current = []jose.JSONWebKey{{Key: &k.rsa.PublicKey, KeyID: "2026-11", Algorithm: "RS256", Use: "sig"}}
		served  atomic.Int64
	)
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		mu.Lock()
		defer mu.Unlock()
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: current})
	}))
	defer idp.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := jwtConfig(t)
	c.KeysFile, c.JWKSURL, c.CAFile = "", idp.URL+"/jwks", caFile
	c.CacheSize = -1 // every request verifies
	var nowMu sync.Mutex
	now := testNow
	clock := func() time.Time { nowMu.Lock(); defer nowMu.Unlock(); return now }
	advance := func(d time.Duration) { nowMu.Lock(); now = now.Add(d); nowMu.Unlock() }
	a, err := New(c, Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	authOK := func(tok string) error {
		_, err := a.Authenticate(context.Background(), exchange(tok))
		return err
	}
	if err := authOK(sign(t, jose.RS256, k.rsa, "2026-11", claims(nil), nil)); err != nil {
		t.Fatalf("first key: %v", err)
	}
	if served.Load() != 1 {
		t.Fatalf("fetches = %d, want 1", served.Load())
	}

	// The IdP rotates to a new key.
	mu.Lock()
	current = []jose.JSONWebKey{{Key: &k.otherRSA.PublicKey, KeyID: "2026-12", Algorithm: "RS256", Use: "sig"}}
	mu.Unlock()
	advance(2 * time.Minute) // past min_refresh_interval (1m)
	if err := authOK(sign(t, jose.RS256, k.otherRSA, "2026-12", claims(nil), nil)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if served.Load() != 2 {
		t.Fatalf("fetches = %d, want 2 after the rotation", served.Load())
	}

	// A flood of unknown kids within the interval: no fetch at all.
	flood := func() {
		var wg sync.WaitGroup
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = authOK(sign(t, jose.RS256, k.otherRSA, fmt.Sprintf("random-%d", i), claims(nil), nil))
			}()
		}
		wg.Wait()
	}
	flood()
	if served.Load() != 2 {
		t.Errorf("fetches = %d after a flood within the interval, want 2", served.Load())
	}
	// Past the interval: the next flood costs exactly one fetch.
	advance(2 * time.Minute)
	flood()
	if served.Load() != 3 {
		t.Errorf("fetches = %d after a flood past the interval, want 3", served.Load())
	}
	// The new key still works, the old one no longer does.
	if err := authOK(sign(t, jose.RS256, k.otherRSA, "2026-12", claims(nil), nil)); err != nil {
		t.Errorf("rotated key after flood: %v", err)
	}
	if err := authOK(sign(t, jose.RS256, k.rsa, "2026-11", claims(nil), nil)); err == nil {
		t.Error("retired key still accepted")
	}
}

func FuzzAuthenticate(f *testing.F) {
	k := testKeys(f)
	valid := sign(f, jose.RS256, k.rsa, "rsa-1", claims(nil), nil)
	for _, s := range []string{valid, "a.b.c", "..", raw(`{"alg":"none"}`, claims(nil), ""), strings.Repeat(".", 3)} {
		f.Add(s)
	}
	a := newAuth(f, jwtConfig(f))
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := a.Authenticate(context.Background(), exchange(tok))
		if err == nil && (id == nil || id.Subject == "") {
			t.Fatalf("accepted %q without an identity", tok)
		}
		if err == nil && tok != valid {
			// Only a token signed by our key can pass: with the same
			// header and claims, it is the valid one (or differs in
			// base64 padding bits, which go-jose rejects).
			if strings.Split(tok, ".")[1] != strings.Split(valid, ".")[1] {
				t.Fatalf("accepted a token with other claims: %q", tok)
			}
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	k := testKeys(b)
	for _, tc := range []struct {
		name  string
		alg   jose.SignatureAlgorithm
		key   any
		kid   string
		cache int
	}{
		{"RS256/nocache", jose.RS256, k.rsa, "rsa-1", -1},
		{"RS256/cache", jose.RS256, k.rsa, "rsa-1", 10000},
		{"ES256/nocache", jose.ES256, k.ec, "ec-1", -1},
		{"ES256/cache", jose.ES256, k.ec, "ec-1", 10000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := jwtConfig(b)
			c.CacheSize = tc.cache
			a := newAuth(b, c)
			x := exchange(sign(b, tc.alg, tc.key, tc.kid, claims(nil), nil))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStaleKeysServedWhileRefreshing: past refresh_interval the known key
// keeps working at once, and one background fetch refreshes the set.
func TestStaleKeysServedWhileRefreshing(t *testing.T) {
	k := testKeys(t)
	var served atomic.Int64
	release := make(chan struct{})
	refreshing := make(chan struct{}, 1)
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if served.Add(1) > 1 {
			select {
			case refreshing <- struct{}{}:
			default:
			}
			<-release // the refresh hangs until the test lets it go
		}
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"}}})
	}))
	defer idp.Close()
	defer close(release)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := jwtConfig(t)
	c.KeysFile, c.JWKSURL, c.CAFile, c.CacheSize = "", idp.URL, caFile, -1
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a, err := New(c, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(m map[string]any) { m["exp"] = testNow.Add(10 * time.Hour).Unix() }), nil)
	if _, err := a.Authenticate(context.Background(), exchange(tok)); err != nil {
		t.Fatal(err)
	}
	now.Store(testNow.Add(2 * time.Hour).UnixNano()) // the set is stale now
	for range 50 {
		if _, err := a.Authenticate(context.Background(), exchange(tok)); err != nil {
			t.Fatalf("stale key refused while refreshing: %v", err)
		}
	}
	select {
	case <-refreshing:
	case <-time.After(10 * time.Second):
		t.Fatal("no background refresh of the stale set")
	}
	if got := served.Load(); got != 2 {
		t.Errorf("fetches = %d, want exactly one background refresh", got)
	}
	// Close (a reload dropping this authenticator) cancels the hanging
	// refresh and waits for it.
	closed := make(chan struct{})
	go func() { _ = a.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second): // the fetch's own bound is 10s
		t.Fatal("Close waits on a hanging JWKS refresh")
	}
}

func TestHMAC(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	secret := []byte(strings.Repeat("0123456789abcdef", 4))
	if err := os.WriteFile(secretFile, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	c := config.Config{Authn: config.Authn{JWT: []config.JWT{{Name: "hs", Issuer: issuer, Audiences: []string{"orders-api"}, HMACSecretFile: secretFile}}}}
	config.SetDefaults(&c)
	a := newAuth(t, c.Authn.JWT[0])
	if _, err := a.Authenticate(context.Background(), exchange(sign(t, jose.HS256, secret, "", claims(nil), nil))); err != nil {
		t.Fatalf("HS256 with the configured secret: %v", err)
	}
	for name, tc := range map[string]struct{ tok, reason string }{
		"wrong secret":      {sign(t, jose.HS256, []byte(strings.Repeat("another-secret!!", 4)), "", claims(nil), nil), "authn.bad_signature"},
		"HS512 not allowed": {sign(t, jose.HS512, secret, "", claims(nil), nil), "authn.alg_not_allowed"},
		"RS256 refused":     {sign(t, jose.RS256, testKeys(t).rsa, "", claims(nil), nil), "authn.alg_not_allowed"},
	} {
		_, err := a.Authenticate(context.Background(), exchange(tc.tok))
		if d, ok := pipeline.AsDenial(err); !ok || d.Reason != tc.reason {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := os.WriteFile(secretFile, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(c.Authn.JWT[0], Options{}); err == nil {
		t.Error("short HMAC secret accepted")
	}
}

func TestOIDCDiscovery(t *testing.T) {
	k := testKeys(t)
	var docIssuer atomic.Value
	var idp *httptest.Server
	idp = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": docIssuer.Load().(string), "jwks_uri": idp.URL + "/keys"})
		case "/keys":
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.rsa.PublicKey, KeyID: "rsa-1", Algorithm: "RS256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer idp.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, docIssuer string
		ok              bool
	}{
		{"issuer matches", idp.URL, true},
		{"issuer mix-up", "https://evil.example", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			docIssuer.Store(tc.docIssuer)
			c := jwtConfig(t)
			c.Issuer, c.KeysFile, c.Discovery, c.CAFile = idp.URL, "", true, caFile
			a := newAuth(t, c)
			tok := sign(t, jose.RS256, k.rsa, "rsa-1", claims(func(m map[string]any) { m["iss"] = idp.URL }), nil)
			_, err := a.Authenticate(context.Background(), exchange(tok))
			if tc.ok && err != nil {
				t.Fatalf("discovered keys: %v", err)
			}
			if d, ok := pipeline.AsDenial(err); !tc.ok && (!ok || d.Reason != "authn.unknown_key") {
				t.Fatalf("mix-up: %v", err)
			}
		})
	}
}

// TestNoFetchFloodWhileIdPDown is the regression test for refetches before
// the first successful fetch: they too are limited to one per interval.
func TestNoFetchFloodWhileIdPDown(t *testing.T) {
	k := testKeys(t)
	var served atomic.Int64
	idp := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer idp.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idp.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	c := jwtConfig(t)
	c.KeysFile, c.JWKSURL, c.CAFile = "", idp.URL, caFile
	a := newAuth(t, c)
	tok := sign(t, jose.RS256, k.rsa, "rsa-1", claims(nil), nil)
	for range 20 {
		_, err := a.Authenticate(context.Background(), exchange(tok))
		if d, ok := pipeline.AsDenial(err); !ok || d.Reason != "authn.unknown_key" {
			t.Fatalf("IdP down: %v", err)
		}
	}
	if got := served.Load(); got != 1 {
		t.Errorf("%d JWKS fetches within one min_refresh_interval while the IdP is down, want 1", got)
	}
}
