package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

func TestAPIKeys(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if s.Version() != 6 {
				t.Errorf("schema version %d", s.Version())
			}
			now := time.Unix(1_800_000_000, 0).UTC()
			k := store.APIKey{ID: "k1", Name: "ci", Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"products:read"},
				CIDRs: []string{"10.0.0.0/8"}, Hash: []byte{1, 2, 3}, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAPIKey(ctx, k); !errors.Is(err, store.ErrExists) {
				t.Errorf("duplicate id: %v", err)
			}
			got, err := s.APIKey(ctx, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if _, err := s.APIKey(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("missing key: %v", err)
			}

			// Rotation keeps the old hash for the grace window.
			grace := now.Add(time.Hour)
			if err := s.RotateAPIKey(ctx, "k1", []byte{9, 9}, grace); err != nil {
				t.Fatal(err)
			}
			got, _ = s.APIKey(ctx, "k1")
			if !cmp.Equal(got.Hash, []byte{9, 9}) || !cmp.Equal(got.PrevHash, []byte{1, 2, 3}) || !got.PrevValidUntil.Equal(grace) {
				t.Errorf("after rotation: %+v", got)
			}

			// Last use is recorded in batches and only moves forward.
			if err := s.TouchAPIKeys(ctx, map[string]time.Time{"k1": now.Add(time.Minute), "nope": now}); err != nil {
				t.Fatal(err)
			}
			if err := s.TouchAPIKeys(ctx, map[string]time.Time{"k1": now}); err != nil {
				t.Fatal(err)
			}
			got, _ = s.APIKey(ctx, "k1")
			if !got.LastUsedAt.Equal(now.Add(time.Minute)) {
				t.Errorf("last used %v", got.LastUsedAt)
			}

			// Revocation is final: the first time stays, rotation stops.
			if err := s.RevokeAPIKey(ctx, "k1", now.Add(2*time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeAPIKey(ctx, "k1", now.Add(3*time.Minute)); err != nil {
				t.Fatal(err)
			}
			got, _ = s.APIKey(ctx, "k1")
			if !got.RevokedAt.Equal(now.Add(2 * time.Minute)) {
				t.Errorf("revoked at %v", got.RevokedAt)
			}
			if err := s.RotateAPIKey(ctx, "k1", []byte{7}, time.Time{}); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("rotating a revoked key: %v", err)
			}
			if err := s.RevokeAPIKey(ctx, "nope", now); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("revoking a missing key: %v", err)
			}

			if err := s.CreateAPIKey(ctx, store.APIKey{ID: "k2", Subject: "carol", Hash: []byte{4}, CreatedAt: now.Add(time.Second)}); err != nil {
				t.Fatal(err)
			}
			all, err := s.ListAPIKeys(ctx)
			if err != nil || len(all) != 2 || all[0].ID != "k1" || all[1].ID != "k2" || all[1].Roles == nil {
				t.Errorf("list: %+v %v", all, err)
			}
		})
	}
}

func TestMigrationsIdempotentAndForwardOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	for range 2 {
		s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: path})
		if err != nil {
			t.Fatal(err)
		}
		_ = s.Close()
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if _, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: path}); err == nil {
		t.Error("a store newer than this binary was opened")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v %v", fi.Mode(), err)
	}
}

func TestSigningKeys(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0).UTC()
			old := store.SigningKey{KID: "k-old", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-2 * time.Hour),
				RetireAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute), PrivateKey: []byte{1}, PublicJWK: `{"kid":"k-old"}`}
			cur := store.SigningKey{KID: "k-new", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-time.Hour),
				RetireAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour), PrivateKey: []byte{2}, PublicJWK: `{"kid":"k-new"}`}
			gone := store.SigningKey{KID: "k-gone", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-3 * time.Hour),
				RetireAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Second), PrivateKey: []byte{3}, PublicJWK: `{}`}
			other := store.SigningKey{KID: "k-other", Purpose: "tokens", Alg: "ES256", CreatedAt: now,
				RetireAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour), PrivateKey: []byte{4}, PublicJWK: `{}`}
			for _, k := range []store.SigningKey{old, cur, gone, other} {
				if err := s.CreateSigningKey(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.CreateSigningKey(ctx, cur); !errors.Is(err, store.ErrExists) {
				t.Errorf("duplicate kid: %v", err)
			}
			got, err := s.SigningKeys(ctx, "identity", now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]store.SigningKey{cur, old}, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}

			// Resealing is a compare-and-swap on the sealed bytes.
			if changed, err := s.ResealSigningKey(ctx, "k-new", []byte{9}, []byte{5}); err != nil || changed {
				t.Errorf("reseal from bytes the row does not hold = %v, %v; want no change", changed, err)
			}
			if changed, err := s.ResealSigningKey(ctx, "k-new", []byte{2}, []byte{5}); err != nil || !changed {
				t.Errorf("reseal = %v, %v; want a change", changed, err)
			}
			if changed, err := s.ResealSigningKey(ctx, "k-none", []byte{2}, []byte{5}); err != nil || changed {
				t.Errorf("reseal of a missing kid = %v, %v; want no change", changed, err)
			}
			got, err = s.SigningKeys(ctx, "identity", now)
			if err != nil {
				t.Fatal(err)
			}
			cur.PrivateKey = []byte{5}
			if diff := cmp.Diff([]store.SigningKey{cur, old}, got); diff != "" {
				t.Errorf("keys after the reseal (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRevokedTokens(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0).UTC()
			for _, r := range []struct {
				jti string
				exp time.Time
			}{{"a", now.Add(time.Minute)}, {"a", now.Add(time.Minute)}, {"old", now.Add(-time.Second)}} {
				if err := s.RevokeToken(ctx, r.jti, r.exp); err != nil {
					t.Fatal(err)
				}
			}
			got, err := s.RevokedTokens(ctx, now)
			if err != nil || len(got) != 1 || got[0] != "a" {
				t.Fatalf("revoked %v %v", got, err)
			}
		})
	}
}

