// Package signing owns the keys Rampart signs with: ES256 key pairs made on
// a schedule, kept in the state store so that every gateway of a cluster
// signs with and publishes the same keys, their private halves encrypted
// at rest with a key-encryption key (AES-256-GCM, bound to the key id), and
// the JSON Web Key Set that publishes their public halves.
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
	"context"
	"crypto"
	"crypto/aes"
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

	"github.com/rampart-gw/rampart/internal/secretfile"
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
	// KEK is the 32-byte key-encryption key.
	KEK []byte
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives rotation notices and store failures.
	Logger *slog.Logger
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
	st   *store.Store
	opt  Options
	aead cipher.AEAD
	cur  atomic.Pointer[keyring]

	stop chan struct{}
	done chan struct{}
	once sync.Once

	lastRefresh atomic.Int64 // unix ns of the last on-demand refresh
	refreshMu   sync.Mutex   // one refresh at a time: never two new keys at once
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
	if len(opt.KEK) != 32 {
		return nil, errors.New("signing: the key-encryption key must be 32 bytes")
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
	block, err := aes.NewCipher(opt.KEK)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	m := &Manager{st: st, opt: opt, aead: aead, stop: make(chan struct{}), done: make(chan struct{})}
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	go m.loop(context.WithoutCancel(ctx)) // outlives New's caller; Close stops it
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
	m.once.Do(func() { close(m.stop) })
	<-m.done
	return nil
}

func (m *Manager) loop(base context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.opt.Refresh)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			// Each store call is bounded by store.timeout; this bounds
			// the whole reread. The keys in memory keep signing, and the
			// next tick tries again.
			ctx, cancel := context.WithTimeout(base, 30*time.Second)
			m.logFailure(m.refresh(ctx))
			cancel()
		}
	}
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
	fresh, trusted := false, 0
	var lastErr error
	for i := range keys {
		if _, err := m.verifyRow(&keys[i]); err != nil {
			lastErr = err // an untrusted row must not hold off rotation
			continue
		}
		trusted++
		if keys[i].RetireAt.After(horizon) {
			fresh = true
		}
	}
	if len(keys) > 0 && trusted == 0 {
		// Most likely another gateway's kek_file: making keys of our own
		// would split the cluster into gateways that refuse each other's
		// tokens.
		return fmt.Errorf("signing: none of the %d stored %s keys opens with this key-encryption key (every gateway needs the same kek_file): %w",
			len(keys), m.opt.Purpose, lastErr)
	}
	if !fresh {
		k, err := m.create(ctx, now)
		if err != nil {
			return err
		}
		m.opt.Logger.Info("signing keys: new key", "purpose", m.opt.Purpose, "kid", k.KID)
		keys = append([]store.SigningKey{k}, keys...)
	}
	ring, err := m.ring(keys, now)
	if err != nil {
		return err
	}
	m.cur.Store(ring)
	return nil
}

