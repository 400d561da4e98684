// Package gateway is the one assembly point: it imports every stage, turns a
// validated config and the process's open resources (Deps) into a pipeline
// in the fixed stage order behind the engine, and swaps in a new pipeline
// on reload.
//
// No stage imports another; each is built here from its own config section
// and handed to the pipeline in the order below, which config cannot change.
// Opening the resources, the listeners and the reload loop belong to
// package lifecycle.
package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/authn/apikeyauth"
	"github.com/rampart-gw/rampart/internal/authn/introspect"
	"github.com/rampart-gw/rampart/internal/authn/jwtauth"
	"github.com/rampart-gw/rampart/internal/authn/mtlsauth"
	"github.com/rampart-gw/rampart/internal/authz"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/client"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/engine"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/idtoken"
	"github.com/rampart-gw/rampart/internal/inputs"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/limits"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/protect"
	"github.com/rampart-gw/rampart/internal/proxy"
	"github.com/rampart-gw/rampart/internal/route"
	"github.com/rampart-gw/rampart/internal/secheaders"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tokens"
)

// Deps are the process-wide parts a pipeline is built with; they outlive
// reloads.
type Deps struct {
	// Logger receives operational logs (never request contents).
	Logger *slog.Logger
	// AccessLog observes every exchange; nil turns the access log off.
	AccessLog pipeline.Observer
	// Audit writes every exchange to the audit log; nil turns it off.
	// With audit.sync the end of every response waits until Audit has
	// kept the exchange's record (a pipeline.Committer's Commit returned
	// nil), and the response is aborted when it could not.
	Audit pipeline.Observer
	// Anomaly watches every exchange for attack patterns; nil turns it
	// off.
	Anomaly pipeline.Observer
	// Metrics is updated for every exchange; nil turns metrics off.
	Metrics *metrics.Metrics
	// IDs makes request ids.
	IDs *client.IDs
	// Store is the state store (API keys); nil when none is open.
	Store *store.Store
	// Counters holds the limits' counters across reloads (memory or
	// Redis); nil gives each instance a memory back end of its own.
	Counters limits.Backend
	// Bans is the dynamic ban list, which outlives reloads; nil turns bans
	// off.
	Bans *firewall.Bans
	// Signing holds the identity-token signing keys; required when
	// identity_token is enabled.
	Signing *signing.Manager
	// TokenServer, TokenKeys and Revocations are the token server, its
	// signing keys and its revoked token ids; required when token_server
	// is enabled.
	TokenServer *tokens.Server
	TokenKeys   *signing.Manager
	Revocations *tokens.Revocations
	// Keyring holds the data keys; required when a route encrypts fields.
	Keyring *keyring.Keyring
	// Terminal, when set, answers every allowed request instead of the
	// reverse proxy (middleware mode: the application's handler); no
	// upstream connection is made.
	Terminal http.Handler
	// Background runs the stages' loops (list file reloads, API key
	// last-used writes); nil gives each its own runner on the system
	// clock.
	Background *background.Runner
}

// Instance is one built pipeline with its upstream connections.
type Instance struct {
	// Config is what the instance was built from.
	Config  *config.Config
	Handler http.Handler
	// Stages lists the request and response stages in order.
	Stages  [2][]string
	proxy   *proxy.Proxy
	inputs  *inputs.Stage
	closers []io.Closer
}

// Close releases the instance's idle upstream connections and stops its
// authenticators' background work.
func (in *Instance) Close() {
	if in.proxy != nil {
		in.proxy.Close()
	}
	for _, c := range in.closers {
		_ = c.Close()
	}
}

