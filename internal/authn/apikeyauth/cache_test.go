package apikeyauth

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

// cached starts an authenticator with revocation_delay 2s on a fake
// clock, over a fresh store of the backend open gives. Two loops wait on
// the clock: the last-used writer and the change counter poll.
func cached(t *testing.T, open func(*testing.T) *store.Store) (*Authenticator, *store.Store, *apikey.Hasher, func(time.Duration)) {
	t.Helper()
	bg, clock := backgroundtest.Runner(t)
	s := open(t)
	delay := config.Duration(2 * time.Second)
	cfg := config.APIKeyAuth{Name: "keys", Header: "X-API-Key", PepperFile: filepath.Join(t.TempDir(), "pepper"), RevocationDelay: &delay}
	a, err := New(cfg, s, Options{Now: clock.Now, FlushInterval: time.Hour, Background: bg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	h, err := apikey.LoadOrCreatePepper(cfg.PepperFile)
	if err != nil {
		t.Fatal(err)
	}
	return a, s, h, func(d time.Duration) { backgroundtest.Tick(t, clock, d, 2) }
}

// TestRevocationWithinDelay: a cached key revoked through the store is
// refused once the change counter has been read again, within the
// delay, and not before (which shows the cache is what answered).
func TestRevocationWithinDelay(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			a, s, h, tick := cached(t, open)
			ctx := context.Background()
			key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "bob"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			auth := func() string {
				_, err := a.Authenticate(ctx, request(http.Header{"X-Api-Key": {key}}, "10.0.0.1"))
				return reason(err)
			}
			tick(time.Second) // the first poll: the counter is known
			if got := auth(); got != "" {
				t.Fatalf("before revocation: %s", got)
			}
			if err := s.RevokeAPIKey(ctx, rec.ID, time.Now()); err != nil {
				t.Fatal(err)
			}
			if got := auth(); got != "" {
				t.Fatalf("revoked, before the next poll: %s, want the cached record admitted", got)
			}
			tick(time.Second) // the next poll sees the counter move
			if got := auth(); got != authn.ReasonKeyRevoked {
				t.Errorf("revoked, after the next poll: %s, want %s", got, authn.ReasonKeyRevoked)
			}
		})
	}
}

// TestCreatedKeyWithinDelay: an id that was unknown, and cached as
// such, is found once a key with it is created and the counter read.
func TestCreatedKeyWithinDelay(t *testing.T) {
	a, s, h, tick := cached(t, storetest.Backends(t)["sqlite"])
	ctx := context.Background()
	key, id, secret, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	auth := func() string {
		_, err := a.Authenticate(ctx, request(http.Header{"X-Api-Key": {key}}, "10.0.0.1"))
		return reason(err)
	}
	tick(time.Second)
	if got := auth(); got != authn.ReasonBadCredentials {
		t.Fatalf("unknown key: %s", got)
	}
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: id, Name: "n", Subject: "bob", Hash: h.Hash(secret), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if got := auth(); got != authn.ReasonBadCredentials {
		t.Fatalf("created, before the next poll: %s, want the cached unknown", got)
	}
	tick(time.Second)
	if got := auth(); got != "" {
		t.Errorf("created, after the next poll: %s", got)
	}
}

// TestCounterDownFailsClosed: while the change counter cannot be read,
// cached records are trusted for at most the delay after the start of
// the last poll that read it; then every request reads the store, and a
// store that is down refuses with 503, never admits.
func TestCounterDownFailsClosed(t *testing.T) {
	a, s, h, tick := cached(t, storetest.Backends(t)["sqlite"])
	ctx := context.Background()
	key, _, err := apikey.Create(ctx, s, h, apikey.Spec{Subject: "bob"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	auth := func() string {
		_, err := a.Authenticate(ctx, request(http.Header{"X-Api-Key": {key}}, "10.0.0.1"))
		return reason(err)
	}
	tick(time.Second)
	if got := auth(); got != "" {
		t.Fatalf("store up: %s", got)
	}
	if err := s.Close(); err != nil { // the store is gone: polls fail
		t.Fatal(err)
	}
	tick(time.Second) // last good poll started 1s ago
	if got := auth(); got != "" {
		t.Errorf("1s after the last good poll (delay 2s): %s, want the cached record admitted", got)
	}
	tick(1500 * time.Millisecond) // 2.5s: past the delay
	if got := auth(); got != authn.ReasonStoreUnavailable {
		t.Errorf("past the delay with the store down: %s, want %s", got, authn.ReasonStoreUnavailable)
	}
}

// TestCacheDropsRecordsReadBeforeAMove: a record read before the counter
// moved is not kept after it (a request that read the store just before
// a revocation and finished after the poll saw it).
func TestCacheDropsRecordsReadBeforeAMove(t *testing.T) {
	s := storetest.Backends(t)["sqlite"](t)
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	c := newRecordCache(time.Second, func() time.Time { return now })
	if err := c.poll(ctx, s); err != nil {
		t.Fatal(err)
	}
	gen, trusted := c.current()
	if !trusted {
		t.Fatal("not trusted after a poll")
	}
	stale := store.APIKey{ID: "k", Subject: "bob"}
	// The counter moves (a key is created) and a poll sees it ...
	if err := s.CreateAPIKey(ctx, store.APIKey{ID: "other", Subject: "x", Hash: []byte{1}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := c.poll(ctx, s); err != nil {
		t.Fatal(err)
	}
	// ... before the request that read the old record stores it.
	c.put("k", stale, true, gen)
	newGen, _ := c.current()
	if _, _, ok := c.get("k", newGen); ok {
		t.Error("a record read before the counter moved was kept after the move")
	}
	if newGen == gen {
		t.Error("the generation did not move with the counter")
	}
	// A record read in the current generation is kept.
	c.put("k", stale, true, newGen)
	if _, _, ok := c.get("k", newGen); !ok {
		t.Error("a record read in the current generation was not kept")
	}
}
