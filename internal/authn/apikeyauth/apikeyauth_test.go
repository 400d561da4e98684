package apikeyauth

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/faultnet"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

func setup(t *testing.T) (*Authenticator, *store.Store, *apikey.Hasher, *atomic.Int64) {
	t.Helper()
	return setupOn(t, nil, time.Hour)
}

// setupOn is setup with the last-used writer on bg, every flush.
func setupOn(t *testing.T, bg *background.Runner, flush time.Duration) (*Authenticator, *store.Store, *apikey.Hasher, *atomic.Int64) {
	t.Helper()
	dir := t.TempDir()
	s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	var now atomic.Int64
	now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	cfg := config.APIKeyAuth{Name: "keys", Header: "X-API-Key", PepperFile: filepath.Join(dir, "pepper")}
	a, err := New(cfg, s, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }, FlushInterval: flush, Background: bg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	h, err := apikey.LoadOrCreatePepper(cfg.PepperFile)
	if err != nil {
		t.Fatal(err)
	}
	return a, s, h, &now
}

func request(h http.Header, ip string) *pipeline.Exchange {
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.Header = h
	x.ClientIP = netip.MustParseAddr(ip)
	return x
}

func reason(err error) string {
	if d, ok := pipeline.AsDenial(err); ok {
		return d.Reason
	}
	if errors.Is(err, authn.ErrNoCredentials) {
		return "no-credentials"
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func TestAPIKeys(t *testing.T) {
	a, s, h, now := setup(t)
	ctx := context.Background()
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Name: "ci", Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"products:read"},
		CIDRs: []string{"10.0.0.0/8"}, TTL: 24 * time.Hour}, clock())
	if err != nil {
		t.Fatal(err)
	}
	auth := func(hdr http.Header, ip string) (*pipeline.Identity, error) {
		return a.Authenticate(ctx, request(hdr, ip))
	}

	id, err := auth(http.Header{"X-Api-Key": {key}}, "10.1.1.1")
	if err != nil || id.Subject != "bob" || id.Roles[0] != "reader" || id.Scopes[0] != "products:read" || id.Method != "apikey" || id.CredentialID != "apikey:"+rec.ID {
		t.Fatalf("header key: %+v %v", id, err)
	}
	if _, err := auth(http.Header{"Authorization": {"Bearer " + key}}, "10.1.1.1"); err != nil {
		t.Errorf("bearer key: %v", err)
	}
	forged, _, _, _ := apikey.Generate()
	for name, tc := range map[string]struct {
		h      http.Header
		ip     string
		reason string
	}{
		"no key":           {http.Header{}, "10.1.1.1", "no-credentials"},
		"a JWT":            {http.Header{"Authorization": {"Bearer a.b.c"}}, "10.1.1.1", "no-credentials"},
		"malformed":        {http.Header{"X-Api-Key": {"rpk_nope"}}, "10.1.1.1", "authn.malformed"},
		"bad checksum":     {http.Header{"X-Api-Key": {key[:len(key)-1] + "0"}}, "10.1.1.1", "authn.malformed"},
		"unknown id":       {http.Header{"X-Api-Key": {forged}}, "10.1.1.1", "authn.bad_credentials"},
		"outside its CIDR": {http.Header{"X-Api-Key": {key}}, "192.168.1.1", "authn.key_address_not_allowed"},
		"two keys":         {http.Header{"X-Api-Key": {key, key}}, "10.1.1.1", "authn.malformed"},
	} {
		if _, err := auth(tc.h, tc.ip); reason(err) != tc.reason {
			t.Errorf("%s: %q, want %s", name, reason(err), tc.reason)
		}
	}

	// Rotation with a grace window: both work, then only the new one.
	newKey, err := apikey.Rotate(ctx, s, h, rec.ID, time.Hour, clock())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{key, newKey} {
		if _, err := auth(http.Header{"X-Api-Key": {k}}, "10.1.1.1"); err != nil {
			t.Errorf("in grace: %v", err)
		}
	}
	now.Add(int64(2 * time.Hour))
	if _, err := auth(http.Header{"X-Api-Key": {key}}, "10.1.1.1"); reason(err) != "authn.bad_credentials" {
		t.Errorf("old key after grace: %s", reason(err))
	}

	// Revocation takes effect on the very next request.
	if err := s.RevokeAPIKey(ctx, rec.ID, clock()); err != nil {
		t.Fatal(err)
	}
	if _, err := auth(http.Header{"X-Api-Key": {newKey}}, "10.1.1.1"); reason(err) != "authn.key_revoked" {
		t.Errorf("revoked: %s", reason(err))
	}

	// Expiry too.
	key2, _, _ := apikey.Create(ctx, s, h, apikey.Spec{Subject: "carol", TTL: time.Minute}, clock())
	now.Add(int64(2 * time.Minute))
	if _, err := auth(http.Header{"X-Api-Key": {key2}}, "10.1.1.1"); reason(err) != "authn.key_expired" {
		t.Errorf("expired: %s", reason(err))
	}
}

