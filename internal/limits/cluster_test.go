package limits

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/redisconn"
	"github.com/rampart-gw/rampart/internal/redistest"
)

// TestRedisCluster runs the limits on a real three-node Redis Cluster:
// every script's keys must share a slot (hash tags), counters of different
// tags go to different nodes in one pipeline, and the counts stay exact.
func TestRedisCluster(t *testing.T) {
	url := redistest.Cluster(t)
	y := base + `
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: per-user, requests: 1, per: 1h, burst: 40},
                      {name: per-ip, requests: 1, per: 1h, burst: 1000, key: [ip]}],
              quotas: [{name: daily, period: day, requests: 1000}],
              concurrency: [{name: inflight, max: 100}]}}
`
	prefix := fmt.Sprintf("rampart-test:%d:", time.Now().UnixNano())
	var ls []*Limiter
	for range 3 {
		c, err := redisconn.Open(&config.Redis{URL: url, Cluster: true, Timeout: config.Duration(2 * time.Second), PoolSize: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		b := NewRedis(c, RedisOptions{Prefix: prefix, Timeout: 2 * time.Second})
		t.Cleanup(func() { _ = b.Close() })
		ls = append(ls, build(t, y, b, nil))
	}
	// Many users from one address: each user's rate is theirs (tag s=...),
	// the address's is shared (tag i=...), on whichever nodes the slots say.
	n, odd := hammer(ls, 480, func(i int) *pipeline.Identity {
		return &pipeline.Identity{Subject: fmt.Sprintf("user-%d", i%4)}
	})
	if len(odd) > 0 {
		t.Fatalf("unexpected answers: %v", odd[:min(len(odd), 5)])
	}
	if n < 160 || n > 164 { // 4 users x burst 40, plus at most one refill each
		t.Fatalf("admitted %d, want 160", n)
	}

	// Regression: when one node lacks the script (restarted, flushed), only
	// the groups it refused run again; the others must not count twice.
	cc := c0(t, url)
	var kept atomic.Bool // ForEachMaster runs the nodes concurrently
	if err := cc.ForEachMaster(context.Background(), func(ctx context.Context, n *redis.Client) error {
		if kept.CompareAndSwap(false, true) { // keep the script on one node only
			return nil
		}
		return n.ScriptFlush(ctx).Err()
	}); err != nil {
		t.Fatal(err)
	}
	var checks []Check
	for i := range 12 { // twelve tags: several nodes
		checks = append(checks, Check{Kind: Rate, Key: fmt.Sprint("regress-", i), Tag: fmt.Sprint("tag-", i), Interval: time.Hour, Tau: 2 * time.Hour})
	}
	b0 := NewRedis(cc, RedisOptions{Prefix: prefix})
	t.Cleanup(func() { _ = b0.Close() })
	res12 := make([]Result, len(checks))
	for i := range 2 { // a burst of two: both admitted, if each group counted once
		if ok, err := b0.Take(context.Background(), checks, res12); !ok || err != nil {
			t.Fatalf("take %d after a script flush: %v %v %+v", i, ok, err, res12)
		}
	}

	// Records: the same contract as a single Redis.
	c, err := redisconn.Open(&config.Redis{URL: url, Cluster: true, Timeout: config.Duration(2 * time.Second), PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	b := NewRedis(c, RedisOptions{Prefix: prefix})
	t.Cleanup(func() { _ = b.Close() })
	rec := Check{Kind: Records, Key: "records", Tag: "s=alice", Interval: time.Hour, Tau: 10 * time.Hour, Mode: UpTo, Cost: 12}
	res := make([]Result, 1)
	if _, err := b.Take(context.Background(), []Check{rec}, res); err != nil || res[0].Taken != 10 {
		t.Fatalf("records on the cluster: %+v %v", res[0], err)
	}
}

func c0(t *testing.T, url string) *redis.ClusterClient {
	c, err := redisconn.Open(&config.Redis{URL: url, Cluster: true, Timeout: config.Duration(2 * time.Second), PoolSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*redis.ClusterClient)
}
