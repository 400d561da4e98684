package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

// KEK is a key-encryption key with versions: the newest wraps new data
// keys, older ones still unwrap the keys they wrapped until a rewrap moves
// them to the newest. Implementations are safe for concurrent use.
type KEK interface {
	// Current is the version that wraps new data keys.
	Current() int
	// Has reports whether version v can unwrap.
	Has(v int) bool
	// Wrap encrypts a data key with version v, binding ad.
	Wrap(ctx context.Context, v int, dek, ad []byte) ([]byte, error)
	// Unwrap decrypts what Wrap made with version v and the same ad.
	Unwrap(ctx context.Context, v int, wrapped, ad []byte) ([]byte, error)
}

// AEAD is what a KMS client offers for each of its keys. Tink's tink.AEAD
// has this shape, so a Tink KMS AEAD (AWS KMS, GCP KMS, HashiCorp Vault)
// plugs in through KMS without Rampart depending on any of them.
type AEAD interface {
	Encrypt(plaintext, associatedData []byte) ([]byte, error)
	Decrypt(ciphertext, associatedData []byte) ([]byte, error)
}

// KMS returns a KEK whose versions are keys held by a KMS: the key
// material never enters Rampart; wrapping and unwrapping are remote calls,
// made only when a data key is created, first used or rewrapped.
func KMS(versions map[int]AEAD) (KEK, error) {
	if len(versions) == 0 {
		return nil, errors.New("kms: at least one key version is required")
	}
	k := &kmsKEK{keys: versions}
	for v := range versions {
		if v < 1 {
			return nil, fmt.Errorf("kms: key version %d: versions start at 1", v)
		}
		k.cur = max(k.cur, v)
	}
	return k, nil
}

type kmsKEK struct {
	keys map[int]AEAD
	cur  int
}

func (k *kmsKEK) Current() int   { return k.cur }
func (k *kmsKEK) Has(v int) bool { _, ok := k.keys[v]; return ok }

func (k *kmsKEK) Wrap(_ context.Context, v int, dek, ad []byte) ([]byte, error) {
	a, ok := k.keys[v]
	if !ok {
		return nil, fmt.Errorf("kms: no key-encryption key version %d", v)
	}
	return a.Encrypt(dek, ad)
}

func (k *kmsKEK) Unwrap(_ context.Context, v int, wrapped, ad []byte) ([]byte, error) {
	a, ok := k.keys[v]
	if !ok {
		return nil, fmt.Errorf("kms: no key-encryption key version %d", v)
	}
	return a.Decrypt(wrapped, ad)
}

// localKEK holds the KEK versions in memory, as AES-256-GCM keys.
type localKEK struct {
	keys map[int]cipher.AEAD
	fps  map[int][32]byte // SHA-256 of each version's key: a reread must not change one
	cur  int
}

// fingerprinter is a KEK that can tell whether a version's key material
// changed between two loads.
type fingerprinter interface {
	fingerprints() map[int][32]byte
}

func (k *localKEK) fingerprints() map[int][32]byte { return k.fps }

func (k *localKEK) Current() int   { return k.cur }
func (k *localKEK) Has(v int) bool { _, ok := k.keys[v]; return ok }

