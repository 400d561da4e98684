package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	kr "github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/secretfile"
	"github.com/rampart-gw/rampart/internal/store"
)

// testKEK is a keyring KEK whose version v (1, 2, ...) is 32 bytes of
// seeds[v-1].
func testKEK(t testing.TB, seeds ...byte) KEK {
	t.Helper()
	var lines []string
	for i, b := range seeds {
		lines = append(lines, fmt.Sprintf("%d:%s", i+1, base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))))
	}
	k, err := kr.ParseKEK([]byte(strings.Join(lines, "\n")), "test KEK")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func kids(t *testing.T, m *Manager) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, k := range set.Keys {
		if k.IsPublic() != true || k.Algorithm != "ES256" {
			t.Fatalf("published key %s is not a public ES256 key", k.KeyID)
		}
		out = append(out, k.KeyID)
	}
	return out
}

func TestRotation(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	opt := Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, Refresh: time.Minute, KEK: testKEK(t, 0), Now: c.Now}
	m, err := New(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	a := m.Current().KID
	if got := kids(t, m); len(got) != 1 || got[0] != a {
		t.Fatalf("published %v, want [%s]", got, a)
	}
	// A second gateway on the same store signs with the same key.
	bg, tick := backgroundtest.Runner(t)
	opt2 := opt
	opt2.Background = bg
	m2, err := New(context.Background(), st, opt2)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Current().KID != a {
		t.Fatalf("second gateway signs with %s, want %s", m2.Current().KID, a)
	}

	// Near the end of A's hour a new key B is published but A still signs.
	c.Add(time.Hour - time.Minute)
	if err := m.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, m); len(got) != 2 || m.Current().KID != a {
		t.Fatalf("after 59m: published %v, signing %s", got, m.Current().KID)
	}
	b := kids(t, m)[0]
	// Once B has been published for prepublish (2m), B signs; A stays
	// published for the tokens it signed.
	c.Add(3 * time.Minute)
	if err := m.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m.Current().KID != b || len(kids(t, m)) != 2 {
		t.Fatalf("after 62m: signing %s (want %s), published %v", m.Current().KID, b, kids(t, m))
	}
	if m2.Current().KID != a {
		t.Fatal("the second gateway changed keys before its reread")
	}
	backgroundtest.Tick(t, tick, time.Minute, 1) // its reread
	if m2.Current().KID != b {
		t.Fatalf("the second gateway signs with %s after its reread, want %s", m2.Current().KID, b)
	}
	// A's tokens have expired: A is gone.
	c.Add(10 * time.Minute)
	if err := m.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, m); len(got) != 1 || got[0] != b {
		t.Fatalf("after 72m: published %v, want [%s]", got, b)
	}
}

func TestPrivateKeysEncrypted(t *testing.T) {
	st := openStore(t)
	kek := testKEK(t, 1)
	opt := Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: kek}
	m, err := New(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	keys, err := st.SigningKeys(context.Background(), "identity", time.Now())
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	if strings.Contains(string(keys[0].PrivateKey), "\x30\x81") { // a DER SEQUENCE would show
		t.Error("the stored private key looks like plain DER")
	}
	if keys[0].PrivateKey[0] != formatKEK {
		t.Fatalf("sealed in format %d, want %d", keys[0].PrivateKey[0], formatKEK)
	}
	// Another key-encryption key cannot use the store's keys.
	opt.KEK = testKEK(t, 0)
	if _, err := New(context.Background(), st, opt); err == nil || !strings.Contains(err.Error(), "cannot be decrypted") || !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong KEK: %v", err)
	}
	// A ciphertext moved to another kid or purpose does not decrypt (both
	// are bound).
	opt.KEK = kek
	m3 := &Manager{opt: opt}
	if _, err := m3.open(context.Background(), "another-kid", keys[0].PrivateKey); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a key decrypted under another kid: %v", err)
	}
	m3.opt.Purpose = "oauth"
	if _, err := m3.open(context.Background(), keys[0].KID, keys[0].PrivateKey); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("a key decrypted under another purpose: %v", err)
	}
}

// TestLoadLegacyKEK: an earlier release's signing-kek file is read as it
// was written; a missing one is no key, and is never created.
func TestLoadLegacyKEK(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", "kek")
	if k, err := LoadLegacyKEK(p); err != nil || k != nil {
		t.Fatalf("missing file: %v, %v", k, err)
	}
	if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a legacy KEK file was created: %v", err)
	}
	want := bytes.Repeat([]byte{0x5a}, 32)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(base64.StdEncoding.EncodeToString(want)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := LoadLegacyKEK(p); err != nil || !bytes.Equal(k, want) {
		t.Fatalf("read %x, %v", k, err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLegacyKEK(p); !errors.Is(err, secretfile.ErrPermissions) {
		t.Fatalf("a file others can read: %v", err)
	}

	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		make func(path string) error
		want error
	}{
		{"not base64", func(path string) error { return os.WriteFile(path, []byte("not-base64-at-all!\n"), 0o600) }, nil},
		{"16 bytes", func(path string) error {
			return os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(make([]byte, 16))), 0o600)
		}, nil},
		// The old code followed EEXIST from link(2) back into itself, and a
		// dangling link made that endless.
		{"dangling symlink", func(path string) error { return os.Symlink(filepath.Join(dir, "nowhere"), path) }, secretfile.ErrSymlink},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			if err := tt.make(path); err != nil {
				t.Fatal(err)
			}
			_, err := LoadLegacyKEK(path)
			if err == nil || !strings.Contains(err.Error(), path) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v naming %s", err, tt.want, path)
			}
		})
	}
}

