package tokens

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
)

// zeroKEK is a keyring KEK of one version, 32 zero bytes: the test key
// that seals the signing keys.
func zeroKEK(t testing.TB) signing.KEK {
	t.Helper()
	k, err := keyring.ParseKEK([]byte("1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="), "test KEK")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

func TestRevocations(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	a, err := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bg, tick := backgroundtest.Runner(t)
	b, err := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour, Now: c.Now, Background: bg})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := a.Revoke(ctx, "t1", c.t.Add(5*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if !a.Has("t1") || b.Has("t1") {
		t.Fatalf("at once here, not yet there: %v %v", a.Has("t1"), b.Has("t1"))
	}
	backgroundtest.Tick(t, tick, 59*time.Minute, 1)
	if b.Has("t1") {
		t.Fatal("the other gateway reread before its interval")
	}
	backgroundtest.Tick(t, tick, time.Minute, 1)
	if !b.Has("t1") {
		t.Fatal("the other gateway after its reread interval: not revoked")
	}
	// A reread keeps this gateway's own recent revocation even if the
	// store lost it (a read racing the write).
	if err := a.reload(ctx); err != nil || !a.Has("t1") {
		t.Fatal("lost on reread", err)
	}
	// Once the token has expired, the revocation is forgotten everywhere.
	c.t = c.t.Add(6 * time.Minute)
	if err := a.reload(ctx); err != nil || a.Has("t1") {
		t.Fatalf("an expired revocation is kept: %v %v", a.Has("t1"), err)
	}
	if len(a.recent) != 0 {
		t.Fatalf("recent holds %d ids", len(a.recent))
	}
}

// TestAuthenticator: the server's own tokens name their client (so per-key
// limits hold across tokens), stop at exp with no leeway, and stop when
// revoked or when their API key is revoked.
func TestAuthenticator(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Now().Truncate(time.Second)}
	h, err := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	if err != nil {
		t.Fatal(err)
	}
	_, rec, err := apikey.Create(ctx, st, h, apikey.Spec{Name: "svc", Subject: "svc", Scopes: []string{"a"}, CIDRs: []string{"10.0.0.0/8"}}, c.t)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.New(ctx, st, signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: zeroKEK(t), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	rev, err := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer rev.Close()
	cfg := config.TokenServer{Enabled: true, Issuer: "https://gw.test", Audience: "https://gw.test", TTL: config.Duration(time.Minute), Authenticator: "rampart"}
	srv := New(cfg, st, h, keys, rev, Options{Now: c.Now})
	a := srv.Authenticator()
	call := func(tok, ip string) (*pipeline.Identity, error) {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
		x.ClientIP = netip.MustParseAddr(ip)
		return a.Authenticate(ctx, x)
	}
	reason := func(err error) string {
		if d, ok := pipeline.AsDenial(err); ok {
			return d.Reason
		}
		return fmt.Sprint(err)
	}
	t1, _, err := srv.issue(rec, []string{"a"})
	if err != nil {
		t.Fatal(err)
	}
	t2, _, _ := srv.issue(rec, []string{"a"})
	id1, err := call(t1, "10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	id2, _ := call(t2, "10.1.2.3")
	if id1.CredentialID != "apikey:"+rec.ID || id2.CredentialID != id1.CredentialID || id1.Subject != "svc" || id1.Scopes[0] != "a" {
		t.Fatalf("identities %+v %+v", id1, id2)
	}
	if _, err := call(t1, "192.0.2.1"); reason(err) != "authn.client_revoked" {
		t.Fatalf("outside the key's networks: %v", err)
	}
	// Revoking one token stops it, not its sibling.
	if err := rev.Revoke(ctx, jtiOf(t, t1), c.t.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := call(t1, "10.1.2.3"); reason(err) != "authn.token_revoked" {
		t.Fatalf("revoked token: %v", err)
	}
	if _, err := call(t2, "10.1.2.3"); err != nil {
		t.Fatalf("its sibling: %v", err)
	}
	// Revoking the API key stops every token within clientRecheck.
	if err := st.RevokeAPIKey(ctx, rec.ID, c.t); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(clientRecheck + time.Second)
	if _, err := call(t2, "10.1.2.3"); reason(err) != "authn.client_revoked" {
		t.Fatalf("after the key's revocation: %v", err)
	}
	// No leeway past exp.
	c.t = c.t.Add(time.Minute)
	if _, err := call(t2, "10.1.2.3"); reason(err) != "authn.token_expired" {
		t.Fatalf("expired: %v", err)
	}
	// Not ours: passes to the next authenticator.
	if _, err := call("eyJhbGciOiJFUzI1NiIsImtpZCI6Im5vcGUifQ.e30.AAAA", "10.1.2.3"); !errors.Is(err, authn.ErrNoCredentials) {
		t.Fatalf("another issuer's token: %v", err)
	}
}

func jtiOf(t *testing.T, tok string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
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

// TestUnknownKidRereadsKeys: a token signed with a key another gateway
// just made is accepted at once, not after this gateway's next refresh.
func TestUnknownKidRereadsKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := &clock{t: time.Now().Truncate(time.Second)}
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	_, rec, err := apikey.Create(ctx, st, h, apikey.Spec{Name: "svc", Subject: "svc"}, c.t)
	if err != nil {
		t.Fatal(err)
	}
	opt := signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: zeroKEK(t), Now: c.Now}
	k1, err := signing.New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer k1.Close()
	k2, err := signing.New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer k2.Close()
	rev, _ := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour, Now: c.Now})
	defer rev.Close()
	cfg := config.TokenServer{Enabled: true, Issuer: "https://gw.test", Audience: "https://gw.test", TTL: config.Duration(time.Minute), Authenticator: "rampart"}
	one := New(cfg, st, h, k1, rev, Options{Now: c.Now})
	two := New(cfg, st, h, k2, rev, Options{Now: c.Now})
	// The second gateway rotates to a key the first has not read yet.
	c.t = c.t.Add(59 * time.Minute)
	k2.RefreshIfStale(ctx)
	c.t = c.t.Add(3 * time.Minute)
	k2.RefreshIfStale(ctx)
	if k2.Current().KID == k1.Current().KID {
		t.Fatal("the second gateway did not rotate")
	}
	tok, _, err := two.issue(rec, nil)
	if err != nil {
		t.Fatal(err)
	}
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
	if _, err := one.Authenticator().Authenticate(ctx, x); err != nil {
		t.Fatalf("the first gateway refused the new key's token: %v", err)
	}
}

