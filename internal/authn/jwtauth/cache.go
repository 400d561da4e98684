package jwtauth

import (
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// cacheShards spreads the verified-token cache over several locks.
const cacheShards = 16

// cache maps SHA-256 digests of verified tokens to their identities, until
// a deadline (the token's exp at the latest). Each shard holds at most its
// share of the size; a full shard evicts an arbitrary entry, so attacker
// traffic can only push out entries, never grow memory. It is safe for
// concurrent use.
type cache struct {
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

func newCache(size int) *cache {
	c := &cache{}
	per := max(size/cacheShards, 1)
	for i := range c.shards {
		c.shards[i] = shard{m: make(map[[32]byte]entry), max: per}
	}
	return c
}

func (c *cache) get(key [32]byte, now time.Time) (*pipeline.Identity, bool) {
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

func (c *cache) put(key [32]byte, id *pipeline.Identity, until time.Time) {
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