func TestAuditCheckpoints(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0)
			for _, c := range []struct {
				size int64
				note string
			}{{20, "b"}, {10, "a"}, {20, "b-again"}} {
				if err := s.SaveAuditCheckpoint(ctx, "gw1", c.size, []byte(c.note), now); err != nil {
					t.Fatal(err)
				}
			}
			_ = s.SaveAuditCheckpoint(ctx, "gw2", 5, []byte("other"), now)
			got, err := s.AuditCheckpoints(ctx, "gw1")
			if err != nil || len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "b" {
				t.Fatalf("%q %v", got, err)
			}
		})
	}
}

func TestDataKeys(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			at := time.Unix(1_800_000_000, 0).UTC()
			checkDataKeyLookups(t, s, at)
			checkDataKeyUses(t, s)
			checkDataKeyRewrap(t, s)
			checkDataKeyPages(t, s)
			checkDataKeyShred(t, s, at)
		})
	}
}

// checkDataKeyLookups creates bob's keys 01 (version 1) and 02 (version
// 2) under KEK version 1 and carol's 03 under KEK version 2, created at
// at; a second version 2 of bob's is refused; bob's current key is 02,
// dave has none; key 03 reads back as it was written.
func checkDataKeyLookups(t *testing.T, s *store.Store, at time.Time) {
	t.Helper()
	ctx := context.Background()
	mk := func(id, subject string, v, kek int) store.DataKey {
		return store.DataKey{KeyID: id, Subject: subject, Version: v, KEKVersion: kek, Wrapped: []byte("w-" + id), CreatedAt: at}
	}
	for _, k := range []store.DataKey{mk("01", "bob", 1, 1), mk("02", "bob", 2, 1), mk("03", "carol", 1, 2)} {
		if err := s.CreateDataKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateDataKey(ctx, mk("04", "bob", 2, 1)); !errors.Is(err, store.ErrExists) {
		t.Fatalf("same version twice: %v, want ErrExists", err)
	}
	cur, err := s.CurrentDataKey(ctx, "bob")
	if err != nil || cur.KeyID != "02" || cur.Version != 2 {
		t.Fatalf("current bob = %+v, %v", cur, err)
	}
	if _, err := s.CurrentDataKey(ctx, "dave"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("current dave: %v", err)
	}
	got, err := s.DataKey(ctx, "03")
	if err != nil || got.Subject != "carol" || string(got.Wrapped) != "w-03" || !got.CreatedAt.Equal(at) {
		t.Fatalf("key 03 = %+v, %v", got, err)
	}
}

// checkDataKeyUses: reservations on key 01 add up; an unknown key has
// none.
func checkDataKeyUses(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, want := range []int64{10, 20} {
		if used, err := s.ReserveDataKeyUses(ctx, "01", 10); err != nil || used != want {
			t.Fatalf("reserve = %d, %v; want %d", used, err, want)
		}
	}
	if _, err := s.ReserveDataKeyUses(ctx, "99", 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("reserve unknown: %v", err)
	}
}

// checkDataKeyRewrap: the keys under KEK version 1 are 01 and 02; 01
// moves to version 2 once, and the count follows.
func checkDataKeyRewrap(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	old, err := s.DataKeysWrappedBefore(ctx, 2, "", 10)
	if err != nil || len(old) != 2 || old[0].KeyID != "01" || old[1].KeyID != "02" {
		t.Fatalf("wrapped before 2 = %+v, %v", old, err)
	}
	if ok, err := s.RewrapDataKey(ctx, "01", 1, 2, []byte("new")); err != nil || !ok {
		t.Fatalf("rewrap = %v, %v", ok, err)
	}
	if ok, err := s.RewrapDataKey(ctx, "01", 1, 2, []byte("again")); err != nil || ok {
		t.Fatalf("second rewrap from the old version changed a row: %v, %v", ok, err)
	}
	if total, older, err := s.CountDataKeys(ctx, 2); err != nil || total != 3 || older != 1 {
		t.Fatalf("count = %d, %d, %v", total, older, err)
	}
}

// checkDataKeyPages: the page after bob's version 2 is carol's key, and
// a page that ends inside a subject's versions goes on with the next
// version, not the next subject.
func checkDataKeyPages(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	page, err := s.DataKeys(ctx, "", "bob", 2, 10)
	if err != nil || len(page) != 1 || page[0].Subject != "carol" {
		t.Fatalf("page after bob v2 = %+v, %v", page, err)
	}
	var seen []string
	afterS, afterV := "", 0
	for range 5 {
		p, err := s.DataKeys(ctx, "", afterS, afterV, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(p) == 0 {
			break
		}
		seen = append(seen, p[0].KeyID)
		afterS, afterV = p[0].Subject, p[0].Version
	}
	if strings.Join(seen, ",") != "01,02,03" {
		t.Fatalf("paging one by one saw %v", seen)
	}
}

// checkDataKeyShred: shredding bob at at destroys his two keys and
// leaves a tombstone (his hash) that ShredsSince returns, until a call
// told to forget what is older than at+1h drops it.
func checkDataKeyShred(t *testing.T, s *store.Store, at time.Time) {
	t.Helper()
	ctx := context.Background()
	n, err := s.ShredSubject(ctx, "bob", []byte("hash-of-bob-0123456789abcdef0123"), at)
	if err != nil || n != 2 {
		t.Fatalf("shred = %d, %v", n, err)
	}
	if _, err := s.DataKey(ctx, "02"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("shredded key still there: %v", err)
	}
	hs, err := s.ShredsSince(ctx, at.Add(-time.Second), at.Add(-time.Hour))
	if err != nil || len(hs) != 1 || string(hs[0]) != "hash-of-bob-0123456789abcdef0123" {
		t.Fatalf("shreds = %q, %v", hs, err)
	}
	if hs, _ := s.ShredsSince(ctx, at.Add(-time.Second), at.Add(time.Hour)); len(hs) != 0 {
		t.Fatalf("old tombstones kept: %q", hs)
	}
}

// TestConcurrentOpen: processes (here, stores) opening one new SQLite file
// at once migrate one after the other instead of failing on each other's
// tables. A regression test: two gateways of the benchmark started
// together and one died on "table api_keys already exists".
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rampart.db")
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: path})
			if err == nil {
				if s.Version() != 6 {
					err = fmt.Errorf("version %d", s.Version())
				}
				_ = s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("store %d: %v", i, err)
		}
	}
}

