package apikeyauth

import (
	"context"
	"errors"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/rampart-gw/rampart/internal/store"
)

// cacheSize bounds the cached key records; unknown ids are cached too
// (a key created later moves the change counter), so a flood of random
// well-formed ids evicts, it does not grow.
const cacheSize = 1 << 16

// recordCache holds key records read from the store, trusted while the
// store's change counter is known to be unmoved: it is read every half
// of the delay, and a record read before a move is never served after
// it. A change made at time T is seen by every request that starts
// after T + delay: the poll that reads the moved counter starts at most
// delay/2 after T and drops every record; and while polls fail, the
// records are trusted only until delay after the start of the last poll
// that read the counter, which started before T.
type recordCache struct {
	delay time.Duration
	now   func() time.Time

	mu    sync.Mutex
	known bool      // the counter was read at least once
	n     int64     // its last value
	gen   uint64    // moves with n: records carry the gen they were read in
	okAt  time.Time // when the last poll that read the counter started
	recs  *lru.Cache[string, cachedRecord]
}

type cachedRecord struct {
	rec   store.APIKey
	found bool
	gen   uint64
}

func newRecordCache(delay time.Duration, now func() time.Time) *recordCache {
	recs, err := lru.New[string, cachedRecord](cacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &recordCache{delay: delay, now: now, recs: recs}
}

// current returns the generation records are trusted in, and false when
// none is (the counter is unknown or was last read too long ago).
func (c *recordCache) current() (uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen, c.known && c.now().Sub(c.okAt) <= c.delay
}

// get returns the record of id read in generation gen.
func (c *recordCache) get(id string, gen uint64) (store.APIKey, bool, bool) {
	e, ok := c.recs.Get(id)
	if !ok || e.gen != gen {
		return store.APIKey{}, false, false
	}
	return e.rec, e.found, true
}

// put keeps a record read in generation gen, unless the counter moved
// since: the record may predate the change.
func (c *recordCache) put(id string, rec store.APIKey, found bool, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.recs.Add(id, cachedRecord{rec: rec, found: found, gen: gen})
	}
}

// poll reads the change counter; a move drops every record.
func (c *recordCache) poll(ctx context.Context, s *store.Store) error {
	start := c.now()
	n, err := s.APIKeyChanges(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.known || n != c.n {
		c.known, c.n = true, n
		c.gen++
		c.recs.Purge()
	}
	if start.After(c.okAt) {
		c.okAt = start
	}
	return nil
}

// record returns the key record of id: from the cache while it is
// trusted, else from the store (and then cached).
func (a *Authenticator) record(ctx context.Context, id string) (store.APIKey, bool, error) {
	c := a.cache
	var gen uint64
	trusted := false
	if c != nil {
		gen, trusted = c.current()
		if trusted {
			if rec, found, ok := c.get(id, gen); ok {
				return rec, found, nil
			}
		}
	}
	rec, err := a.store.APIKey(ctx, id)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, false, err
	}
	if trusted {
		c.put(id, rec, found, gen)
	}
	return rec, found, nil
}
