// Package rampart is Rampart as Go middleware: the gateway's request
// pipeline (client address and request id, firewall and bans, rate limits
// and quotas, routing with path normalization, authentication,
// authorization, field encryption and masking, DLP, security headers,
// the access log, the tamper-evident audit log and anomaly detection) in
// front of an http.Handler, inside the Go service itself.
//
// It reads the same rampart.yaml as the gateway, minus what the service's
// own server replaces: no listeners, no upstreams, no routes[].upstream
// (the wrapped handler answers every route), and no admin listener.
//
//	cfg, err := rampart.LoadConfig("rampart.yaml")
//	if err != nil { ... }
//	mw, err := rampart.New(ctx, cfg)
//	if err != nil { ... }
//	srv := &http.Server{Addr: ":8080", Handler: mw.Wrap(app)}
//	go srv.ListenAndServe()
//	<-ctx.Done()
//	srv.Shutdown(context.Background()) // the handlers finish first
//	mw.Close()                         // then the pipeline and its logs
//
// A request the pipeline refuses never reaches the handler: the client
// gets an RFC 9457 problem document, and the audit log records why. A
// request it allows reaches the handler as an upstream would see it: the
// normalized path and query, Rampart's X-Forwarded-* and X-Request-Id,
// the identity as X-Rampart-* headers (inbound ones are removed first),
// and FromRequest for the same facts as Go values.
//
// This package is the whole public API; it is small on purpose and
// changes only deliberately (a golden file in testdata holds it).
// Everything else in the module is internal.
package rampart

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/lifecycle"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Config is a validated middleware configuration.
type Config struct {
	c        *config.Config
	warnings []string
}

// LoadConfig reads and validates the config file at path (at most 8 MiB).
// Every problem is reported at once, with its line and path
// (rampart.yaml:12:5: routes[0].auth: ...).
func LoadConfig(path string) (*Config, error) {
	c, warnings, err := config.LoadMode(path, config.Middleware)
	return newConfig(c, warnings, err)
}

// ParseConfig validates a config document; name stands for it in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	c, warnings, err := config.ParseMode(name, data, config.Middleware)
	return newConfig(c, warnings, err)
}

func newConfig(c *config.Config, warnings []config.Problem, err error) (*Config, error) {
	if err != nil {
		return nil, err
	}
	out := &Config{c: c}
	for _, w := range warnings {
		out.warnings = append(out.warnings, w.String())
	}
	return out, nil
}

// Warnings are what validation found worth saying that is not an error
// (a public route, for example), one line each.
func (c *Config) Warnings() []string { return slices.Clone(c.warnings) }

// Option configures New.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	version string
}

// WithLogger sends Rampart's operational logs (never request contents;
// what the DLP detectors find is masked) to l. The default discards them.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithVersion names the service's version in Rampart's metrics.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

// Middleware is a running pipeline with the resources it opened (the
// state store, the audit log, Redis, keys). It is safe for concurrent use.
type Middleware struct {
	res *lifecycle.Resources
	in  *gateway.Instance

	mu       sync.RWMutex // read by each request as it starts, written by Close
	closed   bool
	inflight sync.WaitGroup
	close    sync.Once
}

// Context keys: the handler Wrap wrapped, and the Info FromRequest returns.
type (
	nextKey struct{}
	infoKey struct{}
)

// New opens what cfg needs and builds its pipeline. Close releases both.
func New(ctx context.Context, cfg *Config, opts ...Option) (*Middleware, error) {
	if cfg == nil || cfg.c == nil {
		return nil, errors.New("rampart: New needs a config from LoadConfig or ParseConfig")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	res, err := lifecycle.Open(ctx, cfg.c, lifecycle.Options{Logger: o.logger, Version: o.version})
	if err != nil {
		return nil, fmt.Errorf("rampart: %w", err)
	}
	deps := res.Deps
	deps.Terminal = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next, ok := r.Context().Value(nextKey{}).(http.Handler)
		if !ok { // only Wrap's handler reaches the pipeline
			http.Error(w, "rampart: the pipeline was reached without Wrap", http.StatusInternalServerError)
			return
		}
		// A copy, not the exchange: the engine reuses exchanges once a
		// request ends, and the handler may keep the context longer.
		info := infoFrom(pipeline.FromContext(r.Context()))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), infoKey{}, info)))
	})
	in, err := gateway.Build(cfg.c, deps)
	if err != nil {
		res.Close()
		return nil, fmt.Errorf("rampart: %w", err)
	}
	return &Middleware{res: res, in: in}, nil
}

