// Package signing owns the keys Rampart signs with: ES256 key pairs made on
// a schedule, kept in the state store so that every gateway of a cluster
// signs with and publishes the same keys, their private halves sealed at
// rest by the process's versioned key-encryption key (the keyring's KEK:
// a file, an environment variable or a KMS), bound to the purpose and the
// key id, and the JSON Web Key Set that publishes their public halves.
// Keys sealed by earlier releases with a signing key-encryption key of
// their own still open with that key (see LoadLegacyKEK).
//
// A new key is published before it signs (prepublish), and an old key
// stays published after it stops signing for as long as what it signed
// may live (token TTL plus a margin), so a verifier that refreshes its JWKS
// on an unknown kid never sees a token it cannot check.
//
// It does not decide what is signed (package idtoken does) nor serve the
// JWKS (package admin does).
package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/store"
)

// Options configures a Manager.
type Options struct {
	// Purpose separates key sets in the store, such as "identity".
	Purpose string
	// RotateEvery is how long a key signs. Required.
	RotateEvery time.Duration
	// TokenTTL is the longest life of what a key signs: a retired key stays
	// published that long, plus five minutes.
	TokenTTL time.Duration
	// Refresh is how often the store is reread for keys other gateways
	// made, and the schedule checked. Default 1m.
	Refresh time.Duration
	// KEK seals new private keys and opens those it sealed, in any of
	// its versions. Every gateway of a cluster needs the same versions.
	// Required.
	KEK KEK
	// LegacyKEK is the 32-byte key of an earlier release's signing-kek
	// file (LoadLegacyKEK): it only opens the keys that release sealed.
	// Empty: such keys are not trusted.
	LegacyKEK []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives rotation notices and store failures.
	Logger *slog.Logger
	// Background runs the reread; nil gives the Manager a runner of its
	// own on the system clock.
	Background *background.Runner
}

// Key is a usable signing key.
type Key struct {
	// KID is the key id: the RFC 7638 thumbprint of the public key.
	KID string
	// Private signs.
	Private *ecdsa.PrivateKey
}

// Manager keeps the current keys in memory, rereads and rotates them in
// the background. Its methods are safe for concurrent use.
type Manager struct {
	st     *store.Store
	opt    Options
	legacy cipher.AEAD // opens format 1 keys; nil without Options.LegacyKEK
	cur    atomic.Pointer[keyring]

	bg *background.Runner

	lastRefresh atomic.Int64 // unix ns of the last on-demand refresh
	refreshMu   sync.Mutex   // one refresh at a time: never two new keys at once
	// opened holds the stored rows this process has opened and verified,
	// by kid: a row whose bytes have not changed is not unsealed again at
	// the next refresh (with a KMS, each unseal is a remote call).
	opened map[string]openedKey
}

// openedKey is a verified row and its private key.
type openedKey struct {
	sealed []byte
	jwk    string
	priv   *ecdsa.PrivateKey
}

type keyring struct {
	signing Key
	jwks    []byte
}

// prepublish is how long a new key is published before it signs.
func (m *Manager) prepublish() time.Duration {
	return min(m.opt.RotateEvery/10, time.Hour, 2*m.opt.Refresh)
}