// Build compiles a validated config into an Instance. On error, whatever
// it started is stopped again.
func Build(cfg *config.Config, d Deps) (in *Instance, err error) {
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.IDs == nil {
		d.IDs = client.NewIDs()
	}
	clientStage, err := client.New(cfg.Client, client.Deps{IDs: d.IDs})
	if err != nil {
		return nil, err
	}
	// routes are the config's, then the token server's own endpoints,
	// which every stage treats as routes (firewall, pre-auth limits,
	// headers) but which the token server answers instead of an upstream.
	routes := cfg.Routes
	if cfg.TokenServer.Enabled {
		if d.TokenServer == nil {
			return nil, errors.New("token_server: its keys were not opened at start; restart to turn it on")
		}
		routes = append(slices.Clip(cfg.Routes), tokens.Routes(cfg.TokenServer)...)
	}
	routeStage, err := route.New(cfg.Paths, route.Deps{Routes: routes})
	if err != nil {
		return nil, err
	}
	authenticators, closers, err := buildAuthenticators(cfg, d)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil { // a failed reload must not leak background writers
			for _, c := range closers {
				_ = c.Close()
			}
		}
	}()
	fw, err := firewall.New(cfg.Firewall, firewall.Deps{Routes: routes, Logger: d.Logger, Bans: d.Bans, Background: d.Background})
	if err != nil {
		return nil, err
	}
	closers = append(closers, fw)
	counters := d.Counters
	if counters == nil {
		counters = limits.NewMemory(cfg.Limits.MaxKeys, nil)
		closers = append(closers, counters)
	}
	var onBackendError func(bool)
	if d.Metrics != nil {
		onBackendError = d.Metrics.LimitsBackendError
	}
	lim, err := limits.New(cfg.Limits, limits.Deps{Routes: routes, Backend: counters, Logger: d.Logger,
		OnBackendError: onBackendError, MaxBufferedBody: int64(cfg.Server.MaxResponseBodyBytes)})
	if err != nil {
		return nil, err
	}
	var idStage pipeline.RequestStage // nil when identity tokens are off
	if cfg.IdentityToken.Enabled {
		if d.Signing == nil {
			return nil, errors.New("identity_token: no signing keys were opened at start; restart to turn it on")
		}
		s, err := idtoken.New(cfg.IdentityToken, idtoken.Deps{Routes: routes, Keys: d.Signing})
		if err != nil {
			return nil, err
		}
		idStage = s
	}
	var cipher protect.Cipher
	if d.Keyring != nil {
		cipher = d.Keyring
	} else if cfg.UsesKeyring() {
		return nil, errors.New("protect: field encryption needs the keyring, which was not opened at start; restart to turn it on")
	}
	prot, err := protect.New(cfg.Protect, protect.Deps{Routes: routes, Cipher: cipher})
	if err != nil {
		return nil, err
	}
	inStage, err := inputs.New(cfg.WAF, inputs.Deps{Routes: routes, Logger: d.Logger})
	if err != nil {
		return nil, err
	}
	closers = append(closers, inStage)
	authnStage, err := authn.New(cfg.Authz, authn.Deps{Routes: routes, Authenticators: authenticators})
	if err != nil {
		return nil, err
	}
	authzStage, err := authz.New(cfg.Authz, authz.Deps{Routes: routes})
	if err != nil {
		return nil, err
	}
	headers, err := secheaders.New(cfg.Headers, secheaders.Deps{Routes: routes})
	if err != nil {
		return nil, err
	}
	var px *proxy.Proxy
	var next http.Handler
	if d.Terminal != nil {
		next = proxy.Local(d.Terminal, clientStage.RequestIDHeader())
	} else {
		if px, err = proxy.New(cfg.Upstreams, proxy.Deps{Routes: cfg.Routes, RequestIDHeader: clientStage.RequestIDHeader(), Logger: d.Logger}); err != nil {
			return nil, err
		}
		next = px
	}

	// The stage order is fixed here and only here.
	request := []pipeline.RequestStage{
		// client first: every later decision, refusal and log line needs the
		// real client IP and the request id.
		clientStage,
		// firewall: bans and the global lists before routing, so a refused
		// address costs nothing more and learns nothing of the routes.
		fw.Global(),
		// limits.pre_auth: by client IP, before any authenticator works.
		lim.PreAuth(),
		// route: normalizes the path once; every later stage and the
		// upstream see that one path, and key their settings by route.
		routeStage,
		// firewall again: the routes' own lists.
		fw.Route(),
		// inputs: the API's contract, then the WAF, on the raw request
		// before any identity work (an attack costs no token check).
		inStage,
		// authn: produces the Identity that authz and limits read; after
		// route, because the route names its authenticators.
		authnStage,
		// authz: needs the route, its parameters and the identity.
		authzStage,
		// limits: counts only requests that would be served, per identity
		// and plan.
		lim.Stage(),
		// idtoken: signs the identity for the upstream last, once every
		// check has passed.
		idStage,
		// protect: encrypts the body's fields last, after every check on
		// the request.
		prot.RequestStage(),
	}
	response := []pipeline.ResponseStage{
		// inputs: checks the upstream's response against the contract
		// before any stage changes it.
		inStage,
		// authz: removes the response fields the identity's roles may not
		// see, before anything else reads the body.
		authzStage,
		// limits: counts the records the response carries (and refuses or
		// cuts them past the session's threshold).
		lim.Response(),
		// protect: DLP, then decrypts or masks the encrypted fields.
		prot.ResponseStage(),
		// client: returns the request id to the client.
		clientStage,
		// headers last: applies to every response, problem documents too.
		headers,
	}
	p := pipeline.New(request, response, observers(routes, d))
	req, resp := p.StageNames()
	terminal := next
	if d.TokenServer != nil && cfg.TokenServer.Enabled {
		terminal = tokenTerminal{next: next, ts: d.TokenServer, first: len(cfg.Routes)}
	}
	h := engine.New(p, terminal, engine.Options{
		MaxHeaderBytes:       int(cfg.Server.MaxHeaderBytes),
		MaxBodyBytes:         int64(cfg.Server.MaxBodyBytes),
		MaxResponseBodyBytes: int(cfg.Server.MaxResponseBodyBytes),
		NewRequestID:         d.IDs.Next,
		Logger:               d.Logger,
		// audit.sync: no response ends before its event is on disk.
		AwaitRecord: d.Audit != nil && cfg.Audit.Sync,
	})
	return &Instance{Config: cfg, Handler: h, Stages: [2][]string{req, resp}, proxy: px, inputs: inStage, closers: closers}, nil
}

