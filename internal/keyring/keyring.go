// Package keyring owns envelope encryption: a data key per subject (a user
// or a tenant), made on first use, stored in the state store wrapped by a
// versioned key-encryption key (KEK); AES-256-GCM encryption of values
// with the subject, the field and the key version bound as associated data;
// scheduled and on-demand rotation of data keys; rewrapping every data key
// under a new KEK version without touching the data; and crypto-shredding,
// which deletes a subject's keys so that everything encrypted for them is
// unreadable everywhere at once.
//
// It uses the standard library's AES-GCM (crypto/cipher, constant-time
// with AES-NI) rather than Tink: the data keys must live as rows of
// Rampart's own store with their own versions and use counts, bound to a
// subject, which Tink's keyset format does not model; Tink's KMS clients
// still plug in through the KMS function.
//
// It does not decide which fields are encrypted or who may read them
// (package protect does), nor serve the encryption API (package admin).
package keyring

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/store"
)

// Options configures a Keyring.
type Options struct {
	// LoadKEK returns the key-encryption key. It is called at New and
	// again before a rewrap or when a data key names a KEK version not
	// loaded yet (another gateway wrapped it with a newer one). Required.
	LoadKEK func() (KEK, error)
	// RotateEvery is the age at which a subject's data key is replaced for
	// new encryptions; 0 rotates only on demand or at MaxMessages.
	RotateEvery time.Duration
	// MaxMessages bounds the encryptions per data key: AES-GCM with random
	// 96-bit nonces stays safe to 2^32 messages (NIST SP 800-38D). The key
	// is rotated before it reaches the bound. Default 2^31.
	MaxMessages int64
	// ReserveBlock is how many encryptions a gateway reserves at once in
	// the store's count. Default 1024.
	ReserveBlock int64
	// CacheSize bounds the unwrapped keys held in memory. Default 10000.
	CacheSize int
	// CacheTTL is how long an unwrapped key is used before the store is
	// read again. Default 5m.
	CacheTTL time.Duration
	// ShredPoll is how often the store is asked for subjects shredded by
	// other gateways, whose keys are then dropped from memory, and the KEK
	// reread (LoadKEK). Default 5s.
	ShredPoll time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives background failures.
	Logger *slog.Logger
	// SealedElsewhere counts what else KEK version v seals (the signing
	// keys), so that v cannot leave its source while it is in use; nil
	// counts nothing.
	SealedElsewhere func(ctx context.Context, v int) (int, error)
	// RewrapElsewhere moves what else older KEK versions seal (the
	// signing keys) to kek's current version at the end of Rewrap; it
	// returns how many it moved and how many are left on older versions.
	// nil moves nothing.
	RewrapElsewhere func(ctx context.Context, kek KEK) (moved, left int, err error)
	// Background runs the shred and KEK poll, and its clock paces
	// Rewrap's passes; nil gives the Keyring a runner of its own on the
	// system clock.
	Background *background.Runner
}

// Keyring encrypts and decrypts with per-subject data keys. It is safe for
// concurrent use.
type Keyring struct {
	st  *store.Store
	opt Options
	kek atomic.Pointer[kekHolder]

	keys    *lru.Cache[[keyIDLen]byte, *dataKey] // by key id: decryption
	writers *lru.Cache[string, *writer]          // by subject: encryption
	create  sync.Mutex                           // one key creation at a time in this process
	kekMu   sync.Mutex

	bg *background.Runner
}

type kekHolder struct{ k KEK }

// dataKey is an unwrapped data key.
type dataKey struct {
	id      [keyIDLen]byte
	subject string
	hash    [32]byte // of the subject: matched against shred tombstones
	version int
	created time.Time
	loaded  time.Time
	aead    cipher.AEAD
}

// ErrUnavailable is the store's: an operation failed because the store
// did not answer within store.timeout.
var ErrUnavailable = store.ErrUnavailable

// writer is the key a subject's new encryptions use, with the block of
// uses reserved for this process.
type writer struct {
	mu   sync.Mutex
	key  *dataKey
	next int64 // next use number to take
	end  int64 // first use number not reserved
}

