package authn

import (
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// cacheShards spreads the credential cache over several locks.
const cacheShards = 16

// Cache maps SHA-256 digests of credentials to what an authenticator
// decided about them: an identity, or nil for a credential known to be bad
// (negative caching), until a deadline that the caller sets no later than
// the credential's expiry. Each shard holds at most its share of the size;
// a full shard evicts an arbitrary entry, so attacker traffic can only push
// out entries, never grow memory. It is safe for concurrent use.
type Cache struct {
	shards [cacheShards]shard
}

type shard struct {
	mu  sync.Mutex // guards m
	m   map[[32]byte]entry
	max int
}

type entry struct {
	id    *pipeline.Identity
	until time.Time
}

// NewCache returns a cache of at most about size entries.
func NewCache(size int) *Cache {
	c := &Cache{}
	per := max(size/cacheShards, 1)
	for i := range c.shards {
		c.shards[i] = shard{m: make(map[[32]byte]entry), max: per}
	}
	return c
}

// Get returns the cached decision for key: the identity (nil for a
// negative entry) and whether one is cached and still valid at now.
func (c *Cache) Get(key [32]byte, now time.Time) (*pipeline.Identity, bool) {
	s := &c.shards[key[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil, false
	}
	if !now.Before(e.until) {
		delete(s.m, key)
		return nil, false
	}
	return e.id, true
}

// Put caches id (nil for a negative entry) for key until the deadline.
func (c *Cache) Put(key [32]byte, id *pipeline.Identity, until time.Time) {
	s := &c.shards[key[0]%cacheShards]
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[key]; !ok && len(s.m) >= s.max {
		for k := range s.m { // Go's map order is random: an arbitrary victim
			delete(s.m, k)
			break
		}
	}
	s.m[key] = entry{id: id, until: until}
}