// FuzzAuthenticate feeds arbitrary bearer tokens to the authenticator: it
// must never panic and never accept anything it did not sign.
func FuzzAuthenticate(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	keys, err := signing.New(ctx, st, signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: zeroKEK(f)})
	if err != nil {
		f.Fatal(err)
	}
	defer keys.Close()
	rev, _ := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour})
	defer rev.Close()
	srv := New(config.TokenServer{Enabled: true, Issuer: "https://gw.test", Audience: "https://gw.test", TTL: config.Duration(time.Minute), Authenticator: "rampart"},
		st, h, keys, rev, Options{})
	a := srv.Authenticator()
	for _, s := range []string{"a.b.c", "eyJhbGciOiJub25lIn0.e30.", "eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.eyJpc3MiOiJodHRwczovL2d3LnRlc3QifQ.AAAA", "...", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
		if id, err := a.Authenticate(ctx, x); err == nil {
			t.Fatalf("accepted %q as %+v", tok, id)
		}
	})
}

// TestStoreDownClients: while the store cannot answer, a client checked
// before keeps its last answer, and a client never seen is refused with
// 503 (not as revoked, and never admitted).
func TestStoreDownClients(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Now().Truncate(time.Second)}
	h, _ := apikey.LoadOrCreatePepper(filepath.Join(dir, "pepper"))
	_, known, err := apikey.Create(ctx, st, h, apikey.Spec{Name: "known", Subject: "svc"}, c.t)
	if err != nil {
		t.Fatal(err)
	}
	_, unseen, err := apikey.Create(ctx, st, h, apikey.Spec{Name: "unseen", Subject: "svc2"}, c.t)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := signing.New(ctx, st, signing.Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: zeroKEK(t), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	rev, err := NewRevocations(ctx, st, RevocationOptions{Every: time.Hour, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer rev.Close()
	cfg := config.TokenServer{Enabled: true, Issuer: "https://gw.test", Audience: "https://gw.test", TTL: config.Duration(time.Minute), Authenticator: "rampart"}
	srv := New(cfg, st, h, keys, rev, Options{Now: c.Now})
	a := srv.Authenticator()
	call := func(tok string) error {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
		_, err := a.Authenticate(ctx, x)
		return err
	}
	t1, _, _ := srv.issue(known, nil)
	t2, _, _ := srv.issue(unseen, nil)
	if err := call(t1); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	c.t = c.t.Add(clientRecheck + time.Second) // due for a recheck the store cannot answer
	for i := range 2 {
		if err := call(t1); err != nil {
			t.Errorf("known client, call %d during the outage: %v", i, err)
		}
	}
	d, ok := pipeline.AsDenial(call(t2))
	if !ok || d.Status != http.StatusServiceUnavailable || d.Reason != "authn.store_unavailable" {
		t.Errorf("client never seen during the outage: %+v", d)
	}
}