// New opens a keyring on st and starts watching for shreds.
func New(ctx context.Context, st *store.Store, opt Options) (*Keyring, error) {
	if opt.LoadKEK == nil {
		return nil, errors.New("keyring: LoadKEK is required")
	}
	if opt.MaxMessages <= 0 {
		opt.MaxMessages = 1 << 31
	}
	if opt.ReserveBlock <= 0 {
		opt.ReserveBlock = 1024
	}
	opt.ReserveBlock = min(opt.ReserveBlock, opt.MaxMessages)
	if opt.CacheSize <= 0 {
		opt.CacheSize = 10000
	}
	if opt.CacheTTL <= 0 {
		opt.CacheTTL = 5 * time.Minute
	}
	if opt.ShredPoll <= 0 {
		opt.ShredPoll = 5 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	k := &Keyring{st: st, opt: opt}
	var err error
	if k.keys, err = lru.New[[keyIDLen]byte, *dataKey](opt.CacheSize); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if k.writers, err = lru.New[string, *writer](opt.CacheSize); err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	if _, err := k.reloadKEK(); err != nil {
		return nil, err
	}
	k.bg = background.Or(k.opt.Background, k.opt.Logger).Child()
	k.bg.Every("keyring shred and KEK poll", k.opt.ShredPoll, k.poll) // outlives New's caller; Close stops it
	return k, nil
}

// Close stops the shred watcher.
func (k *Keyring) Close() error {
	k.bg.Close()
	return nil
}

// KEK returns the key-encryption key in use.
func (k *Keyring) KEK() KEK { return k.kek.Load().k }

// LiveKEK returns a KEK that is, at every call, the one the keyring has
// loaded, for other holders of the process's KEK (the signing keys): a
// version the keyring rereads from its source (rampart keys kek-add) seals
// from then on, and Has rereads the source once when asked for a version
// not loaded yet (another gateway sealed with a version added since), as
// unwrapping a data key does. It is safe for concurrent use and keeps
// working after Close, without the periodic reread.
func (k *Keyring) LiveKEK() KEK { return liveKEK{k} }

// liveKEK is Keyring.LiveKEK.
type liveKEK struct{ k *Keyring }

func (l liveKEK) Current() int { return l.k.KEK().Current() }

func (l liveKEK) Has(v int) bool {
	if l.k.KEK().Has(v) {
		return true
	}
	kek, err := l.k.reloadKEK()
	return err == nil && kek.Has(v)
}

func (l liveKEK) Wrap(ctx context.Context, v int, dek, ad []byte) ([]byte, error) {
	return l.k.KEK().Wrap(ctx, v, dek, ad)
}

func (l liveKEK) Unwrap(ctx context.Context, v int, wrapped, ad []byte) ([]byte, error) {
	return l.k.KEK().Unwrap(ctx, v, wrapped, ad)
}

func (k *Keyring) reloadKEK() (KEK, error) {
	k.kekMu.Lock()
	defer k.kekMu.Unlock()
	kek, err := k.opt.LoadKEK()
	if err != nil {
		return nil, fmt.Errorf("loading the key-encryption key: %w", err)
	}
	if old := k.kek.Load(); old != nil {
		if err := k.compatible(old.k, kek); err != nil {
			// Keys wrapped by what the source lost would become
			// unreadable: keep what is loaded and say so.
			return nil, err
		}
	}
	k.kek.Store(&kekHolder{kek})
	return kek, nil
}

// compatible checks that a reread KEK can replace the loaded one: it may
// add versions, and drop old ones that no data key uses any more, but not
// lose its newest version nor change a version's key.
func (k *Keyring) compatible(old, cur KEK) error {
	if cur.Current() < old.Current() {
		return fmt.Errorf("the key-encryption key source now ends at version %d, before the loaded %d", cur.Current(), old.Current())
	}
	of, ok1 := old.(fingerprinter)
	nf, ok2 := cur.(fingerprinter)
	if !ok1 || !ok2 {
		return nil
	}
	newFP := nf.fingerprints()
	for v, fp := range of.fingerprints() {
		got, ok := newFP[v]
		if ok && got != fp {
			return fmt.Errorf("key-encryption key version %d changed in its source: a version's key must never change (add a new version instead)", v)
		}
		if !ok {
			n, err := k.keysOn(v)
			if err != nil {
				return fmt.Errorf("key-encryption key version %d left its source, and the store cannot say whether keys use it: %w", v, err)
			}
			if n > 0 {
				return fmt.Errorf("key-encryption key version %d left its source while %d data keys are wrapped by it: put it back and run rampart keys rewrap", v, n)
			}
			if err := k.sealedElsewhere(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// sealedElsewhere refuses to let version v go while Options.SealedElsewhere
// counts something it seals.
func (k *Keyring) sealedElsewhere(v int) error {
	if k.opt.SealedElsewhere == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := k.opt.SealedElsewhere(ctx, v)
	if err != nil {
		return fmt.Errorf("key-encryption key version %d left its source, and the store cannot say whether signing keys use it: %w", v, err)
	}
	if n > 0 {
		return fmt.Errorf("key-encryption key version %d left its source while %d signing keys are sealed by it: put it back and run rampart keys rewrap, which reseals them with the newest version", v, n)
	}
	return nil
}

// keysOn counts the data keys wrapped by KEK version v.
func (k *Keyring) keysOn(v int) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, upTo, err := k.st.CountDataKeys(ctx, v+1)
	if err != nil {
		return 0, err
	}
	_, below, err := k.st.CountDataKeys(ctx, v)
	if err != nil {
		return 0, err
	}
	return upTo - below, nil
}

// Encrypt encrypts plaintext for subject and field with the subject's
// current data key, making the subject's first key if needed, and returns
// the ciphertext in text form (see Prefix).
func (k *Keyring) Encrypt(ctx context.Context, subject, field string, plaintext []byte) (string, error) {
	b, err := k.AppendEncrypt(ctx, nil, subject, field, plaintext)
	return string(b), err
}

// AppendEncrypt is Encrypt appending the ciphertext to dst.
func (k *Keyring) AppendEncrypt(ctx context.Context, dst []byte, subject, field string, plaintext []byte) ([]byte, error) {
	if err := checkNames(subject, field); err != nil {
		return dst, fmt.Errorf("encrypting: %w", err)
	}
	dk, err := k.take(ctx, subject)
	if err != nil {
		return dst, fmt.Errorf("encrypting for a subject: %w", err)
	}
	var nonce [nonceLen]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return dst, fmt.Errorf("encrypting: %w", err)
	}
	return seal(dst, dk, nonce[:], field, plaintext), nil
}

// seal encrypts with a given nonce: Encrypt's nonces are random; tests pass
// fixed ones for known answers.
func seal(dst []byte, dk *dataKey, nonce []byte, field string, plaintext []byte) []byte {
	ct := dk.aead.Seal(nil, nonce, plaintext, fieldAD(dk.subject, field, dk.version, dk.id))
	return encode(dst, dk.id, nonce, ct)
}

// Opened is what Decrypt learns besides the plaintext.
type Opened struct {
	// Subject is whom the value was encrypted for.
	Subject string
	// Version is the data key version that encrypted it.
	Version int
}

// Decrypt decrypts a ciphertext of field. With a non-empty subject, a
// ciphertext made for anyone else is refused (ErrWrongSubject). Errors
// wrap ErrMalformed, ErrKeyGone, ErrWrongSubject or ErrAuthentication.
func (k *Keyring) Decrypt(ctx context.Context, subject, field, ciphertext string) ([]byte, Opened, error) {
	c, err := parse(ciphertext)
	if err != nil {
		return nil, Opened{}, err
	}
	if len(field) > MaxField {
		return nil, Opened{}, fmt.Errorf("decrypting: %w: the field name is longer than %d bytes", ErrBadName, MaxField)
	}
	dk, err := k.key(ctx, c.keyID)
	if err != nil {
		return nil, Opened{}, err
	}
	if subject != "" && subject != dk.subject {
		return nil, Opened{}, ErrWrongSubject
	}
	pt, err := dk.aead.Open(nil, c.nonce, c.ct, fieldAD(dk.subject, field, dk.version, dk.id))
	if err != nil {
		return nil, Opened{}, ErrAuthentication
	}
	return pt, Opened{Subject: dk.subject, Version: dk.version}, nil
}

// Reencrypt decrypts a ciphertext and encrypts it again with the subject's
// current data key (Vault transit's rewrap): how data leaves an old key
// version.
func (k *Keyring) Reencrypt(ctx context.Context, subject, field, ciphertext string) (string, error) {
	pt, o, err := k.Decrypt(ctx, subject, field, ciphertext)
	if err != nil {
		return "", err
	}
	defer clear(pt)
	return k.Encrypt(ctx, o.Subject, field, pt)
}

// key returns the unwrapped data key with the given id, from memory or
// the store.
func (k *Keyring) key(ctx context.Context, id [keyIDLen]byte) (*dataKey, error) {
	now := k.opt.Now()
	if dk, ok := k.keys.Get(id); ok && now.Sub(dk.loaded) < k.opt.CacheTTL {
		return dk, nil
	}
	row, err := k.st.DataKey(ctx, keyIDString(id))
	if errors.Is(err, store.ErrNotFound) {
		k.keys.Remove(id)
		return nil, ErrKeyGone
	}
	if err != nil {
		return nil, err
	}
	dk, err := k.unwrap(ctx, row)
	if err != nil {
		return nil, err
	}
	k.keys.Add(id, dk)
	return dk, nil
}

// unwrap turns a stored row into a usable key.
func (k *Keyring) unwrap(ctx context.Context, row store.DataKey) (*dataKey, error) {
	id, err := parseKeyID(row.KeyID)
	if err != nil {
		return nil, err
	}
	kek := k.KEK()
	if !kek.Has(row.KEKVersion) {
		// Another gateway may have wrapped it with a version added since.
		if kek, err = k.reloadKEK(); err != nil {
			return nil, err
		}
		if !kek.Has(row.KEKVersion) {
			return nil, fmt.Errorf("data key %s is wrapped by key-encryption key version %d, which is not loaded", row.KeyID, row.KEKVersion)
		}
	}
	raw, err := kek.Unwrap(ctx, row.KEKVersion, row.Wrapped, wrapAD(row.Subject, row.Version, id))
	if err != nil {
		return nil, fmt.Errorf("unwrapping data key %s: %w", row.KeyID, err)
	}
	defer clear(raw)
	return newDataKey(id, row, raw, k.opt.Now())
}

func newDataKey(id [keyIDLen]byte, row store.DataKey, raw []byte, now time.Time) (*dataKey, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("data key %s is %d bytes, not 32", row.KeyID, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &dataKey{id: id, subject: row.Subject, hash: sha256.Sum256([]byte(row.Subject)), version: row.Version,
		created: row.CreatedAt, loaded: now, aead: a}, nil
}

// take returns the key for one new encryption of subject, counting the
// use, rotating first when the key is due (age or message bound).
func (k *Keyring) take(ctx context.Context, subject string) (*dataKey, error) {
	w, ok := k.writers.Get(subject)
	if !ok {
		nw := &writer{}
		if prev, found, _ := k.writers.PeekOrAdd(subject, nw); found {
			w = prev
		} else {
			w = nw
		}
	}
	// One deadline for the wait on w and the store calls under it: the
	// requests queued behind one that waits on a silent store fail with
	// it, rather than each waiting its own store.timeout after the one
	// before.
	ctx, cancel := context.WithTimeout(ctx, k.st.Timeout())
	defer cancel()
	w.mu.Lock()
	defer w.mu.Unlock()
	now := k.opt.Now()
	if w.key != nil && now.Sub(w.key.loaded) >= k.opt.CacheTTL {
		w.key = nil // reread: another gateway may have rotated or shredded
	}
	if w.key != nil && k.opt.RotateEvery > 0 && now.Sub(w.key.created) >= k.opt.RotateEvery {
		w.key = nil
	}
	if w.key == nil {
		dk, err := k.current(ctx, subject, now)
		if err != nil {
			return nil, err
		}
		w.key, w.next, w.end = dk, 0, 0
	}
	if w.next >= w.end {
		if err := k.reserve(ctx, w, now); err != nil {
			return nil, err
		}
	}
	w.next++
	return w.key, nil
}

// reserve takes the next block of uses of w's key, rotating the key when
// the block would pass MaxMessages.
func (k *Keyring) reserve(ctx context.Context, w *writer, now time.Time) error {
	for range 3 {
		used, err := k.st.ReserveDataKeyUses(ctx, keyIDString(w.key.id), k.opt.ReserveBlock)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// Shredded meanwhile: new data gets a new key.
			dk, err := k.current(ctx, w.key.subject, now)
			if err != nil {
				return err
			}
			w.key = dk
		case err != nil:
			return err
		case used <= k.opt.MaxMessages:
			w.next, w.end = used-k.opt.ReserveBlock, used
			return nil
		default:
			// The block would pass the bound: the next version takes over.
			dk, err := k.rotate(ctx, w.key.subject, w.key.version, now)
			if err != nil {
				return err
			}
			w.key = dk
		}
	}
	return errors.New("could not reserve encryptions for the data key")
}

// current returns the subject's newest key, making version 1 (or the next
// version, when the newest is due for rotation) if needed.
func (k *Keyring) current(ctx context.Context, subject string, now time.Time) (*dataKey, error) {
	row, err := k.st.CurrentDataKey(ctx, subject)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return k.rotate(ctx, subject, 0, now)
	case err != nil:
		return nil, err
	case row.Used >= k.opt.MaxMessages || (k.opt.RotateEvery > 0 && now.Sub(row.CreatedAt) >= k.opt.RotateEvery):
		return k.rotate(ctx, subject, row.Version, now)
	}
	id, err := parseKeyID(row.KeyID)
	if err != nil {
		return nil, err
	}
	if dk, ok := k.keys.Get(id); ok && now.Sub(dk.loaded) < k.opt.CacheTTL {
		return dk, nil
	}
	dk, err := k.unwrap(ctx, row)
	if err != nil {
		return nil, err
	}
	k.keys.Add(id, dk)
	return dk, nil
}

// rotate makes version after+1 of subject's key, unless another gateway
// made it first, in which case that one is used.
func (k *Keyring) rotate(ctx context.Context, subject string, after int, now time.Time) (*dataKey, error) {
	k.create.Lock()
	defer k.create.Unlock()
	var raw [32]byte
	defer clear(raw[:])
	var id [keyIDLen]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	if _, err := rand.Read(id[:]); err != nil {
		return nil, err
	}
	kek := k.KEK()
	v := after + 1
	wrapped, err := kek.Wrap(ctx, kek.Current(), raw[:], wrapAD(subject, v, id))
	if err != nil {
		return nil, fmt.Errorf("wrapping a new data key: %w", err)
	}
	row := store.DataKey{KeyID: keyIDString(id), Subject: subject, Version: v, KEKVersion: kek.Current(),
		Wrapped: wrapped, CreatedAt: now.UTC().Truncate(time.Second)}
	err = k.st.CreateDataKey(ctx, row)
	if errors.Is(err, store.ErrExists) {
		// Lost a race with another gateway: use the winner's key.
		cur, err := k.st.CurrentDataKey(ctx, subject)
		if err != nil {
			return nil, err
		}
		dk, err := k.unwrap(ctx, cur)
		if err != nil {
			return nil, err
		}
		k.keys.Add(dk.id, dk)
		return dk, nil
	}
	if err != nil {
		return nil, err
	}
	dk, err := newDataKey(id, row, raw[:], k.opt.Now())
	if err != nil {
		return nil, err
	}
	k.keys.Add(id, dk)
	return dk, nil
}

// Rotate makes a new data key version for subject now: new encryptions use
// it, older versions still decrypt. It returns the new version.
func (k *Keyring) Rotate(ctx context.Context, subject string) (int, error) {
	if err := checkNames(subject, ""); err != nil {
		return 0, fmt.Errorf("rotating: %w", err)
	}
	after := 0
	row, err := k.st.CurrentDataKey(ctx, subject)
	if err == nil {
		after = row.Version
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	dk, err := k.rotate(ctx, subject, after, k.opt.Now())
	if err != nil {
		return 0, err
	}
	k.writers.Remove(subject)
	return dk.version, nil
}

// RewrapResult reports a KEK rewrap.
type RewrapResult struct {
	// KEKVersion is the current KEK version, which the keys are moved to.
	KEKVersion int `json:"kek_version"`
	// Rewrapped counts the keys this run changed; Total counts all keys.
	Rewrapped int64 `json:"rewrapped"`
	Total     int64 `json:"total"`
	// Remaining counts the keys still wrapped by an older version when
	// the run ended (a gateway that has not reread the KEK yet made them):
	// run it again before an old version leaves the KEK source.
	Remaining int64 `json:"remaining"`
	// SigningKeysResealed and SigningKeysRemaining count the signing
	// keys (Options.RewrapElsewhere) moved to KEKVersion and those still
	// sealed by an older version.
	SigningKeysResealed  int `json:"signing_keys_resealed"`
	SigningKeysRemaining int `json:"signing_keys_remaining"`
}

// Rewrap reloads the KEK and rewraps every data key wrapped by an older
// KEK version with the current one, batch by batch. The data is not
// touched. Each key is rewritten on its own, only if it is still wrapped
// by the version read, so a rewrap can be interrupted at any point and run
// again (it resumes with what is left) or run by two gateways at once.
// progress, when set, is called after each batch.
func (k *Keyring) Rewrap(ctx context.Context, progress func(done int64)) (RewrapResult, error) {
	kek, err := k.reloadKEK()
	if err != nil {
		return RewrapResult{}, err
	}
	cur := kek.Current()
	res := RewrapResult{KEKVersion: cur}
	// Gateways reread the KEK every ShredPoll: keys one of them wraps with
	// the old version meanwhile are caught by another pass.
	for pass := 0; ; pass++ {
		if err := k.rewrapPass(ctx, kek, &res, progress); err != nil {
			return res, err
		}
		total, older, err := k.st.CountDataKeys(ctx, cur)
		if err != nil {
			return res, err
		}
		res.Total, res.Remaining = total, older
		// The signing keys too, in every pass, so that the wait below
		// covers keys a lagging gateway seals meanwhile.
		errElsewhere := k.rewrapElsewhere(ctx, kek, &res)
		if (older == 0 && res.SigningKeysRemaining == 0) || pass == 2 {
			return res, errElsewhere
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("rewrap interrupted after %d keys: %w", res.Rewrapped, ctx.Err())
		case <-k.bg.Clock().After(k.opt.ShredPoll):
		}
	}
}

// rewrapElsewhere moves the signing keys (Options.RewrapElsewhere).
func (k *Keyring) rewrapElsewhere(ctx context.Context, kek KEK, res *RewrapResult) error {
	if k.opt.RewrapElsewhere == nil {
		return nil
	}
	moved, left, err := k.opt.RewrapElsewhere(ctx, kek)
	res.SigningKeysResealed += moved
	res.SigningKeysRemaining = left
	return err
}

// rewrapPass rewraps, once through, the keys wrapped before kek's current
// version.
func (k *Keyring) rewrapPass(ctx context.Context, kek KEK, res *RewrapResult, progress func(done int64)) error {
	cur := kek.Current()
	after := ""
	for {
		rows, err := k.st.DataKeysWrappedBefore(ctx, cur, after, 256)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			break
		}
		for _, row := range rows {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("rewrap interrupted after %d keys: %w", res.Rewrapped, err)
			}
			id, err := parseKeyID(row.KeyID)
			if err != nil {
				return err
			}
			if !kek.Has(row.KEKVersion) {
				return fmt.Errorf("data key %s is wrapped by key-encryption key version %d, which is not loaded: keep every version in the KEK source until the rewrap is done", row.KeyID, row.KEKVersion)
			}
			ad := wrapAD(row.Subject, row.Version, id)
			raw, err := kek.Unwrap(ctx, row.KEKVersion, row.Wrapped, ad)
			if err != nil {
				return fmt.Errorf("unwrapping data key %s: %w", row.KeyID, err)
			}
			wrapped, err := kek.Wrap(ctx, cur, raw, ad)
			clear(raw)
			if err != nil {
				return fmt.Errorf("wrapping data key %s: %w", row.KeyID, err)
			}
			changed, err := k.st.RewrapDataKey(ctx, row.KeyID, row.KEKVersion, cur, wrapped)
			if err != nil {
				return err
			}
			if changed {
				res.Rewrapped++
			}
		}
		after = rows[len(rows)-1].KeyID
		if progress != nil {
			progress(res.Rewrapped)
		}
	}
	return nil
}

// Shred destroys every data key of subject: everything ever encrypted for
// them becomes unreadable, here at once and on other gateways within
// ShredPoll. Until a peer polls, it may still encrypt new data for the
// subject with a key it holds in memory; that data is unreadable too, as
// if written before the shred. It returns how many key versions were
// destroyed.
func (k *Keyring) Shred(ctx context.Context, subject string) (int, error) {
	if err := checkNames(subject, ""); err != nil {
		return 0, fmt.Errorf("shredding: %w", err)
	}
	h := sha256.Sum256([]byte(subject))
	n, err := k.st.ShredSubject(ctx, subject, h[:], k.opt.Now())
	if err != nil {
		return 0, err
	}
	k.forget(map[[32]byte]bool{h: true})
	return n, nil
}

// forget drops the cached keys of the subjects with the given hashes.
func (k *Keyring) forget(hashes map[[32]byte]bool) {
	for _, id := range k.keys.Keys() {
		if dk, ok := k.keys.Peek(id); ok && hashes[dk.hash] {
			k.keys.Remove(id)
		}
	}
	for _, s := range k.writers.Keys() {
		if hashes[sha256.Sum256([]byte(s))] {
			k.writers.Remove(s)
		}
	}
}

// KeyInfo describes one data key version, without the key.
type KeyInfo struct {
	Subject    string    `json:"subject"`
	Version    int       `json:"version"`
	KeyID      string    `json:"key_id"`
	KEKVersion int       `json:"kek_version"`
	CreatedAt  time.Time `json:"created_at"`
	// Used bounds the encryptions made with it.
	Used int64 `json:"used"`
}

// List describes the data keys of subject, or with an empty subject a
// page of up to limit keys of every subject, in subject and version
// order, after the cursor `after` (empty: from the start). It returns the
// cursor of the next page, empty after the last.
func (k *Keyring) List(ctx context.Context, subject, after string, limit int) ([]KeyInfo, string, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	afterSubject, afterVersion := "", 0
	if after != "" {
		v, s, ok := strings.Cut(after, ":")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, "", fmt.Errorf("%w: the cursor %q is not VERSION:SUBJECT", ErrBadName, after)
		}
		afterSubject, afterVersion = s, n
	}
	rows, err := k.st.DataKeys(ctx, subject, afterSubject, afterVersion, limit)
	if err != nil {
		return nil, "", err
	}
	out := make([]KeyInfo, 0, len(rows))
	for _, r := range rows {
		out = append(out, KeyInfo{Subject: r.Subject, Version: r.Version, KeyID: r.KeyID, KEKVersion: r.KEKVersion, CreatedAt: r.CreatedAt, Used: r.Used})
	}
	next := ""
	if subject == "" && len(rows) == limit {
		last := rows[len(rows)-1]
		next = strconv.Itoa(last.Version) + ":" + last.Subject
	}
	return out, next, nil
}

