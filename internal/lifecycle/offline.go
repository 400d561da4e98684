package lifecycle

// What the offline commands (rampart apikey, keys and audit verify on a
// stopped gateway's data directory or config) open, besides
// OpenOfflineKeys.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/witness"
)

// DataDirConfig is the config of a gateway that runs on dataDir with the
// defaults, as the demo does: its SQLite store, its key files and, when
// dataDir holds an audit directory, its audit log.
func DataDirConfig(dataDir string) *config.Config {
	c := &config.Config{DataDir: dataDir}
	config.SetDefaults(c)
	c.Store = config.Store{Driver: "sqlite", Path: filepath.Join(dataDir, "rampart.db")}
	c.Audit.Dir = filepath.Join(dataDir, "audit")
	if _, err := os.Stat(c.Audit.Dir); err == nil {
		c.Audit.Enabled = true
	}
	return c
}

// OpenOfflineAPIKeys opens, for the offline apikey commands, cfg's store
// and its API keys' pepper (made on first use), with cfg's caps on scopes.
// done closes the store.
func OpenOfflineAPIKeys(ctx context.Context, cfg *config.Config) (_ *admin.LocalKeys, done func(), err error) {
	s, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	h, err := apikey.LoadOrCreatePepper(config.PepperFile(cfg))
	if err != nil {
		_ = s.Close()
		return nil, nil, err
	}
	return &admin.LocalKeys{Store: s, Hasher: h, MaxScopes: cfg.Authz.MaxScopes}, func() { _ = s.Close() }, nil
}

// AuditCopies are the copies of cfg's audit checkpoints kept away from the
// log's disk, for audit.Verify: those the gateway wrote to its state store
// and the newest each of the config's witnesses cosigned, all for origin.
func AuditCopies(ctx context.Context, cfg *config.Config, origin string) (stored [][]byte, witnessed []audit.Witnessed, err error) {
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	stored, err = st.AuditCheckpoints(ctx, origin)
	_ = st.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading the checkpoint copies in the store: %w", err)
	}
	clients, err := witness.FromConfig(cfg.Audit.Witnesses)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range clients {
		w, err := c.Witnessed(ctx, origin)
		if err != nil {
			return nil, nil, fmt.Errorf("asking %s for its newest checkpoint: %w", c.Name(), err)
		}
		witnessed = append(witnessed, w)
	}
	return stored, witnessed, nil
}
