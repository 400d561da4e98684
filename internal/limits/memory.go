package limits

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// memShards is the number of independently locked shards of the memory
// back end; a power of two.
const memShards = 256

// Memory is the back end for one gateway: counters in sharded maps,
// bounded in number, dropped when they expire. It never fails.
type Memory struct {
	seed   maphash.Seed
	now    func() time.Time
	shards [memShards]memShard
}

type memShard struct {
	mu  sync.Mutex
	m   map[string]memEntry
	max int
}

// memEntry is one counter: v is a GCRA theoretical arrival time (unix
// microseconds), a quota count or a number in flight; exp is when the
// entry no longer matters (unix microseconds).
type memEntry struct {
	v, exp int64
	kind   Kind
}

// NewMemory returns a memory back end holding at most maxKeys counters.
// When a shard is full, expired counters are dropped first, then arbitrary
// ones: losing a counter can only admit a request, never refuse one
// wrongly. now is the clock (time.Now when nil).
func NewMemory(maxKeys int, now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{seed: maphash.MakeSeed(), now: now}
	per := max(maxKeys/memShards, 1)
	for i := range m.shards {
		m.shards[i] = memShard{m: map[string]memEntry{}, max: per}
	}
	return m
}

// Len returns the number of counters held.
func (m *Memory) Len() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (m *Memory) shard(key string) int {
	return int(maphash.String(m.seed, key) & (memShards - 1))
}

// lock locks the given shards in ascending order (so that two requests
// never wait on each other) and returns them for unlock.
func (m *Memory) lock(shards []int, buf *[MaxChecks]int) []int {
	idx := buf[:0]
	for _, s := range shards {
		i := 0
		for i < len(idx) && idx[i] < s {
			i++
		}
		if i < len(idx) && idx[i] == s {
			continue
		}
		idx = append(idx, 0)
		copy(idx[i+1:], idx[i:])
		idx[i] = s
	}
	for _, s := range idx {
		m.shards[s].mu.Lock()
	}
	return idx
}

func (m *Memory) unlock(idx []int) {
	for i := len(idx) - 1; i >= 0; i-- {
		m.shards[idx[i]].mu.Unlock()
	}
}

// Take decides every check atomically.
func (m *Memory) Take(_ context.Context, checks []Check, res []Result) (bool, error) {
	if len(checks) > MaxChecks {
		return false, errTooManyChecks
	}
	var shard [MaxChecks]int // each check's shard, hashed once
	for i, c := range checks {
		shard[i] = m.shard(c.Key)
	}
	var buf [MaxChecks]int
	idx := m.lock(shard[:len(checks)], &buf)
	defer m.unlock(idx)
	now := m.now().UnixMicro()
	ok := true
	var news [MaxChecks]int64
	var ents [MaxChecks]memEntry // what phase one read, for phase two
	var present [MaxChecks]bool
	for i, c := range checks {
		e, found := m.shards[shard[i]].m[c.Key]
		present[i] = found
		if found && e.exp <= now && c.Kind != Concurrency {
			e, found = memEntry{}, false
		}
		ents[i] = e
		var r Result
		switch c.Kind {
		case Rate:
			var tat int64
			if found {
				tat = e.v
			}
			r, news[i] = gcra(now, tat, c.Interval.Microseconds(), c.Tau.Microseconds())
		case Quota:
			r = quota(e.v, c.Limit)
		case Concurrency:
			r = quota(e.v, c.Limit)
			if !r.Allowed {
				r.RetryAfter = time.Second
			}
		case Records:
			var tat int64
			if found {
				tat = e.v
			}
			r, news[i] = records(now, tat, c.Interval.Microseconds(), c.Tau.Microseconds(), c.Cost, c.Mode)
		}
		res[i] = r
		ok = ok && (r.Allowed || c.commits())
	}
	if !ok {
		return false, nil
	}
	allowed := true
	for _, r := range res[:len(checks)] {
		allowed = allowed && r.Allowed
	}
	for i, c := range checks {
		s := &m.shards[shard[i]]
		e := ents[i]
		switch c.Kind {
		case Rate, Records:
			if c.Kind == Records && c.Mode == Peek {
				continue
			}
			e = memEntry{v: news[i], exp: news[i], kind: c.Kind}
		case Quota:
			if e.exp <= now { // new, or expired in phase one
				e = memEntry{exp: c.Expires.UnixMicro(), kind: Quota}
			}
			e.v++
		case Concurrency:
			e.v++
			e.exp, e.kind = 1<<63-1, Concurrency
		}
		if !present[i] {
			s.makeRoom(now)
		}
		s.m[c.Key] = e
	}
	return allowed, nil
}

