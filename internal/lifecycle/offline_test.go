package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/store"
)

// TestDataDirConfig: a data directory's config is the defaults on its
// SQLite store; its audit log is on only when the directory has one.
func TestDataDirConfig(t *testing.T) {
	dir := t.TempDir()
	c := DataDirConfig(dir)
	if c.Store.Driver != "sqlite" || c.Store.Path != filepath.Join(dir, "rampart.db") || c.Audit.Enabled || c.Audit.Dir != filepath.Join(dir, "audit") {
		t.Fatalf("config of an empty data directory: store %+v, audit %v %s", c.Store, c.Audit.Enabled, c.Audit.Dir)
	}
	if err := os.Mkdir(filepath.Join(dir, "audit"), 0o700); err != nil {
		t.Fatal(err)
	}
	if !DataDirConfig(dir).Audit.Enabled {
		t.Error("the audit directory is there, the audit log is off")
	}
}

// TestOpenOfflineAPIKeys: the keys of a data directory, its pepper made
// under it on first use.
func TestOpenOfflineAPIKeys(t *testing.T) {
	dir := t.TempDir()
	keys, done, err := OpenOfflineAPIKeys(context.Background(), DataDirConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if _, err := os.Stat(filepath.Join(dir, "apikey-pepper")); err != nil {
		t.Errorf("no pepper: %v", err)
	}
	if ks, err := keys.ListKeys(context.Background()); err != nil || len(ks) != 0 {
		t.Errorf("a new store's keys: %v, %v", ks, err)
	}
}

// TestAuditCopies: the store's copies of the origin's checkpoints, in
// order, and none of another origin's.
func TestAuditCopies(t *testing.T) {
	ctx := context.Background()
	cfg := DataDirConfig(t.TempDir())
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []string{"one", "two"} {
		if err := st.SaveAuditCheckpoint(ctx, "o", int64(i+1), []byte(n), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SaveAuditCheckpoint(ctx, "other", 1, []byte("x"), time.Now()); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	stored, witnessed, err := AuditCopies(ctx, cfg, "o")
	if err != nil || len(stored) != 2 || string(stored[0]) != "one" || string(stored[1]) != "two" || len(witnessed) != 0 {
		t.Errorf("AuditCopies: %q, %v, %v", stored, witnessed, err)
	}
}