// observers are the exchange's observers in order: metrics, the access
// log, the audit log, anomaly detection (each when on).
func observers(routes []config.Route, d Deps) []pipeline.Observer {
	var out []pipeline.Observer
	if d.Metrics != nil {
		names := make([]string, len(routes))
		for i, r := range routes {
			names[i] = r.Name
		}
		out = append(out, d.Metrics.NewObserver(names))
	}
	for _, o := range []pipeline.Observer{d.AccessLog, d.Audit, d.Anomaly} {
		if o != nil {
			out = append(out, o)
		}
	}
	return out
}

// buildAuthenticators builds the config's authenticators by name: JWT,
// API keys, mTLS, introspection, and the token server's. closers are
// those with background work; on error they are closed already.
func buildAuthenticators(cfg *config.Config, d Deps) (_ map[string]authn.Authenticator, closers []io.Closer, err error) {
	defer func() {
		if err != nil {
			for _, c := range closers {
				_ = c.Close()
			}
		}
	}()
	authenticators := map[string]authn.Authenticator{}
	for _, j := range cfg.Authn.JWT {
		a, err := jwtauth.New(j, jwtauth.Options{Logger: d.Logger, Background: d.Background})
		if err != nil {
			return nil, closers, err
		}
		closers = append(closers, a)
		authenticators[j.Name] = a
	}
	for _, k := range cfg.Authn.APIKey {
		a, err := apikeyauth.New(k, d.Store, apikeyauth.Options{Logger: d.Logger, Background: d.Background})
		if err != nil {
			return nil, closers, err
		}
		closers = append(closers, a)
		authenticators[k.Name] = a
	}
	for _, m := range cfg.Authn.MTLS {
		authenticators[m.Name] = mtlsauth.New(m)
	}
	if cfg.TokenServer.Enabled && d.TokenServer != nil {
		authenticators[cfg.TokenServer.Authenticator] = d.TokenServer.Authenticator()
	}
	for _, in := range cfg.Authn.Introspection {
		a, err := introspect.New(in, introspect.Options{Logger: d.Logger})
		if err != nil {
			return nil, closers, err
		}
		authenticators[in.Name] = a
	}
	return authenticators, closers, nil
}

// tokenTerminal sends the token server's routes to it and the rest to the
// proxy (or the application, in middleware mode).
type tokenTerminal struct {
	next  http.Handler
	ts    *tokens.Server
	first int // index of the first token-server route
}

func (t tokenTerminal) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if x := pipeline.FromContext(r.Context()); x != nil && x.Route != nil && x.Route.Index >= t.first {
		t.ts.ServeHTTP(w, r)
		return
	}
	t.next.ServeHTTP(w, r)
}

// Gateway serves the current Instance and swaps it atomically on reload.
// It is safe for concurrent use.
type Gateway struct {
	deps Deps
	cur  atomic.Pointer[Instance]
}

// New builds the first instance.
func New(cfg *config.Config, d Deps) (*Gateway, error) {
	in, err := Build(cfg, d)
	if err != nil {
		return nil, err
	}
	g := &Gateway{deps: d}
	g.cur.Store(in)
	return g, nil
}

// ServeHTTP serves with the current instance.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.cur.Load().Handler.ServeHTTP(w, r)
}

// Current returns the instance now serving.
func (g *Gateway) Current() *Instance { return g.cur.Load() }

// ErrRestartNeeded marks a reload that changed settings only a restart
// applies (config fields tagged reload:"restart"); the rest of the new
// config was applied. The error names the changed settings.
var ErrRestartNeeded = errors.New("some settings change only on restart")

// Reload builds an instance from cfg and swaps it in. On any error the old
// instance keeps serving. The old instance's idle connections are closed
// after grace, when requests it was serving have moved on.
func (g *Gateway) Reload(cfg *config.Config, grace time.Duration) error {
	old := g.cur.Load()
	restart := config.NeedsRestart(old.Config, cfg)
	if len(restart) > 0 {
		// The sockets, the store, the logs, the back ends and the keys
		// were opened from the old values: keep the pipeline consistent
		// with them until the restart.
		next := *cfg
		config.KeepRestartFields(&next, old.Config)
		cfg = &next
	}
	in, err := Build(cfg, g.deps)
	if err != nil {
		if g.deps.Metrics != nil {
			g.deps.Metrics.Reloaded(false)
		}
		return fmt.Errorf("building new pipeline: %w", err)
	}
	g.cur.Swap(in)
	if g.deps.Metrics != nil {
		g.deps.Metrics.Reloaded(true)
	}
	time.AfterFunc(grace, old.Close)
	if len(restart) > 0 {
		return fmt.Errorf("%w: %s", ErrRestartNeeded, strings.Join(restart, ", "))
	}
	return nil
}