// Release frees concurrency slots.
func (m *Memory) Release(checks []Check) {
	for _, c := range checks {
		if c.Kind != Concurrency {
			continue
		}
		s := &m.shards[m.shard(c.Key)]
		s.mu.Lock()
		if e, ok := s.m[c.Key]; ok { // gone if evicted: nothing to free
			if e.v <= 1 {
				delete(s.m, c.Key)
			} else {
				e.v--
				s.m[c.Key] = e
			}
		}
		s.mu.Unlock()
	}
}

// makeRoom keeps the shard under its bound before an insertion: until a
// sixteenth of the shard is free (so the cost is amortized over the
// insertions that follow) it drops expired counters, then the counters
// whose loss costs least: rates and records (a client gets at most one more
// burst), then quotas, and concurrency slots last.
func (s *memShard) makeRoom(now int64) {
	if len(s.m) < s.max {
		return
	}
	target := s.max - max(s.max/16, 1)
	for k, e := range s.m {
		if e.exp <= now {
			delete(s.m, k)
		}
	}
	for _, kind := range [...]Kind{Rate, Records, Quota, Concurrency} {
		for k, e := range s.m { // map order is random: arbitrary victims
			if len(s.m) <= target {
				return
			}
			if e.kind == kind {
				delete(s.m, k)
			}
		}
	}
}

// Close does nothing: the memory back end has no background work.
func (m *Memory) Close() error { return nil }

// gcra decides one request against a GCRA counter whose theoretical
// arrival time is tat (all in microseconds): it returns the result and the
// new tat if the request is counted. The Redis script does the same
// arithmetic.
func gcra(now, tat, interval, tau int64) (Result, int64) {
	if tat < now {
		tat = now
	}
	next := tat + interval
	if next-now > tau {
		return Result{RetryAfter: time.Duration(next-tau-now) * time.Microsecond,
			Reset: time.Duration(tat-now) * time.Microsecond}, tat
	}
	return Result{Allowed: true, Remaining: (tau - (next - now)) / interval,
		Reset: time.Duration(next-now) * time.Microsecond}, next
}

// records decides a charge of cost records against a GCRA counter of one
// record per interval with an allowance of tau/interval records; it
// returns the result and the new tat. The Redis script does the same.
func records(now, tat, interval, tau, cost int64, mode Mode) (Result, int64) {
	if tat < now {
		tat = now
	}
	avail := max((tau-(tat-now))/interval, 0)
	var r Result
	switch mode {
	case Peek:
		r.Allowed = avail >= 1
	case Exact:
		if cost <= avail {
			r.Allowed, r.Taken = true, cost
		}
	case UpTo:
		r.Taken = min(cost, avail)
		r.Allowed = r.Taken == cost
	case Force:
		r.Allowed, r.Taken = cost <= avail, cost
	}
	next := tat + r.Taken*interval
	if mode == Force {
		// Records already delivered go into debt, but at most one more
		// allowance: a huge streamed response must not lock a client
		// out for years.
		next = min(next, now+2*tau)
	}
	r.Remaining = max(avail-r.Taken, 0)
	r.Reset = time.Duration(next-now) * time.Microsecond
	if !r.Allowed || r.Remaining == 0 {
		// Until the records asked for are free (one, for a peek), or the
		// whole allowance when more were asked than it holds.
		need := int64(1)
		if mode == Exact {
			need = min(cost, tau/interval)
		}
		r.RetryAfter = time.Duration(max(next+need*interval-tau-now, 0)) * time.Microsecond
	}
	return r, next
}

// quota decides one request against a count with a limit.
func quota(count, limit int64) Result {
	if count+1 > limit {
		return Result{}
	}
	return Result{Allowed: true, Remaining: limit - count - 1}
}
