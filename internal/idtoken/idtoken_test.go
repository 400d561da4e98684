package idtoken

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
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

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func manager(t *testing.T, now func() time.Time) *signing.Manager {
	t.Helper()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := signing.New(context.Background(), st, signing.Options{Purpose: "identity", RotateEvery: time.Hour,
		TokenTTL: time.Minute, KEK: zeroKEK(t), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// verify checks a token the way an upstream would: against the JWKS, with
// ES256 only, and the expected issuer and audience.
func verify(t *testing.T, jwks []byte, tok, aud string, now time.Time) Claims {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q is not in the JWKS", parsed.Headers[0].KeyID)
	}
	var c Claims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		t.Fatalf("signature: %v", err)
	}
	if err := c.ValidateWithLeeway(jwt.Expected{Issuer: "https://gw.example", AnyAudience: jwt.Audience{aud}, Time: now}, 0); err != nil {
		t.Fatalf("claims: %v", err)
	}
	return c
}

func TestIdentityToken(t *testing.T) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	m := manager(t, c.Now)
	cfg := config.IdentityToken{Enabled: true, Issuer: "https://gw.example", Header: "X-Rampart-Identity", TTL: config.Duration(time.Minute)}
	s, err := New(cfg, Deps{Routes: []config.Route{{Upstream: "orders"}, {Upstream: "billing"}}, Keys: m, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	run := func(route int, id *pipeline.Identity) string {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Route, x.Identity = &pipeline.Route{Index: route}, id
		if err := s.Request(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		for _, e := range x.UpstreamEdits {
			if e.Name == "X-Rampart-Identity" {
				return e.Value
			}
		}
		return ""
	}
	bob := &pipeline.Identity{Subject: "bob", Issuer: "https://idp.example", Roles: []string{"reader"},
		Scopes: []string{"orders:read", "profile"}, Tenant: "acme", Session: "s1", Method: "jwt"}
	tok := run(0, bob)
	got := verify(t, m.JWKS(), tok, "orders", c.t)
	if got.Subject != "bob" || got.Scope != "orders:read profile" || got.Tenant != "acme" || got.SID != "s1" ||
		got.IDP != "https://idp.example" || len(got.AMR) != 1 || got.AMR[0] != "jwt" || got.Roles[0] != "reader" ||
		got.Expiry.Time().Sub(got.IssuedAt.Time()) != time.Minute || got.ID == "" {
		t.Fatalf("claims %+v", got)
	}
	if run(0, bob) != tok {
		t.Error("the same identity got a new signature within half the TTL")
	}
	if other := run(1, bob); other == tok {
		t.Error("another upstream got the same token (audience)")
	} else {
		verify(t, m.JWKS(), other, "billing", c.t)
	}
	if run(0, &pipeline.Identity{Subject: "carol"}) == tok {
		t.Error("another identity got bob's token")
	}
	c.t = c.t.Add(31 * time.Second) // past half the TTL: a fresh token
	if fresh := run(0, bob); fresh == tok {
		t.Error("no fresh token after half the TTL")
	}
	// Never past the credential's own expiry.
	short := &pipeline.Identity{Subject: "dave", ExpiresAt: c.t.Add(10 * time.Second)}
	if got := verify(t, m.JWKS(), run(0, short), "orders", c.t); !got.Expiry.Time().Equal(c.t.Add(10 * time.Second)) {
		t.Errorf("exp %v, want the credential's", got.Expiry.Time())
	}
	// No identity (a public route): no token.
	if tok := run(0, nil); tok != "" {
		t.Errorf("anonymous request got %q", tok)
	}
}

func TestOffByDefault(t *testing.T) {
	if s, err := New(config.IdentityToken{}, Deps{}); s != nil || err != nil {
		t.Fatalf("New without identity_token.enabled = %v, %v; want no stage", s, err)
	}
	if _, err := New(config.IdentityToken{Enabled: true}, Deps{}); err == nil {
		t.Fatal("New with identity_token.enabled and no keys: no error")
	}
}

func BenchmarkToken(b *testing.B) {
	m := manager(&testing.T{}, nil)
	s, err := New(config.IdentityToken{Enabled: true, Issuer: "rampart", Header: "X-Rampart-Identity", TTL: config.Duration(time.Minute)}, Deps{Routes: []config.Route{{Upstream: "api"}}, Keys: m})
	if err != nil {
		b.Fatal(err)
	}
	id := &pipeline.Identity{Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"a", "b"}, Method: "jwt"}
	x := &pipeline.Exchange{}
	rt := &pipeline.Route{}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			x.Reset()
			x.Route, x.Identity = rt, id
			_ = s.Request(context.Background(), x)
		}
	})
	b.Run("signed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = s.token(&pipeline.Identity{Subject: "bob"}, "fresh-"+time.Now().String())
		}
	})
}

// TestCacheKeyDistinct: identities that differ only in how their claims
// split, or in their credential's expiry, never share a cached token.
func TestCacheKeyDistinct(t *testing.T) {
	exp := time.Unix(1_800_000_000, 0)
	pairs := [][2]*pipeline.Identity{
		{{Subject: "a", Roles: []string{"reader\x01admin"}}, {Subject: "a", Roles: []string{"reader", "admin"}}},
		{{Subject: "a", Roles: []string{"x"}}, {Subject: "a", Groups: []string{"x"}}},
		{{Subject: "a\x00b"}, {Subject: "a", Issuer: "b"}},
		{{Subject: "a", ExpiresAt: exp}, {Subject: "a", ExpiresAt: exp.Add(time.Second)}},
	}
	for i, p := range pairs {
		if cacheKey(p[0], "api") == cacheKey(p[1], "api") {
			t.Errorf("pair %d shares a cache key", i)
		}
	}
}
