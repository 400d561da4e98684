package firewall

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
)

// DefaultKeyPrefix starts the name of every Redis key and channel of the
// ban list.
const DefaultKeyPrefix = "rampart:"

// DefaultRedisTimeout bounds each Redis call of the ban list (the client's
// own redis.timeout still bounds each read and write).
const DefaultRedisTimeout = 2 * time.Second

// RedisOption tunes NewRedisBans.
type RedisOption func(*redisOptions)

type redisOptions struct {
	prefix  string
	timeout time.Duration
	bg      *background.Runner
}

// WithBackground runs the list's rereads on bg instead of a runner of its
// own on the system clock.
func WithBackground(bg *background.Runner) RedisOption {
	return func(o *redisOptions) { o.bg = bg }
}

// WithKeyPrefix replaces DefaultKeyPrefix, to keep several clusters (or
// tests) apart on one Redis database.
func WithKeyPrefix(prefix string) RedisOption {
	return func(o *redisOptions) { o.prefix = prefix }
}

// WithTimeout replaces DefaultRedisTimeout.
func WithTimeout(d time.Duration) RedisOption {
	return func(o *redisOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// addScript stores a ban atomically: it deletes expired bans, refuses a new
// network past the maximum, keeps the creation time and the later expiry
// of a ban being renewed, and publishes the change.
//
// KEYS: hash, expiry zset. ARGV: network, value JSON, expiry ms, now ms,
// max entries, channel. Returns the stored JSON, or nil when full.
const addScript = `
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
for _, f in ipairs(expired) do
  redis.call('HDEL', KEYS[1], f)
end
if #expired > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
end
local value = ARGV[2]
local exp = ARGV[3]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, o = pcall(cjson.decode, old)
  if ok and type(o) == 'table' then
    local n = cjson.decode(value)
    if type(o.created) == 'string' then n.created = o.created end
    local oldexp = redis.call('ZSCORE', KEYS[2], ARGV[1])
    if oldexp and tonumber(oldexp) > tonumber(exp) and type(o.expires) == 'string' then
      n.expires = o.expires
      exp = oldexp
    end
    value = cjson.encode(n)
  end
elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[5]) then
  return false
end
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('ZADD', KEYS[2], exp, ARGV[1])
redis.call('PUBLISH', ARGV[6], ARGV[1])
return value
`

// removeScript deletes a ban and publishes the change. It returns 1 when
// the ban was in force.
//
// KEYS: hash, expiry zset. ARGV: network, now ms, channel.
const removeScript = `
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
local n = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if n == 0 then
  return 0
end
redis.call('PUBLISH', ARGV[3], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  return 0
end
return 1
`

// purgeScript deletes the given bans if they are still expired (another
// gateway may have renewed one since it was read) and every expired score.
//
// KEYS: hash, expiry zset. ARGV: now ms, networks...
const purgeScript = `
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if not s or tonumber(s) <= tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
return 0
`

// redisBans is the Redis back end of Bans.
type redisBans struct {
	rdb                   redis.UniversalClient
	hash, expiry, channel string
	timeout, every        time.Duration
	log                   *slog.Logger

	add1, remove1, purge *redis.Script

	// syncMu runs one sync at a time, so that an older read of the list
	// never replaces a newer one.
	syncMu sync.Mutex

	ctx    context.Context // cancelled by close, so no call outlives it
	cancel context.CancelFunc
	notify chan struct{}
	ps     *redis.PubSub
	bg     *background.Runner

	badMu   sync.Mutex
	lastBad int
}

// banValue is the JSON stored for a ban.
type banValue struct {
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Reason  string    `json:"reason"`
}

// NewRedisBans returns a ban list shared by every gateway on the same
// Redis. It reads the list once before it returns; if Redis cannot be read
// it logs a warning and starts empty. It then rereads the list whenever
// another gateway announces a change and every cfg.SyncInterval; while
// Redis is down it keeps the last list it read (Banned goes on answering),
// logs one warning per outage, retries, and Add, Remove and List fail.
// The caller keeps ownership of rdb; Close stops the goroutines.
func NewRedisBans(ctx context.Context, cfg config.Bans, rdb redis.UniversalClient, logger *slog.Logger, now func() time.Time, opts ...RedisOption) (*Bans, error) {
	if rdb == nil {
		return nil, errors.New("bans: the redis back end needs a redis client")
	}
	o := redisOptions{prefix: DefaultKeyPrefix, timeout: DefaultRedisTimeout}
	for _, f := range opts {
		f(&o)
	}
	b := NewMemoryBans(cfg, now)
	if logger != nil {
		b.log = logger
	}
	every := cfg.SyncInterval.Std()
	if every <= 0 {
		every = config.DefaultBanSyncInterval
	}
	r := &redisBans{
		rdb: rdb, hash: o.prefix + "{bans}", expiry: o.prefix + "{bans}:expiry", channel: o.prefix + "bans:changed",
		timeout: o.timeout, every: every, log: b.log,
		add1: redis.NewScript(addScript), remove1: redis.NewScript(removeScript), purge: redis.NewScript(purgeScript),
		notify: make(chan struct{}, 1),
	}
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	b.remote = r

	err := b.sync(ctx)
	if err != nil {
		b.log.Warn("bans: redis unavailable; starting with an empty ban list", "error", err)
	}
	// Subscribing connects; a down Redis is retried by go-redis in the
	// background, and every (re)subscription triggers a full reread.
	r.ps = rdb.Subscribe(r.ctx)
	subCtx, cancel := context.WithTimeout(r.ctx, r.timeout)
	_ = r.ps.Subscribe(subCtx, r.channel) // an error is retried on reconnect
	cancel()
	msgs := r.ps.ChannelWithSubscriptions()
	r.bg = background.Or(o.bg, b.log).Child()
	// listen ends when close closes the subscription.
	r.bg.Go("bans change notices", func(context.Context) { r.listen(msgs) })
	down := err != nil
	r.bg.EveryOrWake("bans reread", r.every, r.notify, func(context.Context) { down = r.reread(b, down) })
	return b, nil
}

// listen turns change notices and (re)subscriptions into rereads.
func (r *redisBans) listen(msgs <-chan any) {
	for m := range msgs {
		switch m.(type) {
		case *redis.Message, *redis.Subscription:
			r.trigger()
		}
	}
}

// trigger asks the loop for a reread, without blocking.
func (r *redisBans) trigger() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// reread rereads the list and reports each outage once: down says
// whether the last reread failed, and the result whether this one did.
func (r *redisBans) reread(b *Bans, down bool) bool {
	err := b.sync(r.ctx)
	switch {
	case r.ctx.Err() != nil:
		return down
	case err != nil && !down:
		r.log.Warn("bans: redis unavailable; serving the last known ban list and retrying", "error", err)
	case err == nil && down:
		r.log.Info("bans: redis available again; ban list reread")
	}
	return err != nil
}

func (r *redisBans) close() {
	r.cancel()
	_ = r.ps.Close()
	r.bg.Close()
}

// sync rereads the shared list, deletes expired bans from Redis, and
// installs the list unless a local change raced with the read.
func (b *Bans) sync(ctx context.Context) error {
	r := b.remote
	r.syncMu.Lock()
	defer r.syncMu.Unlock()
	b.mu.Lock()
	gen := b.gen
	b.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	all, err := r.rdb.HGetAll(ctx, r.hash).Result()
	if err != nil {
		return fmt.Errorf("bans: reading %s from redis: %w", r.hash, err)
	}
	now := b.now()
	entries := make(map[netip.Prefix]Ban, len(all))
	var expired []any
	bad := 0
	for field, v := range all {
		ban, err := decodeBan(field, v)
		if err != nil {
			bad++
			continue
		}
		if !now.Before(ban.Expires) {
			expired = append(expired, field)
			continue
		}
		entries[ban.Network] = ban
	}
	r.reportBad(bad)
	if len(expired) > 0 {
		args := append([]any{now.UnixMilli()}, expired...)
		if err := r.purge.Run(ctx, r.rdb, []string{r.hash, r.expiry}, args...).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("bans: deleting expired bans from redis: %w", err)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.gen != gen {
		// This node changed the list while it was read; its own notice
		// brings another reread.
		r.trigger()
		return nil
	}
	if !sameBans(b.entries, entries) {
		b.entries = entries
		b.rebuildLocked(now)
	}
	return nil
}

// reportBad logs malformed entries when their number changes; never the
// entries themselves.
func (r *redisBans) reportBad(n int) {
	r.badMu.Lock()
	defer r.badMu.Unlock()
	if n != r.lastBad && n > 0 {
		r.log.Warn("bans: ignoring malformed entries in redis", "key", r.hash, "count", n)
	}
	r.lastBad = n
}

func sameBans(a, b map[netip.Prefix]Ban) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Reason != w.Reason || !v.Created.Equal(w.Created) || !v.Expires.Equal(w.Expires) {
			return false
		}
	}
	return true
}

// decodeBan reads one hash entry.
func decodeBan(field, value string) (Ban, error) {
	p, err := netip.ParsePrefix(field)
	if err != nil {
		return Ban{}, errBadEntry
	}
	var v banValue
	if err := json.Unmarshal([]byte(value), &v); err != nil || v.Expires.IsZero() {
		return Ban{}, errors.New("malformed ban value")
	}
	if checkReason(v.Reason) != nil {
		// Written by something else than Rampart: keep the ban, not the text.
		v.Reason = "(unprintable reason)"
	}
	return Ban{Network: Normalize(p), Reason: v.Reason, Created: v.Created, Expires: v.Expires}, nil
}

func (r *redisBans) add(ctx context.Context, ban Ban, now time.Time, maxEntries int) (Ban, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	v, err := json.Marshal(banValue{Created: ban.Created, Expires: ban.Expires, Reason: ban.Reason})
	if err != nil {
		return Ban{}, fmt.Errorf("bans: encoding: %w", err)
	}
	field := ban.Network.String()
	res, err := r.add1.Run(ctx, r.rdb, []string{r.hash, r.expiry}, field, string(v),
		strconv.FormatInt(ban.Expires.UnixMilli(), 10), strconv.FormatInt(now.UnixMilli(), 10), maxEntries, r.channel).Text()
	if errors.Is(err, redis.Nil) {
		return Ban{}, fmt.Errorf("%w: %d bans are in force, the configured maximum", ErrBanListFull, maxEntries)
	}
	if err != nil {
		return Ban{}, fmt.Errorf("bans: storing the ban in redis: %w", err)
	}
	stored, err := decodeBan(field, res)
	if err != nil {
		return Ban{}, fmt.Errorf("bans: reading the stored ban: %w", err)
	}
	return stored, nil
}

func (r *redisBans) remove(ctx context.Context, p netip.Prefix, now time.Time) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	n, err := r.remove1.Run(ctx, r.rdb, []string{r.hash, r.expiry}, p.String(), strconv.FormatInt(now.UnixMilli(), 10), r.channel).Int()
	if err != nil {
		return false, fmt.Errorf("bans: deleting the ban in redis: %w", err)
	}
	return n == 1, nil
}
