package signing

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	kr "github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/store"
)

// golden is testdata/v1-identity-key.json: a key as the release before
// sealed format 2 stored it (made by that code at commit 969fcb8), with
// the legacy signing-kek that sealed it.
type golden struct {
	LegacyKEK  string `json:"legacy_kek"`
	Purpose    string `json:"purpose"`
	KID        string `json:"kid"`
	PublicJWK  string `json:"public_jwk"`
	PrivateKey string `json:"private_key"`
}

func loadGolden(t testing.TB) (golden, []byte, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "v1-identity-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	legacy, err1 := base64.StdEncoding.DecodeString(g.LegacyKEK)
	sealedKey, err2 := base64.StdEncoding.DecodeString(g.PrivateKey)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	return g, legacy, sealedKey
}

// TestUpgradeKeepsFormat1Keys: a gateway upgraded in place, with a format 1
// key in its store and the old signing-kek file in its data dir, keeps
// signing with and publishing that key; its next key is sealed with the
// KEK in format 2; and once the old key has expired the legacy file is no
// longer needed.
func TestUpgradeKeepsFormat1Keys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	g, legacy, sealedKey := loadGolden(t)
	legacyFile := filepath.Join(t.TempDir(), "signing-kek")
	if err := os.WriteFile(legacyFile, []byte(g.LegacyKEK+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	row := store.SigningKey{KID: g.KID, Purpose: g.Purpose, Alg: "ES256", CreatedAt: c.t.Add(-time.Hour),
		RetireAt: c.t.Add(23 * time.Hour), ExpiresAt: c.t.Add(23*time.Hour + 6*time.Minute), PrivateKey: sealedKey, PublicJWK: g.PublicJWK}
	if err := st.CreateSigningKey(ctx, row); err != nil {
		t.Fatal(err)
	}
	opt := Options{Purpose: "identity", RotateEvery: 24 * time.Hour, TokenTTL: time.Minute, KEK: testKEK(t, 7), Now: c.Now}

	// Without the legacy key the old key is not trusted, and the gateway
	// says why instead of making a key of its own.
	if _, err := New(ctx, st, opt); !errors.Is(err, ErrNoLegacyKEK) || !strings.Contains(err.Error(), g.KID) {
		t.Fatalf("without the legacy key: %v", err)
	}

	k, err := LoadLegacyKEK(legacyFile)
	if err != nil || !bytes.Equal(k, legacy) {
		t.Fatalf("legacy key: %v", err)
	}
	opt.LegacyKEK = k
	m, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Current().KID != g.KID {
		t.Fatalf("signing with %s, want the stored %s", m.Current().KID, g.KID)
	}
	if got := kids(t, m); len(got) != 1 || got[0] != g.KID {
		t.Fatalf("published %v, want [%s]", got, g.KID)
	}
	// What it signs verifies with the public key stored beside it.
	var pub jose.JSONWebKey
	if err := json.Unmarshal([]byte(g.PublicJWK), &pub); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("a token"))
	sig, err := ecdsa.SignASN1(rand.Reader, m.Current().Private, sum[:])
	if err != nil || !ecdsa.VerifyASN1(pub.Key.(*ecdsa.PublicKey), sum[:], sig) {
		t.Fatalf("the old key does not sign as its public half says: %v", err)
	}

	// The next key is sealed with the KEK; the old one stays published.
	c.Add(23*time.Hour - time.Minute)
	if err := m.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := st.SigningKeys(ctx, "identity", c.t)
	if err != nil || len(keys) != 2 {
		t.Fatal(keys, err)
	}
	if keys[0].PrivateKey[0] != formatKEK || binary.BigEndian.Uint32(keys[0].PrivateKey[1:5]) != 1 {
		t.Fatalf("new key sealed as % x..., want format 2 with KEK version 1", keys[0].PrivateKey[:5])
	}
	if !bytes.Equal(keys[1].PrivateKey, sealedKey) {
		t.Fatal("the format 1 row was rewritten")
	}
	if len(kids(t, m)) != 2 {
		t.Fatalf("published %v, want the old key and the new", kids(t, m))
	}
	// Once the old key has expired, a gateway without the legacy key starts.
	c.Add(time.Hour)
	opt.LegacyKEK = nil
	m2, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Current().KID != keys[0].KID {
		t.Fatalf("signing with %s, want %s", m2.Current().KID, keys[0].KID)
	}
}