// FuzzParseKEK: any file content is a 32-byte key or an error that does
// not quote the content.
func FuzzParseKEK(f *testing.F) {
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n"))
	f.Add([]byte(base64.StdEncoding.EncodeToString(make([]byte, 31))))
	f.Add([]byte(" " + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\r\n "))
	f.Add([]byte("!!"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseKEK(b)
		if err != nil {
			if len(b) >= 8 && strings.Contains(err.Error(), string(b)) {
				t.Fatalf("error quotes the content: %v", err)
			}
			return
		}
		if len(k) != 32 {
			t.Fatalf("parseKEK(%q) gave %d bytes", b, len(k))
		}
	})
}

// TestInjectedKeyNotPublished: a row written straight into the store by
// someone without the KEK (their own public key, any private blob) is
// neither published nor allowed to hold off rotation.
func TestInjectedKeyNotPublished(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	attacker, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := jose.JSONWebKey{Key: &attacker.PublicKey, Algorithm: "ES256", Use: "sig"}
	tp, _ := pub.Thumbprint(crypto.SHA256)
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pj, _ := pub.MarshalJSON()
	if err := st.CreateSigningKey(context.Background(), store.SigningKey{KID: pub.KeyID, Purpose: "identity", Alg: "ES256",
		CreatedAt: c.t.Add(-time.Minute), RetireAt: c.t.Add(240 * time.Hour), ExpiresAt: c.t.Add(300 * time.Hour),
		PrivateKey: []byte{1, 2, 3}, PublicJWK: string(pj)}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(context.Background(), st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 0), Now: c.Now}); err == nil {
		t.Fatal("started on a store whose only key it cannot open")
	}
	if _, err := st.SigningKeys(context.Background(), "identity", c.t.Add(400*time.Hour)); err != nil { // expires the injected row
		t.Fatal(err)
	}
	m, err := New(context.Background(), st, Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 0), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Injected beside a trusted key: not published, and rotation goes on.
	if err := st.CreateSigningKey(context.Background(), store.SigningKey{KID: pub.KeyID, Purpose: "identity", Alg: "ES256",
		CreatedAt: c.t.Add(-time.Minute), RetireAt: c.t.Add(240 * time.Hour), ExpiresAt: c.t.Add(300 * time.Hour),
		PrivateKey: []byte{1, 2, 3}, PublicJWK: string(pj)}); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(59 * time.Minute)
	if err := m.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(kids(t, m)) != 2 {
		t.Fatalf("published %v: want the first key and its successor", kids(t, m))
	}
	for _, kid := range kids(t, m) {
		if kid == pub.KeyID {
			t.Fatal("the injected key is published")
		}
	}
	if m.Current().KID == pub.KeyID {
		t.Fatal("signing with the injected key")
	}
}

// TestNoRotationOverAPeersKey: a gateway whose KEK does not open a newer
// key that another gateway made (a KEK of its own, or a version it does
// not have) keeps signing with its keys and says so, instead of making a
// key of its own that would split the cluster.
func TestNoRotationOverAPeersKey(t *testing.T) {
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	opt := Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, Refresh: time.Minute, Now: c.Now}
	optB, optA := opt, opt
	optB.KEK = testKEK(t, 7)    // version 1 only
	optA.KEK = testKEK(t, 7, 8) // the same version 1, and a version 2 B lacks
	b, err := New(context.Background(), st, optB)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first := b.Current().KID
	a, err := New(context.Background(), st, optA)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	c.Add(59 * time.Minute)
	if err := a.refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kids(t, a); len(got) != 2 {
		t.Fatalf("a published %v, want its new key and the first", got)
	}
	err = b.refresh(context.Background())
	if err == nil || !errors.Is(err, ErrKEKVersion) || !strings.Contains(err.Error(), "not rotating") {
		t.Fatalf("b's refresh over a key it cannot open: %v", err)
	}
	stored, err := st.SigningKeys(context.Background(), "identity", c.Now())
	if err != nil || len(stored) != 2 {
		t.Fatalf("stored %d keys (%v): b made a key of its own", len(stored), err)
	}
	if b.Current().KID != first {
		t.Errorf("b signs with %s, want its own %s", b.Current().KID, first)
	}
}
