// Package redisconn opens the Redis client that the limits and firewall
// stages share, from the redis section of the config. It owns connection
// settings only (URL, credentials, TLS, timeouts, pool); what is stored in
// Redis belongs to the packages that store it.
package redisconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/trust"
)

// Open returns a client for c: a plain client, or a cluster client when
// c.Cluster is set. It does not connect: the first command does, so a
// gateway starts even while Redis is down and its stages decide what a
// failure means.
func Open(c *config.Redis) (redis.UniversalClient, error) {
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		// go-redis errors quote the URL; say which field instead.
		return nil, fmt.Errorf("redis.url: not a redis:// or rediss:// URL")
	}
	if c.Cluster && opt.DB != 0 {
		return nil, fmt.Errorf("redis.url: a Redis Cluster has only database 0")
	}
	if c.Username != "" {
		opt.Username = c.Username
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile) // #nosec G304 -- the path is the operator's config
		if err != nil {
			return nil, fmt.Errorf("redis.password_file: %w", err)
		}
		opt.Password = strings.TrimRight(string(b), "\r\n")
	}
	if opt.TLSConfig != nil {
		opt.TLSConfig.MinVersion = tls.VersionTLS12
		if c.CAFile != "" {
			pool, err := trust.LoadPool(c.CAFile)
			if err != nil {
				return nil, fmt.Errorf("redis.ca_file: %w", err)
			}
			opt.TLSConfig.RootCAs = pool
		}
	}
	// Every caller passes a deadline (the limits stage redis.timeout, the
	// ban list its own, longer one for whole-list reads); the socket
	// timeouts are only a backstop for a caller that forgot.
	opt.ContextTimeoutEnabled = true
	backstop := max(c.Timeout.Std(), 5*time.Second)
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout = c.Timeout.Std(), backstop, backstop, backstop
	opt.DialerRetries = 1 // five dials per call would multiply an outage's cost per request
	opt.PoolSize = c.PoolSize
	opt.MaxRetries = -1 // a retry would double the time a failing call takes
	opt.DisableIdentity = true
	if !c.Cluster {
		return redis.NewClient(opt), nil
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{opt.Addr}, Username: opt.Username, Password: opt.Password, TLSConfig: opt.TLSConfig,
		DialTimeout: opt.DialTimeout, ReadTimeout: opt.ReadTimeout, WriteTimeout: opt.WriteTimeout,
		PoolTimeout: opt.PoolTimeout, PoolSize: opt.PoolSize, ContextTimeoutEnabled: true,
		MaxRetries: -1, DisableIdentity: true, DialerRetries: 1,
	}), nil
}

// SetLogger turns go-redis's internal notices (connection-pool messages)
// into debug records of l; without it, go-redis prints to stderr on every
// failed dial, once per request during an outage. go-redis has one
// process-wide logger and no per-client one, so the process calls this
// once, at start; the stages log outages themselves, once each.
func SetLogger(l *slog.Logger) { redis.SetLogger(logger{l}) }

type logger struct{ l *slog.Logger }

func (g logger) Printf(ctx context.Context, format string, v ...any) {
	g.l.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Connect opens a client for c and checks that the server answers (within
// c.Timeout, but at least 2s: a gateway starting next to Redis may wait a
// moment), so that a wrong URL or password fails at start.
func Connect(ctx context.Context, c *config.Redis) (redis.UniversalClient, error) {
	rdb, err := Open(c)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, max(c.Timeout.Std(), 2*time.Second))
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("redis: %w", err)
	}
	return rdb, nil
}
