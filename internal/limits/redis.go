package limits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// takeScript decides a group of counters in one round trip and atomically:
// it tests every counter and only if all pass counts the request in each.
// Rates use the server's clock (TIME), so every gateway of a cluster
// measures time the same way; the arithmetic is that of gcra and records
// in memory.go. ARGV holds five values per key: the kind, three numbers
// and a string (the concurrency token, or the records mode).
//
// Numbers are written with string.format("%.0f"): Lua's own conversion
// keeps 14 digits and would round microsecond timestamps.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local ok = 1
local out = {0}
local nxt = {}
for i = 1, #KEYS do
  local b = (i - 1) * 5
  local kind, a1, a2, a3 = tonumber(ARGV[b+1]), tonumber(ARGV[b+2]), tonumber(ARGV[b+3]), tonumber(ARGV[b+4])
  local k = KEYS[i]
  local allowed, remaining, reset, retry, taken = 1, 0, 0, 0, 0
  local commits = false
  if kind == 1 then
    local tat = tonumber(redis.call('GET', k) or '0')
    if tat < now then tat = now end
    local n = tat + a1
    if n - now > a2 then
      allowed, retry, reset = 0, n - a2 - now, tat - now
    else
      remaining, reset = math.floor((a2 - (n - now)) / a1), n - now
    end
    nxt[i] = n
  elseif kind == 2 then
    local c = tonumber(redis.call('GET', k) or '0')
    if c + 1 > a1 then allowed = 0 else remaining = a1 - c - 1 end
  elseif kind == 3 then
    redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
    local c = redis.call('ZCARD', k)
    if c + 1 > a1 then allowed, retry = 0, 1000000 else remaining = a1 - c - 1 end
  else
    local mode = tonumber(ARGV[b+5])
    local tat = tonumber(redis.call('GET', k) or '0')
    if tat < now then tat = now end
    local avail = math.max(math.floor((a2 - (tat - now)) / a1), 0)
    if mode == 0 then
      if avail < 1 then allowed = 0 end
    elseif mode == 1 then
      if a3 <= avail then taken = a3 else allowed = 0 end
    elseif mode == 2 then
      taken = math.min(a3, avail)
      if taken < a3 then allowed = 0 end
      commits = true
    else
      taken = a3
      if a3 > avail then allowed = 0 end
      commits = true
    end
    local n = tat + taken * a1
    if mode == 3 and n > now + 2 * a2 then n = now + 2 * a2 end
    remaining = math.max(avail - taken, 0)
    reset = n - now
    if allowed == 0 or remaining == 0 then
      local need = 1
      if mode == 1 then need = math.min(a3, math.floor(a2 / a1)) end
      retry = math.max(n + need * a1 - a2 - now, 0)
    end
    nxt[i] = n
  end
  if allowed == 0 and not commits then ok = 0 end
  out[#out+1] = allowed
  out[#out+1] = remaining
  out[#out+1] = reset
  out[#out+1] = retry
  out[#out+1] = taken
end
if ok == 1 then
  for i = 1, #KEYS do
    local b = (i - 1) * 5
    local kind, a2 = tonumber(ARGV[b+1]), tonumber(ARGV[b+3])
    local k = KEYS[i]
    if kind == 1 or (kind == 4 and tonumber(ARGV[b+5]) ~= 0) then
      if nxt[i] > now then
        redis.call('SET', k, string.format('%.0f', nxt[i]), 'PX', math.floor((nxt[i] - now) / 1000) + 1)
      end
    elseif kind == 2 then
      if redis.call('INCR', k) == 1 then redis.call('EXPIRE', k, a2) end
    elseif kind == 3 then
      redis.call('ZADD', k, string.format('%.0f', now + a2), ARGV[b+5])
      redis.call('PEXPIRE', k, math.floor(a2 / 1000) + 1)
    end
  end
end
out[1] = ok
return out
`)

// RedisOptions configures the Redis back end.
type RedisOptions struct {
	// Prefix starts every key; default "rampart:".
	Prefix string
	// Timeout bounds each decision; past it Take returns an error.
	Timeout time.Duration
	// Now is the clock for quota expiry; default time.Now. Rates use the
	// server's clock.
	Now func() time.Time
	// Logger reports failed releases.
	Logger *slog.Logger
	// AutoPipeline sends the decisions of concurrent requests to a
	// standalone Redis in shared pipelines (go-redis's auto-pipeliner):
	// fewer system calls on both sides, about a quarter more requests per
	// second through a gateway under load.
	AutoPipeline bool
}

// Redis is the back end for a cluster of gateways: every decision is one
// script call per tag (one round trip for the usual request, whose
// counters all belong to one identity), exact however many gateways share
// the server.
//
// Keys are PREFIX "l:{" TAG "}:" HASH, where TAG is a hash of the first
// key value of the limit (the subject, say) and HASH one of the counter's
// full name; the braces make every counter of a tag land in one Redis
// Cluster slot, and hashing keeps subjects and addresses out of key names.
// Counters of different tags (a per-subject rate and a per-IP rate on one
// route) are decided in one pipeline but not atomically together: a
// request refused by one group may already have been counted by another.
type Redis struct {
	rdb      redis.UniversalClient
	run      redis.Scripter // rdb, or its auto-pipeliner
	opt      RedisOptions
	releases chan []Check
	wg       sync.WaitGroup
	mu       sync.RWMutex // guards closed against Release racing Close
	closed   bool
	// downUntil is when, after a failure, Redis is asked again (unix ns).
	downUntil atomic.Int64
}

// NewRedis returns a Redis back end on rdb. It does not connect.
func NewRedis(rdb redis.UniversalClient, opt RedisOptions) *Redis {
	if opt.Prefix == "" {
		opt.Prefix = "rampart:"
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 100 * time.Millisecond
	}
	r := &Redis{rdb: rdb, run: rdb, opt: opt, releases: make(chan []Check, 4096)}
	if c, ok := rdb.(*redis.Client); ok && opt.AutoPipeline {
		if ap, err := c.AutoPipeline(); err == nil {
			r.run = ap
		} else {
			opt.Logger.Warn("limits: redis auto-pipelining unavailable; one call per decision", "error", err)
		}
	}
	r.wg.Add(1)
	go r.releaser()
	return r
}

// redisKey is the Redis key of a check.
func (r *Redis) redisKey(c Check) string {
	tag := sha256.Sum256([]byte(c.Tag))
	name := sha256.Sum256([]byte(c.Key))
	var b strings.Builder
	b.Grow(len(r.opt.Prefix) + 60)
	b.WriteString(r.opt.Prefix)
	b.WriteString("l:{")
	b.WriteString(hex.EncodeToString(tag[:6]))
	b.WriteString("}:")
	b.WriteString(hex.EncodeToString(name[:16]))
	return b.String()
}

// Take decides checks: one script call per tag, pipelined.
func (r *Redis) Take(ctx context.Context, checks []Check, res []Result) (ok bool, err error) {
	// After a failure, decisions fail at once for a second instead of each
	// waiting out the timeout against a server that is not answering.
	if time.Now().UnixNano() < r.downUntil.Load() {
		return false, errRedisCoolingDown
	}
	defer func() {
		if err != nil {
			r.downUntil.Store(time.Now().Add(redisCooldown).UnixNano())
		}
	}()
	// The decision is Redis's to make within the timeout: a client that
	// hangs up meanwhile must not read as a Redis failure (and trip the
	// cooldown for everyone).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opt.Timeout)
	defer cancel()
	now := r.opt.Now()
	type group struct {
		tag  string
		idx  []int
		keys []string
		args []any
	}
	var groups []*group
	for i, c := range checks {
		var g *group
		for _, gg := range groups {
			if gg.tag == c.Tag {
				g = gg
			}
		}
		if g == nil {
			g = &group{tag: c.Tag}
			groups = append(groups, g)
		}
		g.idx = append(g.idx, i)
		g.keys = append(g.keys, r.redisKey(c))
		switch c.Kind {
		case Rate:
			g.args = append(g.args, 1, c.Interval.Microseconds(), c.Tau.Microseconds(), 0, "")
		case Quota:
			ttl := int64(c.Expires.Sub(now)/time.Second) + 3600 // outlives the period: clocks differ
			g.args = append(g.args, 2, c.Limit, max(ttl, 1), 0, "")
		case Concurrency:
			g.args = append(g.args, 3, c.Limit, c.Lease.Microseconds(), 0, c.Token)
		case Records:
			g.args = append(g.args, 4, c.Interval.Microseconds(), c.Tau.Microseconds(), c.Cost, int(c.Mode))
		}
	}
	cmds := make([]*redis.Cmd, len(groups))
	if len(groups) == 1 {
		cmds[0] = r.runOne(ctx, groups[0].keys, groups[0].args)
	} else {
		_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, g := range groups {
				cmds[i] = takeScript.EvalSha(ctx, p, g.keys, g.args...)
			}
			return nil
		})
		if anyNoScript(cmds) {
			// First use on a server: load the script and run again only
			// the groups it refused; the others were counted already.
			if err := takeScript.Load(ctx, r.rdb).Err(); err != nil {
				return false, fmt.Errorf("redis: loading the limits script: %w", err)
			}
			_, _ = r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, g := range groups {
					if isNoScript(cmds[i].Err()) {
						cmds[i] = takeScript.EvalSha(ctx, p, g.keys, g.args...)
					}
				}
				return nil
			})
		}
	}
	ok = true
	counted := make([]bool, len(groups)) // the group's script admitted and counted
	for gi, g := range groups {
		vals, e := cmds[gi].Int64Slice()
		switch {
		case e != nil:
			err = fmt.Errorf("redis: %w", e)
			continue
		case len(vals) != 1+5*len(g.idx):
			err = fmt.Errorf("redis: the limits script returned %d values for %d counters", len(vals), len(g.idx))
			continue
		}
		counted[gi] = vals[0] == 1
		for j, i := range g.idx {
			v := vals[1+5*j:]
			res[i] = Result{Allowed: v[0] == 1, Remaining: v[1],
				Reset: time.Duration(v[2]) * time.Microsecond, RetryAfter: time.Duration(v[3]) * time.Microsecond, Taken: v[4]}
			ok = ok && res[i].Allowed
		}
	}
	if !ok || err != nil {
		// Another group refused, or failed: the request will not run, so
		// the concurrency slots that admitted groups took are freed at
		// once rather than when their lease ends. (Their rates and quotas
		// stay counted: groups are atomic only one by one.)
		var held []Check
		for gi, g := range groups {
			for _, i := range g.idx {
				if counted[gi] && checks[i].Kind == Concurrency {
					held = append(held, checks[i])
				}
			}
		}
		if len(held) > 0 {
			r.Release(held)
		}
	}
	if err != nil {
		return false, err
	}
	return ok, nil
}

// runOne runs the script for one group. Through the auto-pipeliner the
// call may wait behind a batch stuck on a silent server longer than ctx
// allows, so the wait is bounded here; the abandoned call ends with the
// client's own socket deadline.
func (r *Redis) runOne(ctx context.Context, keys []string, args []any) *redis.Cmd {
	if r.run == redis.Scripter(r.rdb) {
		return takeScript.Run(ctx, r.rdb, keys, args...)
	}
	done := make(chan *redis.Cmd, 1)
	go func() { done <- takeScript.Run(ctx, r.run, keys, args...) }()
	select {
	case c := <-done:
		return c
	case <-ctx.Done():
		c := redis.NewCmd(ctx)
		c.SetErr(ctx.Err())
		return c
	}
}

// redisCooldown is how long decisions fail at once after a Redis failure.
const redisCooldown = time.Second

var errRedisCoolingDown = errors.New("redis: failed less than a second ago; not asking again yet")

func anyNoScript(cmds []*redis.Cmd) bool {
	for _, c := range cmds {
		if isNoScript(c.Err()) {
			return true
		}
	}
	return false
}

func isNoScript(err error) bool { return err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") }

// Release frees concurrency slots in the background, so that the response
// is never held up by Redis; a slot that cannot be freed expires with its
// lease.
func (r *Redis) Release(checks []Check) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return
	}
	select {
	case r.releases <- checks:
	default:
		r.opt.Logger.Warn("limits: release queue full; concurrency slots will expire with their lease")
	}
}

func (r *Redis) releaser() {
	defer r.wg.Done()
	for checks := range r.releases {
		ctx, cancel := context.WithTimeout(context.Background(), r.opt.Timeout)
		_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, c := range checks {
				if c.Kind == Concurrency {
					p.ZRem(ctx, r.redisKey(c), c.Token)
				}
			}
			return nil
		})
		cancel()
		if err != nil && !errors.Is(err, redis.Nil) {
			r.opt.Logger.Warn("limits: releasing concurrency slots failed; they expire with their lease", "error", err)
		}
	}
}

// Close stops the releaser after it has sent what was queued. It does not
// close the Redis client, which its owner shares.
func (r *Redis) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.releases)
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}
