package firewall

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"go4.org/netipx"

	"github.com/rampart-gw/rampart/internal/config"
)

// MaxReasonBytes bounds the length of a ban's reason.
const MaxReasonBytes = 200

// ErrInvalidBan wraps every refusal of a ban for what it says: a bad
// network, TTL or reason. Its text is safe to show to the admin.
var ErrInvalidBan = errors.New("invalid ban")

// ErrBanListFull is returned when adding a network would exceed
// firewall.bans.max_entries.
var ErrBanListFull = errors.New("the ban list is full")

// Ban is one banned network.
type Ban struct {
	// Network is the banned network; a single address is a /32 or /128.
	Network netip.Prefix `json:"network"`
	// Reason is the admin's free-text note.
	Reason string `json:"reason"`
	// Created is when the network was first banned.
	Created time.Time `json:"created"`
	// Expires is when the ban ends.
	Expires time.Time `json:"expires"`
}

// Bans is the dynamic ban list: networks refused until their ban expires.
// It is built apart from the Firewall because it outlives config reloads.
// Banned, the request-path check, reads an immutable snapshot through an
// atomic pointer: no lock, no allocation, no Redis call. Every method is
// safe for concurrent use; a nil *Bans bans nobody.
type Bans struct {
	maxEntries int
	maxTTL     time.Duration
	now        func() time.Time
	log        *slog.Logger

	snap       atomic.Pointer[banSnapshot]
	rebuilding atomic.Bool

	mu sync.Mutex
	// entries is the list as this node knows it: the whole list in
	// memory, or the last copy read from Redis plus this node's changes.
	entries map[netip.Prefix]Ban
	// gen counts local changes, so that a Redis read that raced with one
	// is not installed over it.
	gen uint64

	remote    *redisBans // nil for the memory back end
	closeOnce sync.Once
}

// banSnapshot is one immutable generation of the ban list.
type banSnapshot struct {
	set *netipx.IPSet
	// next is the earliest expiry in bans; zero when there is no ban.
	// Once the clock passes it, the set may hold an expired ban, and
	// Banned checks the list itself until the snapshot is rebuilt.
	next time.Time
	bans []Ban // sorted by network
}

// NewMemoryBans returns a ban list kept in this process only. A zero
// MaxEntries or MaxTTL takes the config default; now is the clock (nil:
// time.Now).
func NewMemoryBans(cfg config.Bans, now func() time.Time) *Bans {
	b := &Bans{maxEntries: cfg.MaxEntries, maxTTL: cfg.MaxTTL.Std(), now: now,
		log: slog.New(slog.DiscardHandler), entries: map[netip.Prefix]Ban{}}
	if b.maxEntries <= 0 {
		b.maxEntries = config.DefaultBanMaxEntries
	}
	if b.maxTTL <= 0 {
		b.maxTTL = config.DefaultBanMaxTTL
	}
	if b.now == nil {
		b.now = time.Now
	}
	b.mu.Lock()
	b.rebuildLocked(b.now())
	b.mu.Unlock()
	return b
}

// Banned reports whether a is in a ban that has not expired. It is the
// request-path check: lock-free, allocation-free, and never waits for
// Redis. An expired ban stops matching on time even before the snapshot
// is rebuilt.
func (b *Bans) Banned(a netip.Addr) bool {
	if b == nil {
		return false
	}
	a = a.Unmap()
	s := b.snap.Load()
	if !s.set.Contains(a) {
		return false
	}
	now := b.now()
	if now.Before(s.next) {
		return true
	}
	// Some ban of the snapshot has expired: answer from the list itself,
	// and have a fresh snapshot built off the request path.
	b.kick()
	for i := range s.bans {
		if now.Before(s.bans[i].Expires) && s.bans[i].Network.Contains(a) {
			return true
		}
	}
	return false
}

// kick rebuilds the snapshot in the background, once at a time.
func (b *Bans) kick() {
	if !b.rebuilding.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer b.rebuilding.Store(false)
		b.mu.Lock()
		defer b.mu.Unlock()
		b.rebuildLocked(b.now())
	}()
}

// rebuildLocked drops expired entries and installs a new snapshot.
func (b *Bans) rebuildLocked(now time.Time) {
	var sb netipx.IPSetBuilder
	list := make([]Ban, 0, len(b.entries))
	var next time.Time
	for p, ban := range b.entries {
		if !now.Before(ban.Expires) {
			delete(b.entries, p)
			continue
		}
		list = append(list, ban)
		sb.AddPrefix(ban.Network)
		if next.IsZero() || ban.Expires.Before(next) {
			next = ban.Expires
		}
	}
	slices.SortFunc(list, func(x, y Ban) int { return x.Network.Compare(y.Network) })
	set, err := sb.IPSet()
	if err != nil {
		// Only invalid prefixes make the builder fail, and none get in.
		// Keep the old snapshot rather than ban nobody.
		b.log.Error("bans: building the ban set", "error", err)
		return
	}
	b.snap.Store(&banSnapshot{set: set, next: next, bans: list})
}