// poll drops keys of subjects that other gateways shred, and rereads the
// KEK.
func (k *Keyring) poll(ctx context.Context) {
	k.pollShreds(ctx)
	// A KEK version added since (rampart keys kek-add on this file, or in
	// the environment of a restarted peer) wraps new keys from now on,
	// here too.
	if _, err := k.reloadKEK(); err != nil {
		k.opt.Logger.Warn("keyring: rereading the key-encryption key failed; the loaded one stays in use", "error", err)
	}
}

func (k *Keyring) pollShreds(base context.Context) {
	ctx, cancel := context.WithTimeout(base, 10*time.Second)
	defer cancel()
	now := k.opt.Now()
	// The window covers clock skew between gateways; forgetting a subject
	// twice only costs a reread.
	since := now.Add(-2*k.opt.ShredPoll - time.Minute)
	hashes, err := k.st.ShredsSince(ctx, since, now.Add(-24*time.Hour))
	if errors.Is(err, ErrUnavailable) {
		// The store logs its outages once; the next poll tries again.
		k.opt.Logger.Debug("keyring: reading shreds failed", "error", err)
		return
	}
	if err != nil {
		k.opt.Logger.Warn("keyring: reading shreds failed", "error", err)
		return
	}
	if len(hashes) == 0 {
		return
	}
	set := make(map[[32]byte]bool, len(hashes))
	for _, h := range hashes {
		if len(h) == 32 {
			set[[32]byte(h)] = true
		}
	}
	k.forget(set)
}
