package signing

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/secretfile"
	"github.com/rampart-gw/rampart/internal/store"
)

// KEK is the versioned key-encryption key that seals the private keys.
// Package keyring's KEK has this shape (and Keyring.LiveKEK follows the
// keyring's rereads), so the KEK file, environment variable or KMS that
// wraps the data keys seals the signing keys too, and a version added to
// it seals the next signing key. Implementations must be safe for
// concurrent use.
type KEK interface {
	// Current is the version that seals new keys.
	Current() int
	// Has reports whether version v can unseal.
	Has(v int) bool
	// Wrap encrypts plaintext with version v, binding ad.
	Wrap(ctx context.Context, v int, plaintext, ad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap made with version v and the same ad.
	Unwrap(ctx context.Context, v int, wrapped, ad []byte) ([]byte, error)
}

// The sealed formats of a private key (a PKCS #8 DER ECDSA key). Each
// starts with its format byte.
//
// Format 2, what New seals with:
//
//	0x02 || KEK version (4 bytes, big endian) || KEK.Wrap(DER, ad)
//
// where ad is kekAD: the format, the purpose, the kid and the KEK version,
// so a sealed key moved to another row or purpose, or relabelled with
// another KEK version, does not open.
//
// Format 1, sealed by earlier releases and only read:
//
//	0x01 || nonce (12 bytes) || AES-256-GCM(DER) under the 32-byte legacy key
//
// with "rampart signing key v1|PURPOSE|KID" as associated data.
const (
	formatLegacy = 1
	formatKEK    = 2
	kekHeaderLen = 1 + 4
	legacyMinLen = 1 + 12 + 16 // format byte, nonce, tag
)

// Errors of unsealing a stored key. Each says what went wrong without
// quoting the stored bytes or any key.
var (
	// ErrMalformed: the stored bytes are not a sealed key of a format
	// this build reads, or they are truncated.
	ErrMalformed = errors.New("not a well-formed sealed signing key")
	// ErrKEKVersion: the key was sealed by a KEK version this gateway has
	// not loaded (another gateway's newer version, or one that left the
	// KEK source).
	ErrKEKVersion = errors.New("sealed by a key-encryption key version that is not loaded")
	// ErrNoLegacyKEK: the key is in format 1 and no legacy key is loaded.
	ErrNoLegacyKEK = errors.New("sealed in format 1 by the signing-kek of an earlier release, which was not found (kek_file)")
	// ErrDecrypt: the key does not open: another KEK, altered, or moved
	// from another row.
	ErrDecrypt = errors.New("cannot be decrypted with this key-encryption key")
)

// sealed is a parsed stored key.
type sealed struct {
	format  int
	version int    // the KEK version, format 2
	body    []byte // format 1: nonce || ciphertext; format 2: what the KEK wrapped
}

// parseSealed reads the header of a stored key. It never fails on the
// ciphertext itself: that is the AEAD's to judge.
func parseSealed(b []byte) (sealed, error) {
	if len(b) == 0 {
		return sealed{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	switch b[0] {
	case formatLegacy:
		if len(b) < legacyMinLen {
			return sealed{}, fmt.Errorf("%w: format 1, truncated (%d bytes)", ErrMalformed, len(b))
		}
		return sealed{format: formatLegacy, body: b[1:]}, nil
	case formatKEK:
		if len(b) <= kekHeaderLen {
			return sealed{}, fmt.Errorf("%w: format 2, truncated (%d bytes)", ErrMalformed, len(b))
		}
		v := binary.BigEndian.Uint32(b[1:kekHeaderLen])
		if v < 1 || v > math.MaxInt32 {
			return sealed{}, fmt.Errorf("%w: format 2, key-encryption key version %d is out of range", ErrMalformed, v)
		}
		return sealed{format: formatKEK, version: int(v), body: b[kekHeaderLen:]}, nil
	default:
		return sealed{}, fmt.Errorf("%w: unknown format %d", ErrMalformed, b[0])
	}
}

// kekAD is the associated data of a format 2 key: each part with its
// length, so no two (purpose, kid, version) give the same bytes.
func kekAD(purpose, kid string, version int) []byte {
	b := make([]byte, 0, 48+len(purpose)+len(kid))
	b = append(b, "rampart/signing-key/v2\x00"...)
	for _, s := range []string{purpose, kid} {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	return strconv.AppendInt(append(b, "kek:"...), int64(version), 10)
}

// legacyAD is the associated data of a format 1 key.
func legacyAD(purpose, kid string) []byte {
	return []byte(fmt.Sprintf("rampart signing key v%d|%s|%s", formatLegacy, purpose, kid))
}

// seal encrypts a private key in format 2 with the KEK's current version.
func (m *Manager) seal(ctx context.Context, kid string, der []byte) ([]byte, error) {
	v := m.opt.KEK.Current()
	if v < 1 || v > math.MaxInt32 {
		return nil, fmt.Errorf("sealing signing key %s: key-encryption key version %d is out of range", kid, v)
	}
	wrapped, err := m.opt.KEK.Wrap(ctx, v, der, kekAD(m.opt.Purpose, kid, v))
	if err != nil {
		return nil, fmt.Errorf("sealing signing key %s with key-encryption key version %d: %w", kid, v, err)
	}
	out := make([]byte, kekHeaderLen, kekHeaderLen+len(wrapped))
	out[0] = formatKEK
	binary.BigEndian.PutUint32(out[1:], uint32(v)) // #nosec G115 -- range checked above
	return append(out, wrapped...), nil
}

// open decrypts a stored key of either format. Its errors wrap
// ErrMalformed, ErrKEKVersion, ErrNoLegacyKEK or ErrDecrypt, or say that
// what decrypted is not an ECDSA key; they do not name the kid (callers
// do) and never quote the stored bytes.
func (m *Manager) open(ctx context.Context, kid string, b []byte) (*ecdsa.PrivateKey, error) {
	s, err := parseSealed(b)
	if err != nil {
		return nil, err
	}
	var der []byte
	if s.format == formatLegacy {
		der, err = m.openLegacy(kid, s.body)
	} else {
		der, err = m.openKEK(ctx, kid, s)
	}
	if err != nil {
		return nil, err
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("parsing the decrypted key: %w", err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("the decrypted key is not an ECDSA key")
	}
	return ec, nil
}

func (m *Manager) openKEK(ctx context.Context, kid string, s sealed) ([]byte, error) {
	if !m.opt.KEK.Has(s.version) {
		return nil, fmt.Errorf("%w: version %d (the newest loaded is %d)", ErrKEKVersion, s.version, m.opt.KEK.Current())
	}
	der, err := m.opt.KEK.Unwrap(ctx, s.version, s.body, kekAD(m.opt.Purpose, kid, s.version))
	if err != nil {
		return nil, fmt.Errorf("%w version %d: %w", ErrDecrypt, s.version, err)
	}
	return der, nil
}

func (m *Manager) openLegacy(kid string, body []byte) ([]byte, error) {
	if m.legacy == nil {
		return nil, ErrNoLegacyKEK
	}
	ns := m.legacy.NonceSize()
	der, err := m.legacy.Open(nil, body[:ns], body[ns:], legacyAD(m.opt.Purpose, kid))
	if err != nil {
		return nil, fmt.Errorf("%w: format 1, the legacy signing-kek (another file, or altered, or moved from another row)", ErrDecrypt)
	}
	return der, nil
}

// RewrapResult reports a rewrap of one purpose's signing keys.
type RewrapResult struct {
	// Rewrapped counts the keys this run resealed with the KEK's current
	// version.
	Rewrapped int
	// Remaining counts the keys still sealed by an older KEK version
	// when the run ended, counted again after it: rows that do not open
	// or verify here (the first is reported in the error), and keys a
	// gateway that has not reread the KEK yet sealed meanwhile. Run the
	// rewrap again before an old version leaves the KEK source.
	Remaining int
}

// Rewrap reseals every stored signing key of purpose that an older
// version of kek sealed with kek's current version, as keyring.Rewrap
// does for data keys, so that the old version can leave the KEK source.
// The private keys, kids and lifetimes do not change; each row is
// replaced only if it still holds what was read. A row that does not open
// or is not the key it claims is left alone and counted in Remaining, and
// the first such problem is returned. A row another rewrap moved first is
// not a problem. Keys in format 1 (sealed by an
// earlier release's signing-kek, not by a KEK version) are not touched:
// no KEK version keeps them.
func Rewrap(ctx context.Context, st *store.Store, purpose string, kek KEK, now time.Time) (RewrapResult, error) {
	m := &Manager{st: st, opt: Options{Purpose: purpose, KEK: kek}}
	keys, err := st.SigningKeys(ctx, purpose, now)
	if err != nil {
		return RewrapResult{}, fmt.Errorf("rewrapping %s signing keys: %w", purpose, err)
	}
	cur := kek.Current()
	var res RewrapResult
	var first error
	for i := range keys {
		k := &keys[i]
		v, ok := SealedVersion(k.PrivateKey)
		if !ok || v == cur {
			continue
		}
		resealed, err := m.reseal(ctx, k)
		changed := false
		if err == nil {
			// A miss means the row changed under the run (another
			// rewrap moved it); the recount below judges it.
			changed, err = st.ResealSigningKey(ctx, k.KID, k.PrivateKey, resealed)
		}
		if err != nil {
			if first == nil {
				first = fmt.Errorf("rewrapping %s signing key %s (KEK version %d): %w", purpose, k.KID, v, err)
			}
			continue
		}
		if changed {
			res.Rewrapped++
		}
	}
	left, err := sealedBefore(ctx, st, purpose, cur, now)
	if err != nil && first == nil {
		first = fmt.Errorf("rewrapping %s signing keys: %w", purpose, err)
	}
	res.Remaining = left
	return res, first
}

// sealedBefore counts the stored keys of purpose sealed by a KEK version
// older than cur.
func sealedBefore(ctx context.Context, st *store.Store, purpose string, cur int, now time.Time) (int, error) {
	keys, err := st.SigningKeys(ctx, purpose, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, k := range keys {
		if v, ok := SealedVersion(k.PrivateKey); ok && v < cur {
			n++
		}
	}
	return n, nil
}

// reseal opens and verifies k, then seals its private key with the KEK's
// current version.
func (m *Manager) reseal(ctx context.Context, k *store.SigningKey) ([]byte, error) {
	priv, err := m.verifyRow(ctx, k)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	defer clear(der)
	return m.seal(ctx, k.KID, der)
}

// newLegacyAEAD returns the AES-256-GCM of a legacy key, or nil for none.
func newLegacyAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) == 0 {
		return nil, nil
	}
	if len(key) != 32 {
		return nil, errors.New("signing: the legacy key-encryption key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return aead, nil
}

// LoadLegacyKEK reads the 32-byte key (base64) of a signing-kek file made
// by an earlier release, which sealed signing keys in format 1: with it,
// a gateway upgraded in place keeps signing with and publishing the keys
// it already has. A missing file is no key (nil, nil): it is never
// created, since new keys are sealed with the KEK. A file that is a
// symlink, not regular, or open to group or others is refused (see
// secretfile).
func LoadLegacyKEK(path string) ([]byte, error) {
	b, err := secretfile.Read(path, func(b []byte) error {
		_, err := parseKEK(b)
		return err
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("legacy signing KEK: %w", err)
	}
	return parseKEK(b)
}

// parseKEK decodes a legacy KEK file: standard base64 of 32 bytes,
// trailing line ends and spaces allowed.
func parseKEK(b []byte) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(string(trimSpace(b)))
	if err != nil || len(k) != 32 {
		return nil, errors.New("not a base64 32-byte key")
	}
	return k, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// SealedVersion returns the KEK version a stored private key is sealed
// with, and false for a key not sealed by a KEK (format 1) or malformed.
func SealedVersion(privateKey []byte) (int, bool) {
	if !SealedByKEK(privateKey) || len(privateKey) < kekHeaderLen {
		return 0, false
	}
	return int(binary.BigEndian.Uint32(privateKey[1:kekHeaderLen])), true
}

// SealedByKEK reports whether a stored private key (store.SigningKey's
// PrivateKey) is sealed with a key-encryption key (format 2), so that
// losing that KEK loses the key.
func SealedByKEK(privateKey []byte) bool {
	return len(privateKey) > 0 && privateKey[0] == formatKEK
}