// check validates a ban request and returns the network normalized.
func (b *Bans) check(p netip.Prefix, ttl time.Duration, reason string) (netip.Prefix, error) {
	if !p.IsValid() {
		return p, fmt.Errorf("%w: the network is not a valid address or CIDR", ErrInvalidBan)
	}
	p = Normalize(p)
	if p.Bits() == 0 {
		return p, fmt.Errorf("%w: a /0 ban would refuse every client", ErrInvalidBan)
	}
	if ttl <= 0 || ttl > b.maxTTL {
		return p, fmt.Errorf("%w: the ttl must be positive and at most %s", ErrInvalidBan, b.maxTTL)
	}
	if err := checkReason(reason); err != nil {
		return p, fmt.Errorf("%w: %w", ErrInvalidBan, err)
	}
	return p, nil
}

// checkReason bounds a reason and refuses what could forge log lines or
// terminal output: control characters and bidirectional overrides.
func checkReason(s string) error {
	if len(s) > MaxReasonBytes {
		return fmt.Errorf("the reason is longer than %d bytes", MaxReasonBytes)
	}
	if !utf8.ValidString(s) {
		return errors.New("the reason is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) {
			return errors.New("the reason holds a control character")
		}
	}
	return nil
}

// stamp returns t as stored: UTC, to the millisecond.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

// Add bans a network for ttl, which must be positive and at most
// firewall.bans.max_ttl. Banning a network again keeps its creation time,
// takes the new reason, and extends the ban when the new expiry is later
// (a shorter ttl never shortens a ban: remove it first). A new network is
// refused with ErrBanListFull once max_entries bans are in force. With the
// Redis back end, an unreachable Redis is an error and nothing changes.
func (b *Bans) Add(ctx context.Context, prefix netip.Prefix, ttl time.Duration, reason string) (Ban, error) {
	p, err := b.check(prefix, ttl, reason)
	if err != nil {
		return Ban{}, err
	}
	now := b.now()
	ban := Ban{Network: p, Reason: reason, Created: stamp(now), Expires: stamp(now.Add(ttl))}
	if b.remote != nil {
		stored, err := b.remote.add(ctx, ban, now, b.maxEntries)
		if err != nil {
			return Ban{}, err
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		b.entries[p] = stored
		b.gen++
		b.rebuildLocked(now)
		return stored, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	old, exists := b.entries[p]
	if exists && !now.Before(old.Expires) {
		delete(b.entries, p)
		exists = false
	}
	if !exists && b.countLocked(now) >= b.maxEntries {
		return Ban{}, fmt.Errorf("%w: %d bans are in force, the configured maximum", ErrBanListFull, b.maxEntries)
	}
	if exists {
		ban.Created = old.Created
		if old.Expires.After(ban.Expires) {
			ban.Expires = old.Expires
		}
	}
	b.entries[p] = ban
	b.gen++
	b.rebuildLocked(now)
	return ban, nil
}

// countLocked counts the bans in force.
func (b *Bans) countLocked(now time.Time) int {
	n := 0
	for _, ban := range b.entries {
		if now.Before(ban.Expires) {
			n++
		}
	}
	return n
}

// Remove lifts the ban on exactly this network (not on networks inside or
// around it) and reports whether one was in force.
func (b *Bans) Remove(ctx context.Context, prefix netip.Prefix) (bool, error) {
	if !prefix.IsValid() {
		return false, fmt.Errorf("%w: the network is not a valid address or CIDR", ErrInvalidBan)
	}
	p := Normalize(prefix)
	now := b.now()
	removed := false
	if b.remote != nil {
		var err error
		if removed, err = b.remote.remove(ctx, p, now); err != nil {
			return false, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.entries[p]; ok {
		removed = removed || (b.remote == nil && now.Before(old.Expires))
		delete(b.entries, p)
		b.gen++
		b.rebuildLocked(now)
	}
	return removed, nil
}

// List returns the bans in force, sorted by network. With the Redis back
// end it rereads the shared list first, and fails when Redis does.
func (b *Bans) List(ctx context.Context) ([]Ban, error) {
	if b.remote != nil {
		if err := b.sync(ctx); err != nil {
			return nil, err
		}
	}
	now := b.now()
	s := b.snap.Load()
	out := make([]Ban, 0, len(s.bans))
	for _, ban := range s.bans {
		if now.Before(ban.Expires) {
			out = append(out, ban)
		}
	}
	return out, nil
}

// Active returns the number of bans in force as this gateway last saw
// them, without asking Redis (for metrics).
func (b *Bans) Active() int {
	if b == nil {
		return 0
	}
	now := b.now()
	n := 0
	for _, ban := range b.snap.Load().bans {
		if now.Before(ban.Expires) {
			n++
		}
	}
	return n
}

// Close stops the Redis back end's goroutines; the list keeps answering
// Banned from its last copy. It does not close the Redis client.
func (b *Bans) Close() error {
	if b == nil || b.remote == nil {
		return nil
	}
	b.closeOnce.Do(b.remote.close)
	return nil
}
