package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/config"
)

// backends returns a fresh store per back end: SQLite always, PostgreSQL
// when RAMPART_TEST_POSTGRES is set (.ci/run sets it), each test in a
// schema of its own.
func backends(t *testing.T) map[string]func(t *testing.T) *Store {
	t.Helper()
	b := map[string]func(t *testing.T) *Store{
		"sqlite": func(t *testing.T) *Store {
			s, err := Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "rampart.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	dsn := os.Getenv("RAMPART_TEST_POSTGRES")
	if dsn == "" {
		t.Log("RAMPART_TEST_POSTGRES not set: PostgreSQL back end skipped (.ci/run sets it)")
		return b
	}
	b["postgres"] = func(t *testing.T) *Store {
		var rnd [6]byte
		_, _ = rand.Read(rnd[:])
		schema := "rampart_test_" + hex.EncodeToString(rnd[:])
		admin, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
			t.Fatalf("creating schema (is PostgreSQL up at RAMPART_TEST_POSTGRES?): %v", err)
		}
		t.Cleanup(func() {
			if a, err := sql.Open("pgx", dsn); err == nil {
				_, _ = a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
				_ = a.Close()
			}
		})
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		s, err := Open(context.Background(), config.Store{Driver: "postgres", DSN: u.String()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return b
}

func TestAPIKeys(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if s.Version() != 4 {
				t.Errorf("schema version %d", s.Version())
			}
			now := time.Unix(1_800_000_000, 0).UTC()
			k := APIKey{ID: "k1", Name: "ci", Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"products:read"},
				CIDRs: []string{"10.0.0.0/8"}, Hash: []byte{1, 2, 3}, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			if err := s.CreateAPIKey(ctx, k); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateAPIKey(ctx, k); !errors.Is(err, ErrExists) {
				t.Errorf("duplicate id: %v", err)
			}
			got, err := s.APIKey(ctx, "k1")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(k, got); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			if _, err := s.APIKey(ctx, "nope"); !errors.Is(err, ErrNotFound) {
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
			if err := s.RotateAPIKey(ctx, "k1", []byte{7}, time.Time{}); !errors.Is(err, ErrNotFound) {
				t.Errorf("rotating a revoked key: %v", err)
			}
			if err := s.RevokeAPIKey(ctx, "nope", now); !errors.Is(err, ErrNotFound) {
				t.Errorf("revoking a missing key: %v", err)
			}

			if err := s.CreateAPIKey(ctx, APIKey{ID: "k2", Subject: "carol", Hash: []byte{4}, CreatedAt: now.Add(time.Second)}); err != nil {
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
		s, err := Open(context.Background(), config.Store{Driver: "sqlite", Path: path})
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
	if _, err := Open(context.Background(), config.Store{Driver: "sqlite", Path: path}); err == nil {
		t.Error("a store newer than this binary was opened")
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("store file mode %v %v", fi.Mode(), err)
	}
}

func TestSigningKeys(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			now := time.Unix(1_800_000_000, 0).UTC()
			old := SigningKey{KID: "k-old", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-2 * time.Hour),
				RetireAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Minute), PrivateKey: []byte{1}, PublicJWK: `{"kid":"k-old"}`}
			cur := SigningKey{KID: "k-new", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-time.Hour),
				RetireAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour), PrivateKey: []byte{2}, PublicJWK: `{"kid":"k-new"}`}
			gone := SigningKey{KID: "k-gone", Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-3 * time.Hour),
				RetireAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Second), PrivateKey: []byte{3}, PublicJWK: `{}`}
			other := SigningKey{KID: "k-other", Purpose: "tokens", Alg: "ES256", CreatedAt: now,
				RetireAt: now.Add(time.Hour), ExpiresAt: now.Add(2 * time.Hour), PrivateKey: []byte{4}, PublicJWK: `{}`}
			for _, k := range []SigningKey{old, cur, gone, other} {
				if err := s.CreateSigningKey(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.CreateSigningKey(ctx, cur); !errors.Is(err, ErrExists) {
				t.Errorf("duplicate kid: %v", err)
			}
			got, err := s.SigningKeys(ctx, "identity", now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]SigningKey{cur, old}, got); diff != "" {
				t.Errorf("keys (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRevokedTokens(t *testing.T) {
	for name, open := range backends(t) {
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
	for name, open := range backends(t) {
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