func (m *Manager) create(ctx context.Context, now time.Time) (store.SigningKey, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("signing: generating a key: %w", err)
	}
	pub := jose.JSONWebKey{Key: &priv.PublicKey, Algorithm: string(jose.ES256), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("signing: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	pubJSON, err := pub.MarshalJSON()
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("signing: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return store.SigningKey{}, fmt.Errorf("signing: %w", err)
	}
	retire := now.Add(m.prepublish() + m.opt.RotateEvery)
	k := store.SigningKey{KID: pub.KeyID, Purpose: m.opt.Purpose, Alg: string(jose.ES256), CreatedAt: now,
		RetireAt: retire, ExpiresAt: retire.Add(m.opt.TokenTTL + 5*time.Minute),
		PrivateKey: m.seal(pub.KeyID, der), PublicJWK: string(pubJSON)}
	if err := m.st.CreateSigningKey(ctx, k); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt, k.RetireAt, k.ExpiresAt = k.CreatedAt.Truncate(time.Second), k.RetireAt.Truncate(time.Second), k.ExpiresAt.Truncate(time.Second)
	return k, nil
}

// sealVersion starts every encrypted private key: the format can change.
const sealVersion = 1

func (m *Manager) aad(kid string) []byte {
	return []byte(fmt.Sprintf("rampart signing key v%d|%s|%s", sealVersion, m.opt.Purpose, kid))
}

// seal encrypts a private key: version byte, nonce, AES-256-GCM ciphertext
// with the purpose and kid as associated data, so a stored key cannot be
// moved to another row.
func (m *Manager) seal(kid string, der []byte) []byte {
	nonce := make([]byte, m.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	out := append([]byte{sealVersion}, nonce...)
	return m.aead.Seal(out, nonce, der, m.aad(kid))
}

func (m *Manager) open(kid string, b []byte) (*ecdsa.PrivateKey, error) {
	ns := m.aead.NonceSize()
	if len(b) < 1+ns || b[0] != sealVersion {
		return nil, fmt.Errorf("signing key %s: unknown format", kid)
	}
	der, err := m.aead.Open(nil, b[1:1+ns], b[1+ns:], m.aad(kid))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: cannot be decrypted with this key-encryption key", kid)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", kid, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: not an ECDSA key", kid)
	}
	return ec, nil
}

// verifyRow opens a stored key and checks that its public half and its kid
// (the RFC 7638 thumbprint) are those of the sealed private key.
func (m *Manager) verifyRow(k *store.SigningKey) (*ecdsa.PrivateKey, error) {
	priv, err := m.open(k.KID, k.PrivateKey)
	if err != nil {
		return nil, err
	}
	var pub jose.JSONWebKey
	if err := json.Unmarshal([]byte(k.PublicJWK), &pub); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	ep, ok := pub.Key.(*ecdsa.PublicKey)
	if !ok || !ep.Equal(&priv.PublicKey) {
		return nil, errors.New("the public key is not the sealed key's")
	}
	tp, err := (&jose.JSONWebKey{Key: &priv.PublicKey}).Thumbprint(crypto.SHA256)
	if err != nil || base64.RawURLEncoding.EncodeToString(tp) != k.KID {
		return nil, errors.New("the kid is not the key's thumbprint")
	}
	return priv, nil
}

// ring builds the in-memory view: the newest key that has been published
// for prepublish signs (or the newest, at first start); every stored key
// is published.
func (m *Manager) ring(keys []store.SigningKey, now time.Time) (*keyring, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	var signing, newest *store.SigningKey
	privs := map[string]*ecdsa.PrivateKey{}
	var untrusted error
	for i := range keys {
		k := &keys[i]
		// A row is published only if its sealed private half opens with
		// the KEK and is the key its public half and kid claim: anyone who
		// can write to the store, but lacks the KEK, cannot slip in a key
		// of their own.
		priv, err := m.verifyRow(k)
		if err != nil {
			untrusted = fmt.Errorf("signing key %s: %w", k.KID, err)
			m.opt.Logger.Error("signing keys: a stored key is not trusted and not published", "purpose", m.opt.Purpose, "kid", k.KID, "error", err)
			continue
		}
		privs[k.KID] = priv
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
	if signing == nil && untrusted != nil {
		return nil, untrusted // every key failed: most likely another kek_file
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

// LoadOrCreateKEK reads a 32-byte key-encryption key (base64) from path,
// or writes a new one there (mode 0600). Of gateways starting at once on
// one file, one creates it and all use its key; a file that is a symlink,
// not regular, or open to group or others is refused (see secretfile).
func LoadOrCreateKEK(path string) ([]byte, error) {
	b, _, err := secretfile.LoadOrCreate(path, newKEK, func(b []byte) error {
		_, err := parseKEK(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("signing KEK: %w", err)
	}
	return parseKEK(b)
}

func newKEK() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return []byte(base64.StdEncoding.EncodeToString(k) + "\n"), nil
}

// parseKEK decodes a KEK file: standard base64 of 32 bytes, trailing line
// ends and spaces allowed.
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
