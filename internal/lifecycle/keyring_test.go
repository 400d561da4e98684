package lifecycle

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/store"
)

// TestLostKEKFile: with data keys in the store, a missing KEK file stops
// the keyring from opening instead of being replaced by a new one.
func TestLostKEKFile(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := &config.Config{DataDir: dir}
	config.SetDefaults(cfg)
	ring, err := OpenKeyring(context.Background(), cfg, st, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring.Encrypt(context.Background(), "bob", "$.ssn", []byte(`"x"`)); err != nil {
		t.Fatal(err)
	}
	_ = ring.Close()
	if err := os.Remove(cfg.Protect.Keys.KEKFile); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(context.Background(), cfg, st, nil, nil); err == nil || !strings.Contains(err.Error(), "restore the file") {
		t.Fatalf("opened with the KEK file gone: %v", err)
	}
	if _, err := os.Stat(cfg.Protect.Keys.KEKFile); err == nil {
		t.Fatal("a new KEK file was made")
	}
}

func TestMaskLogged(t *testing.T) {
	sc := dlp.MustNew()
	for in, want := range map[string]string{
		"/api/items/42":                    "/api/items/42",
		"email=ann%40example.com&page=2":   "email=a***@example.com&page=2",
		"n=4111+1111+1111+1111":            "n=**** **** **** 1111",
		"/cards/4111%201111%201111%201111": "/cards/**** **** **** 1111",
		"/cards/4111111111111111?q=a%2Bb":  "/cards/************1111?q=a+b",
		"q=100%25+off":                     "q=100%25+off",
	} {
		if got := maskLogged(sc, in); got != want {
			t.Errorf("maskLogged(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOpenFailureClosesWhatItOpened: a resource that cannot be opened
// (here the access log, in a directory that does not exist) is an error
// naming it, not a panic, and the store opened before it is closed again
// (its file can be removed and reopened).
func TestOpenFailureClosesWhatItOpened(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	config.SetDefaults(cfg)
	cfg.AccessLog.Output = filepath.Join(dir, "no", "such", "dir", "access.log")
	res, err := Open(context.Background(), cfg, Options{})
	if err == nil || res != nil || !strings.Contains(err.Error(), "opening access log") {
		t.Fatalf("Open: %v, %v", res, err)
	}
	st, err := store.Open(context.Background(), cfg.Store)
	if err != nil {
		t.Fatalf("the store is still held: %v", err)
	}
	_ = st.Close()
}

// TestOfflineKeysRecord: the offline key commands record each change in
// the audit log, as the admin API does, and the log still verifies.
func TestOfflineKeysRecord(t *testing.T) {
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	config.SetDefaults(cfg)
	cfg.Audit.Enabled, cfg.Audit.Dir = true, filepath.Join(dir, "audit")
	keys, done, err := OpenOfflineKeys(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.RotateDataKey(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.ShredSubject(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	done()
	var actions []string
	if err := audit.Each(cfg.Audit.Dir, func(_ int64, ev audit.Event, _ []byte) error {
		if ev.Kind == audit.KindAdmin {
			actions = append(actions, ev.Action+" "+ev.Subject)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(actions, ",") != "keys.rotated bob,keys.shredded bob" {
		t.Fatalf("recorded %v", actions)
	}
	key, err := audit.ReadPublicKey(filepath.Join(cfg.Audit.Dir, audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(cfg.Audit.Dir, audit.VerifyOptions{PublicKey: key, Strict: true}); err != nil || !rep.OK() {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestSigningKeysSealedByKeyringKEK: the signing keys are sealed with the
// keyring's KEK, opened for them even when no field is encrypted, and no
// signing-kek file is made; a gateway upgraded in place, with a key an
// earlier release sealed and its signing-kek file, keeps signing with and
// publishing that key.
func TestSigningKeysSealedByKeyringKEK(t *testing.T) {
	ctx := context.Background()
	t.Run("new data dir", func(t *testing.T) {
		dir := t.TempDir()
		cfg := &config.Config{DataDir: dir}
		cfg.IdentityToken.Enabled = true
		config.SetDefaults(cfg)
		res, err := Open(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		if res.Deps.Signing == nil || res.Deps.Keyring != nil {
			t.Fatalf("signing %v, keyring in the pipeline %v", res.Deps.Signing, res.Deps.Keyring)
		}
		if _, err := os.Lstat(cfg.IdentityToken.KEKFile); err == nil {
			t.Fatal("a signing-kek file was made")
		}
		if _, err := os.Stat(cfg.Protect.Keys.KEKFile); err != nil {
			t.Fatalf("the keyring's KEK file: %v", err)
		}
		keys, err := res.Deps.Store.SigningKeys(ctx, "identity", time.Now())
		if err != nil || len(keys) != 1 || keys[0].PrivateKey[0] != 2 {
			t.Fatalf("stored %v, %v: want one key in sealed format 2", keys, err)
		}
	})
	t.Run("a second gateway without the KEK file", func(t *testing.T) {
		// Two gateways share a store; the second has no KEK file (no data
		// key was ever made). It must not make a KEK of its own, under
		// which the first one's signing keys do not open.
		dir := t.TempDir()
		cfg := &config.Config{DataDir: dir}
		cfg.IdentityToken.Enabled = true
		config.SetDefaults(cfg)
		res, err := Open(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		res.Close()
		if err := os.Remove(cfg.Protect.Keys.KEKFile); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ctx, cfg, Options{}); err == nil || !strings.Contains(err.Error(), "1 signing keys sealed by a key-encryption key") {
			t.Fatalf("opened with another gateway's signing keys and no KEK file: %v", err)
		}
		if _, err := os.Stat(cfg.Protect.Keys.KEKFile); err == nil {
			t.Fatal("a new KEK file was made")
		}
	})
	t.Run("upgraded in place", func(t *testing.T) {
		dir := t.TempDir()
		b, err := os.ReadFile(filepath.Join("..", "signing", "testdata", "v1-identity-key.json"))
		if err != nil {
			t.Fatal(err)
		}
		var g struct {
			LegacyKEK  string `json:"legacy_kek"`
			KID        string `json:"kid"`
			PublicJWK  string `json:"public_jwk"`
			PrivateKey string `json:"private_key"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			t.Fatal(err)
		}
		sealed, err := base64.StdEncoding.DecodeString(g.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &config.Config{DataDir: dir}
		cfg.IdentityToken.Enabled = true
		config.SetDefaults(cfg)
		if err := os.WriteFile(cfg.IdentityToken.KEKFile, []byte(g.LegacyKEK+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := store.Open(ctx, cfg.Store)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		if err := st.CreateSigningKey(ctx, store.SigningKey{KID: g.KID, Purpose: "identity", Alg: "ES256", CreatedAt: now.Add(-time.Hour),
			RetireAt: now.Add(23 * time.Hour), ExpiresAt: now.Add(24 * time.Hour), PrivateKey: sealed, PublicJWK: g.PublicJWK}); err != nil {
			t.Fatal(err)
		}
		_ = st.Close()
		res, err := Open(ctx, cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Close()
		if kid := res.Deps.Signing.Current().KID; kid != g.KID {
			t.Fatalf("signing with %s, want the stored %s", kid, g.KID)
		}
		if !strings.Contains(string(res.Deps.Signing.JWKS()), g.KID) {
			t.Fatalf("JWKS %s does not publish %s", res.Deps.Signing.JWKS(), g.KID)
		}
	})
}

// TestKEKVersionKeptForSigningKeys: a KEK version that still seals a
// signing key cannot leave its source, as it cannot while it wraps a data
// key (the keys would not open at the next start).
func TestKEKVersionKeptForSigningKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	cfg.IdentityToken.Enabled = true
	config.SetDefaults(cfg)
	res, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	path := cfg.Protect.Keys.KEKFile
	if _, err := keyring.AddKEKVersion(path); err != nil {
		t.Fatal(err)
	}
	ring, err := OpenKeyring(ctx, cfg, res.Deps.Store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ring.Close()
	dropKEKVersion(t, path, 1)
	// Rewrap rereads the KEK first: no data key uses version 1, the
	// identity signing key does.
	if _, err := ring.Rewrap(ctx, nil); err == nil || !strings.Contains(err.Error(), "1 signing keys are sealed by it") {
		t.Fatalf("version 1 dropped under a signing key: %v", err)
	}
	if !ring.KEK().Has(1) {
		t.Error("the loaded KEK lost version 1")
	}
}

// TestRewrapResealsSigningKeys: rampart keys rewrap moves the signing keys
// to the newest KEK version with the data keys, so the old version can
// then leave the KEK file and the gateway still starts, signing with the
// same key.
func TestRewrapResealsSigningKeys(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := &config.Config{DataDir: dir}
	cfg.IdentityToken.Enabled = true
	config.SetDefaults(cfg)
	res, err := Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	kid := res.Deps.Signing.Current().KID
	path := cfg.Protect.Keys.KEKFile
	if _, err := keyring.AddKEKVersion(path); err != nil {
		t.Fatal(err)
	}
	ring, err := OpenKeyring(ctx, cfg, res.Deps.Store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rw, err := ring.Rewrap(ctx, nil)
	if err != nil || rw.KEKVersion != 2 || rw.SigningKeysResealed != 1 || rw.SigningKeysRemaining != 0 {
		t.Fatalf("Rewrap = %+v, %v; want the signing key resealed by version 2", rw, err)
	}
	ring.Close()
	res.Close()

	dropKEKVersion(t, path, 1)
	res, err = Open(ctx, cfg, Options{})
	if err != nil {
		t.Fatalf("start without KEK version 1 after the rewrap: %v", err)
	}
	defer res.Close()
	if got := res.Deps.Signing.Current().KID; got != kid {
		t.Errorf("signs with %s after the rewrap, want the same key %s", got, kid)
	}
}

// dropKEKVersion removes version v from the KEK file at path.
func dropKEKVersion(t *testing.T, path string, v int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, strconv.Itoa(v)+":") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
}
