// Package storetest opens state stores for tests: SQLite always, and
// PostgreSQL when RAMPART_TEST_POSTGRES names a server, each test in a
// schema of its own. It is imported by tests only.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
)

// Backends returns a fresh store per back end: SQLite always, PostgreSQL
// when RAMPART_TEST_POSTGRES is set (.ci/run sets it), each test in a
// schema of its own.
func Backends(t *testing.T) map[string]func(t *testing.T) *store.Store {
	t.Helper()
	b := map[string]func(t *testing.T) *store.Store{
		"sqlite": func(t *testing.T) *store.Store {
			s, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "rampart.db")})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
	}
	if os.Getenv("RAMPART_TEST_POSTGRES") == "" {
		t.Log("RAMPART_TEST_POSTGRES not set: PostgreSQL back end skipped (.ci/run sets it)")
		return b
	}
	b["postgres"] = func(t *testing.T) *store.Store {
		s, err := store.Open(context.Background(), config.Store{Driver: "postgres", DSN: PostgresDSN(t)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	return b
}

// PostgresDSN creates a schema of t's own on the RAMPART_TEST_POSTGRES
// server, dropped when t ends, and returns a DSN that uses it (its
// search_path); it skips t when the variable is unset. Tests that put
// something between the store and the server (a fault proxy) change the
// DSN's host.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RAMPART_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("RAMPART_TEST_POSTGRES is not set (such as postgres://postgres@127.0.0.1:5432/test?sslmode=disable); .ci/run sets it")
	}
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
	return u.String()
}