// TestAPIKeyChanges: the change counter moves with every key created,
// revoked or rotated, and not with last-used times or a change that
// failed (the transaction is rolled back with it).
func TestAPIKeyChanges(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			counter := func() int64 {
				t.Helper()
				n, err := s.APIKeyChanges(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return n
			}
			now := time.Unix(1_800_000_000, 0).UTC()
			k := store.APIKey{ID: "c1", Name: "ci", Subject: "bob", Hash: []byte{1}, CreatedAt: now}
			steps := []struct {
				what  string
				do    func() error
				moves bool
			}{
				{"create", func() error { return s.CreateAPIKey(ctx, k) }, true},
				{"create again (refused)", func() error { _ = s.CreateAPIKey(ctx, k); return nil }, false},
				{"touch", func() error { return s.TouchAPIKeys(ctx, map[string]time.Time{"c1": now}) }, false},
				{"rotate", func() error { return s.RotateAPIKey(ctx, "c1", []byte{2}, now) }, true},
				{"revoke an unknown key (refused)", func() error { _ = s.RevokeAPIKey(ctx, "nope", now); return nil }, false},
				{"revoke", func() error { return s.RevokeAPIKey(ctx, "c1", now) }, true},
				{"rotate a revoked key (refused)", func() error { _ = s.RotateAPIKey(ctx, "c1", []byte{3}, now); return nil }, false},
			}
			for _, st := range steps {
				before := counter()
				if err := st.do(); err != nil {
					t.Fatalf("%s: %v", st.what, err)
				}
				if moved := counter() != before; moved != st.moves {
					t.Errorf("%s: counter moved %v, want %v", st.what, moved, st.moves)
				}
			}
		})
	}
}