func TestLastUsedRecorded(t *testing.T) {
	a, s, h, now := setup(t)
	ctx := context.Background()
	key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "bob"}, time.Unix(0, now.Load()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, request(http.Header{"X-Api-Key": {key}}, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.APIKey(ctx, rec.ID); !got.LastUsedAt.IsZero() {
		t.Error("last use written on the request path")
	}
	_ = a.Close() // flushes
	if got, _ := s.APIKey(ctx, rec.ID); !got.LastUsedAt.Equal(time.Unix(0, now.Load()).Truncate(time.Second)) {
		t.Errorf("last used %v", got.LastUsedAt)
	}
}

// BenchmarkAuthenticate checks one key on SQLite, reading the store on
// every request (revocation_delay 0s) and with the record cache (1s).
func BenchmarkAuthenticate(b *testing.B) {
	for _, delay := range []time.Duration{0, time.Second} {
		b.Run("revocation_delay="+delay.String(), func(b *testing.B) {
			dir := b.TempDir()
			s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "r.db")})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			d := config.Duration(delay)
			cfg := config.APIKeyAuth{Name: "keys", Header: "X-API-Key", PepperFile: filepath.Join(dir, "pepper"), RevocationDelay: &d}
			a, err := New(cfg, s, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			h, _ := apikey.LoadOrCreatePepper(cfg.PepperFile)
			key, _, _ := apikey.Create(context.Background(), s, h, apikey.Spec{Subject: "bob"}, time.Now())
			x := request(http.Header{"X-Api-Key": {key}}, "10.0.0.1")
			if a.cache != nil {
				// Wait for the first poll, as a running gateway has had.
				for _, ok := a.cache.current(); !ok; _, ok = a.cache.current() {
					time.Sleep(10 * time.Millisecond)
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestStoreDown: a store that cannot answer refuses the request with 503
// authn.store_unavailable, never admits it, and leaves the logging to the
// store (no cause on the denial, so no line per request).
func TestStoreDown(t *testing.T) {
	a, s, h, now := setup(t)
	key, _, err := apikey.Create(context.Background(), s, h, apikey.Spec{Subject: "bob"}, time.Unix(0, now.Load()))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	_, err = a.Authenticate(context.Background(), request(http.Header{"X-Api-Key": {key}}, "10.0.0.1"))
	d, ok := pipeline.AsDenial(err)
	if !ok || d.Status != http.StatusServiceUnavailable || d.Reason != "authn.store_unavailable" || d.Header.Get("Retry-After") == "" {
		t.Fatalf("store closed: %v", err)
	}
	if d.Cause != nil {
		t.Errorf("the denial carries the cause (%v): the engine would log it once per request", d.Cause)
	}
}

// TestStoreBlackholed runs the authenticator on a real PostgreSQL behind a
// fault proxy: while the server is silent, a request is refused with 503
// within store.timeout, and the last-used times collected meanwhile are
// written once it answers again.
func TestStoreBlackholed(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := faultnet.New(t, u.Host)
	u.Host = p.Addr()
	const timeout = 300 * time.Millisecond
	s, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: u.String(), Timeout: config.Duration(timeout)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dir := t.TempDir()
	cfg := config.APIKeyAuth{Name: "keys", Header: "X-API-Key", PepperFile: filepath.Join(dir, "pepper")}
	a, err := New(cfg, s, Options{FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	h, err := apikey.LoadOrCreatePepper(cfg.PepperFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "bob"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	x := func() *pipeline.Exchange { return request(http.Header{"X-Api-Key": {key}}, "10.0.0.1") }
	if _, err := a.Authenticate(ctx, x()); err != nil {
		t.Fatal(err)
	}

	if err := p.Set(faultnet.Blackhole); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = a.Authenticate(ctx, x())
	took := time.Since(start)
	if d, ok := pipeline.AsDenial(err); !ok || d.Status != http.StatusServiceUnavailable || d.Reason != "authn.store_unavailable" || d.Cause != nil {
		t.Fatalf("blackholed: %v", err)
	}
	if took > timeout+time.Second {
		t.Errorf("refused after %v, want within the timeout %v (+1s)", took, timeout)
	}
	a.flush() // fails: the use made before the outage is kept
	if err := p.Set(faultnet.Pass); err != nil {
		t.Fatal(err)
	}
	a.flush()
	got, err := s.APIKey(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt.IsZero() {
		t.Error("the last use recorded during the outage was lost")
	}
}

func TestLastUsedWrittenEveryInterval(t *testing.T) {
	bg, clock := backgroundtest.Runner(t)
	a, s, h, clk := setupOn(t, bg, time.Minute)
	now := time.Unix(0, clk.Load())
	ctx := context.Background()
	key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "bob"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, request(http.Header{"X-Api-Key": {key}}, "10.0.0.1")); err != nil {
		t.Fatal(err)
	}
	backgroundtest.Tick(t, clock, 59*time.Second, 1)
	if got, _ := s.APIKey(ctx, rec.ID); !got.LastUsedAt.IsZero() {
		t.Fatal("last use written before the interval")
	}
	backgroundtest.Tick(t, clock, time.Second, 1)
	if got, _ := s.APIKey(ctx, rec.ID); !got.LastUsedAt.Equal(now.Truncate(time.Second)) {
		t.Errorf("after the interval: last used %v", got.LastUsedAt)
	}
}