// Wrap returns next behind the pipeline. Its type fits net/http, chi
// (r.Use(mw.Wrap)) and anything else that takes func(http.Handler)
// http.Handler. Wrap the router, not a handler inside it, and once per
// chain: several Wraps share the pipeline, its limits and its logs, and
// a handler wrapped twice is checked (and counted) twice. Wrap(nil)
// panics, as http.Handle does.
func (m *Middleware) Wrap(next http.Handler) http.Handler {
	if next == nil {
		panic("rampart: Wrap(nil)")
	}
	h := m.in.Handler
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.mu.RLock()
		if m.closed {
			m.mu.RUnlock()
			closing(w)
			return
		}
		m.inflight.Add(1)
		m.mu.RUnlock()
		defer m.inflight.Done()
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), nextKey{}, next)))
	})
}

// closing answers a request that arrives after Close.
func closing(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = w.Write([]byte(`{"type":"about:blank","title":"Service Unavailable","status":503,"detail":"The service is shutting down."}`))
}

// Metrics serves the pipeline's Prometheus metrics (requests by route and
// status, denials by stage and reason, latency); mount it where only
// operators reach it.
func (m *Middleware) Metrics() http.Handler {
	return promhttp.HandlerFor(m.res.Deps.Metrics.Registry, promhttp.HandlerOpts{})
}

// Close refuses new requests (503), waits for those in the pipeline to
// finish (so that each one's audit event is in), then closes what New
// opened, the audit log (checkpointed) last. Call it after the server's
// Shutdown has returned. Failures while closing are logged; Close is
// idempotent and returns nil.
func (m *Middleware) Close() error {
	m.close.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.inflight.Wait()
		m.in.Close()
		m.res.Close()
	})
	return nil
}

// Info is what the pipeline established about a request that reached the
// wrapped handler.
type Info struct {
	// RequestID identifies the request in Rampart's logs, its audit event
	// and the client's error documents.
	RequestID string
	// ClientIP is the client's address, through trusted proxies only.
	ClientIP netip.Addr
	// Route is the name of the route that matched.
	Route string
	// Identity is who made the request; nil on public routes.
	Identity *Identity
}

// Identity is who made a request, as an authenticator established it.
type Identity struct {
	// Subject names the principal (a user, a service).
	Subject string
	// Issuer vouches for the subject (a token's iss).
	Issuer string
	Roles  []string
	Groups []string
	Scopes []string
	Tenant string
	// Method is how the identity was established: jwt, apikey, mtls,
	// introspection.
	Method string
	// ExpiresAt is when the credential expires; zero when it does not.
	ExpiresAt time.Time
}

// FromRequest returns what the pipeline established about r, for a
// request inside a handler that Wrap wrapped (or a context derived from
// its, even after the request ended); false elsewhere.
func FromRequest(r *http.Request) (Info, bool) {
	info, ok := r.Context().Value(infoKey{}).(Info)
	return info, ok
}

// infoFrom copies what the handler may see of an exchange.
func infoFrom(x *pipeline.Exchange) Info {
	if x == nil {
		return Info{}
	}
	info := Info{RequestID: x.RequestID, ClientIP: x.ClientIP}
	if x.Route != nil {
		info.Route = x.Route.Name
	}
	if id := x.Identity; id != nil {
		info.Identity = &Identity{Subject: id.Subject, Issuer: id.Issuer, Roles: slices.Clone(id.Roles), Groups: slices.Clone(id.Groups),
			Scopes: slices.Clone(id.Scopes), Tenant: id.Tenant, Method: id.Method, ExpiresAt: id.ExpiresAt}
	}
	return info
}