// New loads the keys of opt.Purpose, makes one if none can sign, and
// starts the background refresh.
func New(ctx context.Context, st *store.Store, opt Options) (*Manager, error) {
	if opt.RotateEvery <= 0 || opt.TokenTTL <= 0 {
		return nil, errors.New("signing: RotateEvery and TokenTTL are required")
	}
	if opt.KEK == nil {
		return nil, errors.New("signing: a key-encryption key is required")
	}
	if opt.Refresh <= 0 {
		opt.Refresh = time.Minute
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	legacy, err := newLegacyAEAD(opt.LegacyKEK)
	if err != nil {
		return nil, err
	}
	m := &Manager{st: st, opt: opt, legacy: legacy}
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	m.bg = background.Or(opt.Background, opt.Logger).Child() // outlives New's caller; Close stops it
	m.bg.Every("signing keys reread "+opt.Purpose, opt.Refresh, func(ctx context.Context) {
		// Each store call is bounded by store.timeout; this bounds the
		// whole reread. The keys in memory keep signing, and the next
		// turn tries again.
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		m.logFailure(m.refresh(ctx))
	})
	return m, nil
}

// Current returns the key to sign with now.
func (m *Manager) Current() Key { return m.cur.Load().signing }

// JWKS returns the published key set as JSON.
func (m *Manager) JWKS() []byte { return m.cur.Load().jwks }

// RefreshIfStale rereads the keys now, unless it did in the last two
// seconds or a reread is already running: a verifier that meets an
// unknown kid (a key another gateway just made) calls it instead of
// waiting for the next tick. It runs on a request's path, so it never
// queues behind another reread, and the store bounds its own call by
// store.timeout.
func (m *Manager) RefreshIfStale(ctx context.Context) {
	now := m.opt.Now().UnixNano()
	last := m.lastRefresh.Load()
	if now-last < int64(2*time.Second) || !m.lastRefresh.CompareAndSwap(last, now) {
		return
	}
	if !m.refreshMu.TryLock() {
		return // a reread is running; its result is what this one would find
	}
	defer m.refreshMu.Unlock()
	m.logFailure(m.refreshLocked(ctx))
}

// logFailure logs a failed reread: at Debug for a store outage, which the
// store logs once itself.
func (m *Manager) logFailure(err error) {
	switch {
	case err == nil:
	case errors.Is(err, store.ErrUnavailable):
		m.opt.Logger.Debug("signing keys: refresh failed; the keys in memory keep signing", "purpose", m.opt.Purpose, "error", err)
	default:
		m.opt.Logger.Warn("signing keys: refresh failed; the keys in memory keep signing", "purpose", m.opt.Purpose, "error", err)
	}
}

// Close stops the background refresh.
func (m *Manager) Close() error {
	m.bg.Close()
	return nil
}

// refresh rereads the keys, makes a new one when none will be able to sign
// after the next prepublish period, and installs the result.
func (m *Manager) refresh(ctx context.Context) error {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	return m.refreshLocked(ctx)
}

func (m *Manager) refreshLocked(ctx context.Context) error {
	now := m.opt.Now()
	keys, err := m.st.SigningKeys(ctx, m.opt.Purpose, now)
	if err != nil {
		return err
	}
	horizon := now.Add(m.prepublish() + m.opt.Refresh)
	privs, untrusted, why := m.trust(ctx, keys)
	if len(keys) > 0 && len(privs) == 0 {
		// Most likely another gateway's KEK: making keys of our own
		// would split the cluster into gateways that refuse each other's
		// tokens.
		return fmt.Errorf("signing: none of the %d stored %s keys opens with this key-encryption key (every gateway needs the same protect.keys KEK, and the same kek_file for keys sealed by an earlier release): %w",
			len(keys), m.opt.Purpose, untrusted[len(untrusted)-1])
	}
	fresh := false
	var peerKey error
	for i := range keys {
		if !keys[i].RetireAt.After(horizon) {
			continue
		}
		if privs[keys[i].KID] != nil {
			fresh = true
		} else if err := why[keys[i].KID]; sealedElsewhere(err) {
			peerKey = err
		}
	}
	if !fresh && peerKey != nil {
		// A newer key that another gateway made does not open here: a
		// KEK of its own (or a KMS that failed this once). Making a key
		// too would split the cluster into gateways that refuse each
		// other's tokens; the keys in memory keep signing meanwhile.
		return fmt.Errorf("signing: not rotating the %s keys: a newer stored key does not open here (every gateway needs the same protect.keys KEK): %w",
			m.opt.Purpose, peerKey)
	}
	if !fresh {
		// A row that is not well formed or not the key it claims to be
		// does not hold off rotation.
		k, priv, err := m.create(ctx, now)
		if err != nil {
			return err
		}
		m.opt.Logger.Info("signing keys: new key", "purpose", m.opt.Purpose, "kid", k.KID)
		keys = append([]store.SigningKey{k}, keys...)
		privs[k.KID] = priv
		m.opened[k.KID] = openedKey{sealed: k.PrivateKey, jwk: k.PublicJWK, priv: priv}
	}
	for _, err := range untrusted {
		// A row is published only if its sealed private half opens with
		// the KEK and is the key its public half and kid claim: anyone who
		// can write to the store, but lacks the KEK, cannot slip in a key
		// of their own.
		m.opt.Logger.Error("signing keys: a stored key is not trusted and not published", "purpose", m.opt.Purpose, "error", err)
	}
	ring, err := m.ring(keys, privs, untrusted, now)
	if err != nil {
		return err
	}
	m.cur.Store(ring)
	return nil
}

func (m *Manager) create(ctx context.Context, now time.Time) (store.SigningKey, *ecdsa.PrivateKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("signing: generating a key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("signing: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("signing: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("signing: %w", err)
	}
	sealedKey, err := m.seal(ctx, pub.KeyID, der)
	clear(der)
	if err != nil {
		return store.SigningKey{}, nil, fmt.Errorf("signing: %w", err)
	}
	retire := now.Add(m.prepublish() + m.opt.RotateEvery)
	k := store.SigningKey{KID: pub.KeyID, Purpose: m.opt.Purpose, Alg: string(jose.ES256), CreatedAt: now,
		RetireAt: retire, ExpiresAt: retire.Add(m.opt.TokenTTL + 5*time.Minute),
		PrivateKey: sealedKey, PublicJWK: string(pubJSON)}
	if err := m.st.CreateSigningKey(ctx, k); err != nil {
		return store.SigningKey{}, nil, err
	}
	k.CreatedAt, k.RetireAt, k.ExpiresAt = k.CreatedAt.Truncate(time.Second), k.RetireAt.Truncate(time.Second), k.ExpiresAt.Truncate(time.Second)
	return k, priv, nil
}

// trust opens and verifies every row (see verifyRow), reusing what an
// earlier refresh opened when the row has not changed. It returns the
// private keys of the trusted rows, by kid, and why each other row is not
// trusted.
func (m *Manager) trust(ctx context.Context, keys []store.SigningKey) (map[string]*ecdsa.PrivateKey, []error, map[string]error) {
	privs := make(map[string]*ecdsa.PrivateKey, len(keys))
	why := map[string]error{}
	opened := make(map[string]openedKey, len(keys))
	var untrusted []error
	for i := range keys {
		k := &keys[i]
		if o, ok := m.opened[k.KID]; ok && bytes.Equal(o.sealed, k.PrivateKey) && o.jwk == k.PublicJWK {
			privs[k.KID], opened[k.KID] = o.priv, o
			continue
		}
		priv, err := m.verifyRow(ctx, k)
		if o, ok := m.opened[k.KID]; ok && o.jwk == k.PublicJWK && errors.Is(err, ErrKEKVersion) && m.sealedNewer(k.PrivateKey) {
			// Another gateway resealed a key this one has opened with a
			// KEK version newer than any loaded here (rampart keys
			// rewrap): the key is the one verified before, by its kid and
			// public half, so it keeps signing and stays published until
			// the KEK is reread. The new bytes are not remembered, so the
			// next refresh tries them again; each time is logged, so a
			// row overwritten by someone without the KEK does not go
			// unseen.
			v, _ := SealedVersion(k.PrivateKey)
			m.opt.Logger.Warn("signing keys: a stored key was resealed with a key-encryption key version not loaded here; keeping the key verified before until the KEK is reread",
				"purpose", m.opt.Purpose, "kid", k.KID, "kek_version", v, "loaded", m.opt.KEK.Current())
			privs[k.KID], opened[k.KID] = o.priv, o
			continue
		}
		if err != nil {
			untrusted = append(untrusted, fmt.Errorf("signing key %s: %w", k.KID, err))
			why[k.KID] = err
			continue
		}
		privs[k.KID] = priv
		opened[k.KID] = openedKey{sealed: k.PrivateKey, jwk: k.PublicJWK, priv: priv}
	}
	m.opened = opened
	return privs, untrusted, why
}

// sealedNewer reports whether a stored key is sealed by a KEK version
// newer than the newest loaded here.
func (m *Manager) sealedNewer(sealed []byte) bool {
	v, ok := SealedVersion(sealed)
	return ok && v > m.opt.KEK.Current()
}

// sealedElsewhere reports whether err says a row may be a sound key sealed
// by another KEK (or that the KEK could not be asked), rather than a row
// that is malformed or not the key it claims.
func sealedElsewhere(err error) bool {
	if err == nil || errors.Is(err, ErrMalformed) || errors.Is(err, errNotItsKey) {
		return false
	}
	return true
}

// errNotItsKey: a row's public half or kid is not its sealed key's.
var errNotItsKey = errors.New("the row is not the key it claims")

// verifyRow opens a stored key and checks that its public half and its kid
// (the RFC 7638 thumbprint) are those of the sealed private key.
func (m *Manager) verifyRow(ctx context.Context, k *store.SigningKey) (*ecdsa.PrivateKey, error) {
	priv, err := m.open(ctx, k.KID, k.PrivateKey)
	if err != nil {
		return nil, err
	}
	var pub jose.JSONWebKey
	if err := json.Unmarshal([]byte(k.PublicJWK), &pub); err != nil {
		return nil, fmt.Errorf("public key: %w: %w", errNotItsKey, err)
	}
	ep, ok := pub.Key.(*ecdsa.PublicKey)
	if !ok || !ep.Equal(&priv.PublicKey) {
		return nil, fmt.Errorf("the public key is not the sealed key's: %w", errNotItsKey)
	}
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != k.KID {
		return nil, fmt.Errorf("the kid is not the key's thumbprint: %w", errNotItsKey)
	}
	return priv, nil
}

// ring builds the in-memory view: the newest key that has been published
// for prepublish signs (or the newest, at first start); every trusted
// stored key (privs, from trust) is published.
func (m *Manager) ring(keys []store.SigningKey, privs map[string]*ecdsa.PrivateKey, untrusted []error, now time.Time) (*keyring, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	var signing, newest *store.SigningKey
	for i := range keys {
		k := &keys[i]
		priv := privs[k.KID]
		if priv == nil {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: k.KID, Algorithm: string(jose.ES256), Use: "sig"})
		if now.Before(k.RetireAt) { // a trusted key that may sign
			if newest == nil || k.CreatedAt.After(newest.CreatedAt) {
				newest = k
			}
			if !k.CreatedAt.Add(m.prepublish()).After(now) && (signing == nil || k.CreatedAt.After(signing.CreatedAt)) {
				signing = k
			}
		}
	}
	if signing == nil {
		signing = newest
	}
	if signing == nil && len(untrusted) > 0 {
		return nil, untrusted[len(untrusted)-1] // every key failed: most likely another KEK
	}
	if signing == nil {
		return nil, errors.New("signing: no key can sign")
	}
	priv := privs[signing.KID]
	jwks, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	return &keyring{signing: Key{KID: signing.KID, Private: priv}, jwks: jwks}, nil
}
