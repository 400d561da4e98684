// Package apikey owns Rampart's API keys: their format, the keyed hash that
// is all the store ever holds, and their life cycle (create, rotate with a
// grace window, revoke).
//
// A key reads rpk_<id>_<secret><check>: a recognizable prefix and a CRC32
// checksum, as GitHub's tokens have, so that secret scanners can find leaked
// keys and the gateway can refuse a mistyped or random one before touching
// the store; a public id (12 base62 characters) to look the key up; and a
// secret of 32 base62 characters (190 bits). The store keeps only
// HMAC-SHA256(pepper, secret), the pepper being a 256-bit key outside the
// store (data_dir/apikey-pepper), so a stolen database alone yields nothing
// to replay or brute-force. Secrets are compared in constant time, and an
// unknown id costs the same work as a wrong secret and gets the same answer.
package apikey

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"net/netip"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/secretfile"
	"github.com/rampart-gw/rampart/internal/store"
)

// Prefix starts every Rampart API key.
const Prefix = "rpk_"

const (
	idLen     = 12
	secretLen = 32
	checkLen  = 6
	// Len is the length of a key.
	Len = len(Prefix) + idLen + 1 + secretLen + checkLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// ErrMalformed is returned by Parse for anything that is not a well-formed
// key with a valid checksum.
var ErrMalformed = errors.New("malformed api key")

func randomBase62(n int) (string, error) {
	b := make([]byte, n)
	max := big.NewInt(int64(len(base62)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", err
		}
		b[i] = base62[v.Int64()]
	}
	return string(b), nil
}

func checksum(body string) string {
	n := crc32.ChecksumIEEE([]byte(body))
	b := make([]byte, checkLen)
	for i := checkLen - 1; i >= 0; i-- {
		b[i] = base62[n%62]
		n /= 62
	}
	return string(b)
}

// Generate returns a new key and its id and secret.
func Generate() (key, id, secret string, err error) {
	if id, err = randomBase62(idLen); err != nil {
		return "", "", "", err
	}
	if secret, err = randomBase62(secretLen); err != nil {
		return "", "", "", err
	}
	body := Prefix + id + "_" + secret
	return body + checksum(body), id, secret, nil
}

// Parse splits a key into its id and secret, checking its shape and
// checksum.
func Parse(key string) (id, secret string, err error) {
	if len(key) != Len || !strings.HasPrefix(key, Prefix) || key[len(Prefix)+idLen] != '_' {
		return "", "", ErrMalformed
	}
	for i := len(Prefix); i < len(key); i++ {
		if i == len(Prefix)+idLen {
			continue
		}
		if strings.IndexByte(base62, key[i]) < 0 {
			return "", "", ErrMalformed
		}
	}
	body := key[:len(key)-checkLen]
	if !hmac.Equal([]byte(checksum(body)), []byte(key[len(key)-checkLen:])) {
		return "", "", ErrMalformed
	}
	return key[len(Prefix) : len(Prefix)+idLen], key[len(Prefix)+idLen+1 : len(key)-checkLen], nil
}

// Hasher computes the keyed hash of secrets. It is safe for concurrent use.
type Hasher struct {
	pepper []byte
}

// LoadOrCreatePepper reads the pepper from path, or creates a random one
// (32 bytes, mode 0600) when the file does not exist. Of gateways starting
// at once on one file, one creates it and all use its pepper; a file that
// is a symlink, not regular, or open to group or others is refused (see
// secretfile).
func LoadOrCreatePepper(path string) (*Hasher, error) {
	p, _, err := secretfile.LoadOrCreate(path, newPepper, validPepper)
	if err != nil {
		return nil, fmt.Errorf("api key pepper: %w", err)
	}
	return &Hasher{pepper: p}, nil
}

func newPepper() ([]byte, error) {
	p := make([]byte, 32)
	if _, err := rand.Read(p); err != nil {
		return nil, err
	}
	return p, nil
}

// validPepper accepts any pepper of at least 256 bits.
func validPepper(b []byte) error {
	if len(b) < 32 {
		return errors.New("shorter than 32 bytes")
	}
	return nil
}

// Hash returns HMAC-SHA256(pepper, secret).
func (h *Hasher) Hash(secret string) []byte {
	m := hmac.New(sha256.New, h.pepper)
	m.Write([]byte(secret))
	return m.Sum(nil)
}

// dummy is compared against when a key id is unknown, so that an unknown
// id costs the same as a wrong secret.
var dummy = make([]byte, sha256.Size)

// Outcome is what Check decided about a presented key.
type Outcome int

// The outcomes of Check.
const (
	Valid Outcome = iota
	BadCredentials
	Revoked
	Expired
	AddressNotAllowed
)

// Check decides whether secret opens the stored key k (found is false when
// no key has the presented id) for a client at ip at time now. It does the
// same work whether or not the key exists.
func (h *Hasher) Check(k store.APIKey, found bool, secret string, ip netip.Addr, now time.Time) Outcome {
	got := h.Hash(secret)
	want := k.Hash
	if !found {
		want = dummy
	}
	current := hmac.Equal(got, want)
	prev := found && len(k.PrevHash) > 0 && hmac.Equal(got, k.PrevHash) && now.Before(k.PrevValidUntil)
	switch {
	case !found || (!current && !prev):
		return BadCredentials
	case !k.RevokedAt.IsZero():
		return Revoked
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return Expired
	case len(k.CIDRs) > 0 && !inAny(ip, k.CIDRs):
		return AddressNotAllowed
	}
	return Valid
}

func inAny(ip netip.Addr, cidrs []string) bool {
	for _, c := range cidrs {
		if p, err := netip.ParsePrefix(c); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// MaxGrace bounds how long a rotated secret keeps working.
const MaxGrace = 30 * 24 * time.Hour

// SpecError is a key specification that cannot be created (no subject, a
// bad CIDR): the caller's mistake, unlike a store failure.
type SpecError struct{ msg string }

func (e *SpecError) Error() string { return e.msg }

// Spec describes a key to create.
type Spec struct {
	Name    string
	Subject string
	Roles   []string
	Scopes  []string
	CIDRs   []string
	// TTL is the key's lifetime; zero for no expiry.
	TTL time.Duration
}

// Create makes a key, stores its hash and returns the key, shown once.
func Create(ctx context.Context, s *store.Store, h *Hasher, spec Spec, now time.Time) (string, store.APIKey, error) {
	if spec.Subject == "" {
		return "", store.APIKey{}, &SpecError{"an api key needs a subject (its owner)"}
	}
	for _, c := range spec.CIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil || p.Masked() != p {
			return "", store.APIKey{}, &SpecError{fmt.Sprintf("%q is not a CIDR such as 10.0.0.0/8", c)}
		}
	}
	key, id, secret, err := Generate()
	if err != nil {
		return "", store.APIKey{}, err
	}
	rec := store.APIKey{ID: id, Name: spec.Name, Subject: spec.Subject, Roles: spec.Roles, Scopes: spec.Scopes,
		CIDRs: spec.CIDRs, Hash: h.Hash(secret), CreatedAt: now.UTC().Truncate(time.Second)}
	if spec.TTL > 0 {
		rec.ExpiresAt = rec.CreatedAt.Add(spec.TTL)
	}
	if err := s.CreateAPIKey(ctx, rec); err != nil {
		return "", store.APIKey{}, err
	}
	return key, rec, nil
}

// Rotate gives key id a new secret and returns the new key; the old one
// keeps working for grace.
func Rotate(ctx context.Context, s *store.Store, h *Hasher, id string, grace time.Duration, now time.Time) (string, error) {
	if grace < 0 || grace > MaxGrace {
		return "", &SpecError{fmt.Sprintf("grace must be from 0 to %s", MaxGrace)}
	}
	_, secret, err := generateFor(id)
	if err != nil {
		return "", err
	}
	until := time.Time{}
	if grace > 0 {
		until = now.Add(grace)
	}
	if err := s.RotateAPIKey(ctx, id, h.Hash(secret), until); err != nil {
		return "", err
	}
	body := Prefix + id + "_" + secret
	return body + checksum(body), nil
}

func generateFor(id string) (string, string, error) {
	secret, err := randomBase62(secretLen)
	return id, secret, err
}