// Wrap returns nonce || AES-256-GCM(dek, ad).
func (k *localKEK) Wrap(_ context.Context, v int, dek, ad []byte) ([]byte, error) {
	a, ok := k.keys[v]
	if !ok {
		return nil, fmt.Errorf("no key-encryption key version %d", v)
	}
	nonce := make([]byte, a.NonceSize(), a.NonceSize()+len(dek)+a.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return a.Seal(nonce, nonce, dek, ad), nil
}

func (k *localKEK) Unwrap(_ context.Context, v int, wrapped, ad []byte) ([]byte, error) {
	a, ok := k.keys[v]
	if !ok {
		return nil, fmt.Errorf("no key-encryption key version %d", v)
	}
	if len(wrapped) < a.NonceSize()+a.Overhead() {
		return nil, errors.New("wrapped key is truncated")
	}
	n := a.NonceSize()
	dek, err := a.Open(nil, wrapped[:n], wrapped[n:], ad)
	if err != nil {
		return nil, errors.New("wrapped key does not authenticate under this key-encryption key")
	}
	return dek, nil
}

// ParseKEK reads KEK versions, one per line (or separated by commas, for
// an environment variable) as "VERSION:BASE64", where BASE64 is 32 random
// bytes in standard base64. Blank lines and lines starting with # are
// skipped. The highest version is current. where names the source in
// errors, which never quote key material.
func ParseKEK(text []byte, where string) (KEK, error) {
	k, err := parseKEK(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return k, nil
}

// parseKEK is ParseKEK with errors that do not name the source.
func parseKEK(text []byte) (*localKEK, error) {
	k := &localKEK{keys: map[int]cipher.AEAD{}, fps: map[int][32]byte{}}
	entry := 0
	for _, line := range strings.Split(string(text), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, e := range strings.Split(line, ",") {
			entry++
			if err := k.add(strings.TrimSpace(e), entry); err != nil {
				return nil, err
			}
		}
	}
	if len(k.keys) == 0 {
		return nil, errors.New("no key-encryption key in it")
	}
	return k, nil
}

func (k *localKEK) add(e string, entry int) error {
	vs, b64, ok := strings.Cut(e, ":")
	if !ok {
		return fmt.Errorf("entry %d: want VERSION:BASE64", entry)
	}
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 || v > 1<<20 {
		return fmt.Errorf("entry %d: version must be a number from 1", entry)
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return fmt.Errorf("entry %d (version %d): key must be 32 bytes in standard base64", entry, v)
	}
	if _, dup := k.keys[v]; dup {
		return fmt.Errorf("entry %d: version %d appears twice", entry, v)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return fmt.Errorf("entry %d: %w", entry, err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("entry %d: %w", entry, err)
	}
	k.keys[v] = a
	k.fps[v] = sha256.Sum256(raw)
	k.cur = max(k.cur, v)
	return nil
}

// LoadKEKFile reads a KEK file (see ParseKEK). With create, a missing file
// is made with one fresh version, mode 0600; of gateways starting at once,
// one makes it and every one reads that file. A file that is a symlink,
// not regular, or open to group or others is refused (see secretfile).
func LoadKEKFile(path string, create bool) (KEK, error) {
	var k *localKEK
	valid := func(b []byte) error {
		var err error
		k, err = parseKEK(b)
		return err
	}
	var err error
	if create {
		_, _, err = secretfile.LoadOrCreate(path, newKEKFile, valid)
	} else {
		_, err = secretfile.Read(path, valid)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the KEK file: %w", err)
	}
	return k, nil
}

// newKEKFile is the content of a new KEK file: a comment and version 1.
func newKEKFile() ([]byte, error) {
	line, err := NewKEKLine(1)
	if err != nil {
		return nil, err
	}
	return []byte("# rampart key-encryption key versions: VERSION:BASE64, the highest wraps new data keys\n" + line + "\n"), nil
}

// KEKFromEnv reads KEK versions from an environment variable (see
// ParseKEK; commas separate versions).
func KEKFromEnv(name string) (KEK, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("environment variable %s is not set", name)
	}
	return ParseKEK([]byte(v), "$"+name)
}

// NewKEKLine returns a new KEK version as a line for a KEK file.
func NewKEKLine(version int) (string, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("generating a key-encryption key: %w", err)
	}
	return strconv.Itoa(version) + ":" + base64.StdEncoding.EncodeToString(raw[:]), nil
}

// AddKEKVersion appends a new version to a KEK file, one above its
// highest, and returns it. The old versions stay: they unwrap the data
// keys until a rewrap moves them to the new one.
func AddKEKVersion(path string) (int, error) {
	var k *localKEK
	b, err := secretfile.Read(path, func(b []byte) error {
		var err error
		k, err = parseKEK(b)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reading the KEK file: %w", err)
	}
	v := k.Current() + 1
	line, err := NewKEKLine(v)
	if err != nil {
		return 0, err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		line = "\n" + line
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- the operator names the KEK file
	if err != nil {
		return 0, fmt.Errorf("opening the KEK file: %w", err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		_ = f.Close()
		return 0, fmt.Errorf("writing the KEK file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return 0, fmt.Errorf("writing the KEK file: %w", err)
	}
	return v, f.Close()
}