// TestKEKRotationSealsNewKeys: a version added to the KEK seals the next
// key; keys sealed by the older version still open, on this gateway and
// on a fresh one, as long as that version stays in the KEK.
func TestKEKRotationSealsNewKeys(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	kek := &swapKEK{}
	kek.set(testKEK(t, 1))
	opt := Options{Purpose: "oauth", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: kek, Now: c.Now}
	m, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	first := m.Current().KID
	kek.set(testKEK(t, 1, 2)) // rampart keys kek-add, reread by the keyring
	c.Add(59 * time.Minute)
	if err := m.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := st.SigningKeys(ctx, "oauth", c.t)
	if err != nil || len(keys) != 2 {
		t.Fatal(keys, err)
	}
	for _, k := range keys {
		want := uint32(1)
		if k.KID != first {
			want = 2
		}
		if got := binary.BigEndian.Uint32(k.PrivateKey[1:5]); got != want {
			t.Errorf("key %s sealed by KEK version %d, want %d", k.KID, got, want)
		}
	}
	m2, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if len(kids(t, m2)) != 2 {
		t.Fatalf("a fresh gateway publishes %v, want both keys", kids(t, m2))
	}
	// Version 1 leaves the KEK too early: a fresh gateway no longer trusts
	// the key it sealed, and says which version it lacks.
	only2, err := kr.ParseKEK([]byte("2:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))), "test")
	if err != nil {
		t.Fatal(err)
	}
	m3 := &Manager{opt: Options{Purpose: "oauth", KEK: only2}}
	for _, k := range keys {
		_, err := m3.open(ctx, k.KID, k.PrivateKey)
		if k.KID == first && (!errors.Is(err, ErrKEKVersion) || !strings.Contains(err.Error(), "version 1")) {
			t.Errorf("key sealed by the removed version: %v", err)
		}
		if k.KID != first && err != nil {
			t.Errorf("key sealed by version 2: %v", err)
		}
	}
}

// swapKEK is a KEK whose versions a test changes, as the keyring's
// LiveKEK follows its source.
type swapKEK struct{ p atomic.Pointer[KEK] }

func (s *swapKEK) set(k KEK)      { s.p.Store(&k) }
func (s *swapKEK) get() KEK       { return *s.p.Load() }
func (s *swapKEK) Current() int   { return s.get().Current() }
func (s *swapKEK) Has(v int) bool { return s.get().Has(v) }
func (s *swapKEK) Wrap(ctx context.Context, v int, p, ad []byte) ([]byte, error) {
	return s.get().Wrap(ctx, v, p, ad)
}
func (s *swapKEK) Unwrap(ctx context.Context, v int, w, ad []byte) ([]byte, error) {
	return s.get().Unwrap(ctx, v, w, ad)
}

// fakeKMS is a KMS key (keyring.AEAD) that counts its calls.
type fakeKMS struct {
	aead               cipher.AEAD
	mu                 sync.Mutex
	encrypts, decrypts int
}

func newFakeKMS(t *testing.T, seed byte) *fakeKMS {
	block, err := aes.NewCipher(bytes.Repeat([]byte{seed}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeKMS{aead: a}
}

func (f *fakeKMS) Encrypt(pt, ad []byte) ([]byte, error) {
	f.mu.Lock()
	f.encrypts++
	f.mu.Unlock()
	nonce := make([]byte, f.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return f.aead.Seal(nonce, nonce, pt, ad), nil
}

func (f *fakeKMS) Decrypt(ct, ad []byte) ([]byte, error) {
	f.mu.Lock()
	f.decrypts++
	f.mu.Unlock()
	n := f.aead.NonceSize()
	if len(ct) < n {
		return nil, errors.New("kms: ciphertext too short")
	}
	return f.aead.Open(nil, ct[:n], ct[n:], ad)
}

func (f *fakeKMS) calls() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.encrypts, f.decrypts
}

// TestKMSKEK: a KMS-backed KEK seals the signing keys, and a key is
// unsealed once per process, not at every refresh.
func TestKMSKEK(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	kms := newFakeKMS(t, 9)
	kek, err := kr.KMS(map[int]kr.AEAD{3: kms})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	opt := Options{Purpose: "identity", RotateEvery: time.Hour, TokenTTL: time.Minute, KEK: kek, Now: c.Now}
	m, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if e, d := kms.calls(); e != 1 || d != 0 {
		t.Fatalf("after the first key: %d encrypts, %d decrypts; want 1, 0", e, d)
	}
	m2, err := New(ctx, st, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if m2.Current().KID != m.Current().KID {
		t.Fatal("the second gateway signs with another key")
	}
	for range 3 {
		c.Add(time.Minute)
		if err := m2.refresh(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if e, d := kms.calls(); e != 1 || d != 1 {
		t.Fatalf("after three refreshes: %d encrypts, %d decrypts; want 1, 1", e, d)
	}
	keys, err := st.SigningKeys(ctx, "identity", c.t)
	if err != nil || len(keys) != 1 || binary.BigEndian.Uint32(keys[0].PrivateKey[1:5]) != 3 {
		t.Fatalf("stored %v, %v: want one key sealed by KMS version 3", keys, err)
	}
}

// TestOpenErrors: every way a stored key can fail to open gives an error
// of its kind that says what and where, and never quotes the stored
// bytes.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	g, legacy, v1 := loadGolden(t)
	m := &Manager{opt: Options{Purpose: g.Purpose, KEK: testKEK(t, 1, 2)}}
	var err error
	if m.legacy, err = newLegacyAEAD(legacy); err != nil {
		t.Fatal(err)
	}
	der := mustDER(t, m, g.KID, v1)
	v2, err := m.seal(ctx, g.KID, der)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.open(ctx, g.KID, v2); err != nil {
		t.Fatalf("the key just sealed: %v", err)
	}
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 0x80; return c }
	version := func(b []byte, v uint32) []byte { c := bytes.Clone(b); binary.BigEndian.PutUint32(c[1:5], v); return c }
	noLegacy := &Manager{opt: m.opt}
	for _, tt := range []struct {
		name string
		m    *Manager
		kid  string
		b    []byte
		want error
		says string
	}{
		{"empty", m, g.KID, nil, ErrMalformed, "empty"},
		{"unknown format", m, g.KID, append([]byte{3}, v2[1:]...), ErrMalformed, "unknown format 3"},
		{"format 2 header only", m, g.KID, v2[:5], ErrMalformed, "truncated"},
		{"format 2 truncated", m, g.KID, v2[:20], ErrDecrypt, "truncated"},
		{"format 2 tail cut", m, g.KID, v2[:len(v2)-1], ErrDecrypt, "version 2"},
		{"format 2 version 0", m, g.KID, version(v2, 0), ErrMalformed, "out of range"},
		{"format 2 version not loaded", m, g.KID, version(v2, 9), ErrKEKVersion, "version 9"},
		{"format 2 relabelled version", m, g.KID, version(v2, 1), ErrDecrypt, "version 1"},
		{"format 2 tampered nonce", m, g.KID, flip(v2, 6), ErrDecrypt, ""},
		{"format 2 tampered ciphertext", m, g.KID, flip(v2, 40), ErrDecrypt, ""},
		{"format 2 tampered tag", m, g.KID, flip(v2, len(v2)-1), ErrDecrypt, ""},
		{"format 2 another kid", m, "another", v2, ErrDecrypt, ""},
		{"format 2 another KEK", &Manager{opt: Options{Purpose: g.Purpose, KEK: testKEK(t, 1, 3)}}, g.KID, v2, ErrDecrypt, ""},
		{"format 1 truncated", m, g.KID, v1[:20], ErrMalformed, "truncated"},
		{"format 1 tampered", m, g.KID, flip(v1, 30), ErrDecrypt, "legacy"},
		{"format 1 another kid", m, "another", v1, ErrDecrypt, "legacy"},
		{"format 1 without the legacy key", noLegacy, g.KID, v1, ErrNoLegacyKEK, "kek_file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.m.open(ctx, tt.kid, tt.b)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
			assertNoQuote(t, err, tt.b, der)
		})
	}
}

func mustDER(t *testing.T, m *Manager, kid string, b []byte) []byte {
	t.Helper()
	s, err := parseSealed(b)
	if err != nil {
		t.Fatal(err)
	}
	der, err := m.openLegacy(kid, s.body)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// assertNoQuote fails when err's text holds any 8-byte run of the stored
// bytes or of the key, raw or in base64 or hex.
func assertNoQuote(t testing.TB, err error, secrets ...[]byte) {
	t.Helper()
	msg := err.Error()
	for _, s := range secrets {
		for i := 0; i+8 <= len(s); i += 4 {
			run := s[i : i+8]
			if strings.Contains(msg, string(run)) || strings.Contains(msg, base64.StdEncoding.EncodeToString(run)[:10]) ||
				strings.Contains(msg, base64.RawURLEncoding.EncodeToString(run)[:10]) || strings.Contains(msg, hexOf(run)) {
				t.Fatalf("error quotes stored or key bytes: %v", err)
			}
		}
	}
}

func hexOf(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// FuzzOpen: any stored bytes either open to the ECDSA key sealed for this
// row, or fail with an error of one of the documented kinds that does not
// quote them; nothing panics.
func FuzzOpen(f *testing.F) {
	g, legacy, v1 := loadGolden(f)
	m := &Manager{opt: Options{Purpose: g.Purpose, KEK: testKEK(f, 1, 2)}}
	var err error
	if m.legacy, err = newLegacyAEAD(legacy); err != nil {
		f.Fatal(err)
	}
	s, err := parseSealed(v1)
	if err != nil {
		f.Fatal(err)
	}
	der, err := m.openLegacy(g.KID, s.body)
	if err != nil {
		f.Fatal(err)
	}
	v2, err := m.seal(context.Background(), g.KID, der)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v1)
	f.Add(v2)
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 9, 1, 2, 3})
	f.Add([]byte{1, 0})
	f.Add(v2[:5])
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := m.open(context.Background(), g.KID, b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrKEKVersion) && !errors.Is(err, ErrDecrypt) &&
				!strings.Contains(err.Error(), "decrypted key") {
				t.Fatalf("error of no documented kind: %v", err)
			}
			if len(b) >= 8 && strings.Contains(err.Error(), string(b)) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if k == nil || k.Curve == nil {
			t.Fatal("opened to no key")
		}
	})
}
