package limits

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// BenchmarkStage measures the limits stage per request: a route without
// limits, a plan rate and daily quota in memory, the same with a route rate
// keyed by client IP (two tags), and on Redis when RAMPART_TEST_REDIS is
// set (one round trip per request on loopback).
func BenchmarkStage(b *testing.B) {
	y := base + `
limits:
  plans:
    - {name: p, rates: [{name: burst, requests: 1000000, per: 1s}], quotas: [{name: daily, period: day, requests: 1000000000000}]}
routes:
  - {path: /free, methods: [GET], upstream: api, public: true}
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
  - {path: /b, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true},
     limits: {rates: [{name: ip, requests: 1000000, per: 1s, key: [ip]}]}}
`
	bk := map[string]Backend{"memory": NewMemory(1_000_000, nil)}
	if c, prefix := testRedisOptional(&testing.T{}); c != nil {
		r := NewRedis(c, RedisOptions{Prefix: prefix})
		defer r.Close()
		bk["redis"] = r
	}
	for _, name := range []string{"memory", "redis"} {
		backend, ok := bk[name]
		if !ok {
			continue
		}
		l := build(&testing.T{}, y, backend, nil)
		for _, tc := range []struct {
			name  string
			route int
		}{{"no-limits", 0}, {"plan-rate-quota", 1}, {"plan-and-ip-rate", 2}} {
			if name == "redis" && tc.route == 0 {
				continue
			}
			b.Run(fmt.Sprintf("%s/%s", name, tc.name), func(b *testing.B) {
				st := l.Stage()
				id := &pipeline.Identity{Subject: "bench-user"}
				if tc.route == 0 {
					id = nil // anonymous on a public route: no plan applies
				}
				x := &pipeline.Exchange{}
				rt := &pipeline.Route{Index: tc.route, Name: "r"}
				b.ReportAllocs()
				for b.Loop() {
					x.Reset()
					x.Route, x.Identity, x.ClientIP = rt, id, netip.AddrFrom4([4]byte{192, 0, 2, 1})
					if err := st.Request(context.Background(), x); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRedisParallel measures decisions on Redis with 64 requests in
// flight, as under load: ns/op is the time per decision across all
// goroutines, Redis's own work on the same machine included. (go-redis's
// auto-pipeliner was tried here and was slower for this script.)
func BenchmarkRedisParallel(b *testing.B) {
	c, prefix := testRedisOptional(&testing.T{})
	if c == nil {
		b.Skip("RAMPART_TEST_REDIS is not set")
	}
	y := base + `
limits:
  plans:
    - {name: p, rates: [{name: burst, requests: 1000000, per: 1s}], quotas: [{name: daily, period: day, requests: 1000000000000}]}
routes:
  - {path: /a, methods: [GET], upstream: api, auth: [keys], authz: {authenticated: true}}
`
	r := NewRedis(c, RedisOptions{Prefix: prefix})
	defer r.Close()
	l := build(&testing.T{}, y, r, nil)
	b.SetParallelism(32)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		st := l.Stage()
		id := &pipeline.Identity{Subject: "bench-user"}
		x := &pipeline.Exchange{}
		rt := &pipeline.Route{Index: 0, Name: "r"}
		for pb.Next() {
			x.Reset()
			x.Route, x.Identity = rt, id
			if err := st.Request(context.Background(), x); err != nil {
				b.Fatal(err)
			}
		}
	})
}
