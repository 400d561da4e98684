// Package lifecycle owns a Rampart process's life: it opens the
// resources a config needs (the store, the access log, the audit log and
// its sinks, Redis with the limits' counters and the ban list, anomaly
// detection, the token server, signing keys, the keyring), each behind an
// open function that returns its closer; it binds the listeners, the
// admin API and ACME; it runs the reload loop; and it shuts everything
// down in reverse order.
//
// It does not build pipelines (package gateway does, from the Deps that
// Open returns) and owns no stage; the middleware mode (package rampart)
// opens the same resources through Open and builds its pipeline in front
// of the application instead of the proxy.
package lifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rampart-gw/rampart/internal/accesslog"
	"github.com/rampart-gw/rampart/internal/acme"
	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/anomaly"
	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/client"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/limits"
	"github.com/rampart-gw/rampart/internal/metrics"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/redisconn"
	"github.com/rampart-gw/rampart/internal/server"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/tlsconf"
	"github.com/rampart-gw/rampart/internal/tokens"
	"github.com/rampart-gw/rampart/internal/witness"
)

// ServeOptions configures Serve.
type ServeOptions struct {
	// Config is the validated config to serve.
	Config *config.Config
	// Load re-reads the config on a reload signal; nil disables reloads.
	Load func() (*config.Config, error)
	// Reload delivers reload signals (SIGHUP).
	Reload <-chan struct{}
	// Logger receives operational logs.
	Logger *slog.Logger
	// Stdout is where the access log goes when its output is "stdout".
	Stdout io.Writer
	// Version is reported in metrics.
	Version string
	// Started, if set, is called once every listener is bound.
	Started func(Running)
}

// Running describes a started gateway.
type Running struct {
	// Listeners are the bound public addresses, in config order.
	Listeners []net.Addr
	// Admin is the bound admin address, nil when disabled.
	Admin net.Addr
	// AdminToken is the admin bearer token.
	AdminToken string
	// CACert is the path of the development CA certificate, "" when none
	// was needed.
	CACert string
}

// Options configure Open.
type Options struct {
	// Logger receives operational logs; unless protect.redact_logs is
	// false, Open wraps it so that what the DLP detectors find is masked.
	Logger *slog.Logger
	// Stdout is where the access log and stdout audit sinks write.
	Stdout io.Writer
	// Version is reported in metrics.
	Version string
	// Clock paces every background loop of the process; default the
	// system clock.
	Clock background.Clock
}

// Resources are what one process opens for a config and closes when it
// ends: the Deps a pipeline is built with, and what the admin API needs.
type Resources struct {
	// Deps are for gateway.New and gateway.Build.
	Deps gateway.Deps
	// Record writes an administrative event to the audit log; nil when
	// the audit log is off.
	Record admin.Recorder
	// closers run in reverse order on Close.
	closers []func()
}

// Close closes every resource, the last opened first: the audit log
// after the things that write to it, its sinks after the log. It does
// nothing on a nil Resources or when called again.
func (r *Resources) Close() {
	if r == nil {
		return
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		r.closers[i]()
	}
	r.closers = nil
}

// Open opens the resources cfg needs. On error it closes again whatever it
// had opened.
func Open(ctx context.Context, cfg *config.Config, o Options) (_ *Resources, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var mask func(string) string
	if r := cfg.Protect.RedactLogs; r == nil || *r {
		// Whatever a log line carries (an upstream's error text, a header
		// value, a path with an e-mail address in it), cards, SSNs,
		// tokens and keys are masked first.
		scanner := dlp.MustNew()
		log = slog.New(dlp.NewRedactingHandler(log.Handler(), scanner))
		mask = func(s string) string { return maskLogged(scanner, s) }
	}
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	// Every background loop runs on bg, closed last: a loop its owner
	// did not stop stops here, before the process ends.
	bg := background.NewRunner(o.Clock, log)
	res := &Resources{Deps: gateway.Deps{Logger: log, Metrics: metrics.New(o.Version), IDs: client.NewIDs(), Background: bg},
		closers: []func(){bg.Close}}
	defer func() {
		if err != nil {
			res.Close() // what was opened before the failure
		}
	}()
	d := &res.Deps
	st, err := store.Open(ctx, cfg.Store, store.WithLogger(log))
	if err != nil {
		return nil, err
	}
	res.closers = append(res.closers, func() { _ = st.Close() })
	d.Store = st
	if !cfg.AccessLog.Disabled {
		w, closeLog, err := openAccessLog(bg, cfg.AccessLog.Output, o.Stdout)
		if err != nil {
			return nil, err
		}
		res.closers = append(res.closers, closeLog)
		d.Metrics.WatchAccessLogDrops(w.Dropped)
		al := accesslog.New(w)
		if mask != nil {
			al.Redact(mask)
		}
		d.AccessLog = al
	}
	var auditObs *audit.Observer
	if cfg.Audit.Enabled {
		obs, closeAudit, err := openAudit(cfg, st, o.Stdout, log, d.Metrics, bg.Clock())
		if err != nil {
			return nil, err
		}
		res.closers = append(res.closers, closeAudit)
		if mask != nil {
			obs.Redact(mask)
		}
		d.Audit, auditObs = obs, obs
		res.Record = func(action, subject, detail string) {
			obs.Record(audit.Record{Kind: audit.KindAdmin, Action: action, Subject: subject, Detail: detail})
		}
	}
	closeShared, err := openShared(ctx, cfg, d)
	if err != nil {
		return nil, err
	}
	res.closers = append(res.closers, closeShared)
	// Bans and alerts run off the request goroutine; the runner is closed
	// (its queue drained) before the audit log it writes alerts to.
	runner := anomaly.NewRunner(1024, log)
	res.closers = append(res.closers, runner.Close)
	d.Metrics.WatchAnomalyDrops(runner.Dropped)
	d.Anomaly = openAnomaly(cfg, d.Bans, auditObs, log, runner.Go)
	// The keyring's KEK seals the signing keys too: it opens for them even
	// when no field is encrypted, and before them.
	var kek keyring.KEK
	if cfg.UsesKeyring() || cfg.IdentityToken.Enabled || cfg.TokenServer.Enabled {
		ring, err := OpenKeyring(ctx, cfg, st, log, bg)
		if err != nil {
			return nil, err
		}
		res.closers = append(res.closers, func() { _ = ring.Close() })
		if cfg.UsesKeyring() {
			d.Keyring = ring
		}
		kek = ring.LiveKEK()
	}
	if cfg.TokenServer.Enabled {
		closeTS, err := openTokenServer(ctx, cfg, st, kek, d)
		if err != nil {
			return nil, err
		}
		res.closers = append(res.closers, closeTS)
	}
	if it := cfg.IdentityToken; it.Enabled {
		m, err := openSigning(ctx, st, kek, identityKeys, it.KEKFile, it.RotateEvery.Std(), it.TTL.Std(), log, bg)
		if err != nil {
			return nil, fmt.Errorf("identity_token: %w", err)
		}
		res.closers = append(res.closers, func() { _ = m.Close() })
		d.Signing = m
	}
	return res, nil
}

// openSigning opens the signing keys of purpose, sealed with kek (the
// keyring's); legacyFile is the signing-kek file of earlier releases, read
// when it exists to open the keys they sealed, and never created.
func openSigning(ctx context.Context, st *store.Store, kek keyring.KEK, purpose, legacyFile string, rotate, ttl time.Duration, log *slog.Logger, bg *background.Runner) (*signing.Manager, error) {
	legacy, err := signing.LoadLegacyKEK(legacyFile)
	if err != nil {
		return nil, fmt.Errorf("kek_file: %w", err)
	}
	return signing.New(ctx, st, signing.Options{Purpose: purpose, RotateEvery: rotate, TokenTTL: ttl, KEK: kek, LegacyKEK: legacy, Logger: log, Background: bg})
}

// openAudit opens the audit log with its sinks and witnesses. Its closer
// closes the log (a last checkpoint), then the sinks, so that every event
// the log took is offered to them.
func openAudit(cfg *config.Config, st *store.Store, stdout io.Writer, log *slog.Logger, m *metrics.Metrics, clock background.Clock) (*audit.Observer, func(), error) {
	a := cfg.Audit
	var watch func(string, func() int64)
	if m != nil {
		watch = m.WatchAuditSinkDrops
	}
	sinks, closeSinks, err := audit.OpenSinks(a.Sinks, stdout, log, clock, watch)
	if err != nil {
		return nil, nil, err
	}
	witnesses, err := witness.FromConfig(a.Witnesses)
	if err != nil {
		closeSinks()
		return nil, nil, err
	}
	var pubs []audit.Publisher
	for _, w := range witnesses {
		pubs = append(pubs, w)
	}
	alog, err := audit.Open(audit.Options{Dir: a.Dir, Origin: AuditOrigin(cfg), Sync: a.Sync,
		CheckpointEvery: a.CheckpointInterval.Std(), Clock: clock, Logger: log, MaxSegmentBytes: int64(a.MaxSegmentBytes),
		MaxSegmentAge: a.MaxSegmentAge.Std(), Retention: a.Retention.Std(), Remote: st, Publishers: pubs})
	if err != nil {
		closeSinks()
		return nil, nil, err
	}
	closeAll := func() {
		if err := alog.Close(); err != nil {
			log.Error("audit: closing the log", "error", err)
		}
		closeSinks()
	}
	return audit.NewObserver(alog, log, sinks...), closeAll, nil
}

// openAnomaly builds the anomaly detectors of cfg, which ban through bans
// and alert through the log and the audit log (nil: logs only), both
// through run; nil when none is on.
func openAnomaly(cfg *config.Config, bans *firewall.Bans, auditObs *audit.Observer, log *slog.Logger, run func(func(context.Context))) pipeline.Observer {
	ban := func(ctx context.Context, addr netip.Addr, ttl time.Duration, reason string) error {
		_, err := bans.Add(ctx, netip.PrefixFrom(addr, addr.BitLen()), ttl, reason)
		return err
	}
	alert := func(action, clientIP, detail string) {
		log.Warn("anomaly", "alert", action, "client_ip", clientIP, "detail", detail)
		if auditObs != nil {
			auditObs.Record(audit.Record{Kind: audit.KindAlert, Action: action, ClientIP: clientIP, Detail: detail})
		}
	}
	if d := anomaly.FromConfig(cfg.Audit.Anomalies, ban, alert, run); len(d) > 0 {
		return d
	}
	return nil
}

// Serve runs the gateway until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, o ServeOptions) error {
	cfg := o.Config
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	res, err := Open(ctx, cfg, Options{Logger: o.Logger, Stdout: o.Stdout, Version: o.Version})
	if err != nil {
		return err
	}
	// Closed after the listeners have drained (defers run in reverse), so
	// that every answered request's event is in, and checkpointed.
	defer res.Close()
	deps, log, recordAdmin := res.Deps, res.Deps.Logger, res.Record
	gw, err := gateway.New(cfg, deps)
	if err != nil {
		return err
	}
	defer func() { gw.Current().Close() }()

	var running Running
	listeners, managers, stopACME, err := publicListeners(ctx, cfg, gw, res.Deps.Background, log, &running)
	defer stopACME()
	if err != nil {
		return err
	}
	if !cfg.Admin.Disabled {
		al, err := adminListener(ctx, cfg, &res.Deps, recordAdmin, log, &running)
		if err != nil {
			return err
		}
		listeners = append(listeners, al)
	}
	group, err := server.Start(listeners, cfg.Server, log)
	if err != nil {
		return err
	}
	// ACME starts once the listeners are bound, so that TLS-ALPN-01
	// challenges reach this process's GetCertificate.
	for _, m := range managers {
		if err := m.Start(ctx); err != nil {
			_ = group.Shutdown(context.Background())
			return fmt.Errorf("starting acme: %w", err)
		}
	}
	addrs := group.Addrs()
	running.Listeners = addrs[:len(cfg.Listeners)]
	if !cfg.Admin.Disabled {
		running.Admin = addrs[len(addrs)-1]
	}
	req, resp := gw.Current().Stages[0], gw.Current().Stages[1]
	log.Info("rampart started", "listeners", fmt.Sprint(running.Listeners), "admin", fmt.Sprint(running.Admin),
		"request_stages", fmt.Sprint(req), "response_stages", fmt.Sprint(resp))
	if o.Started != nil {
		o.Started(running)
	}

	serveErr := reloadLoop(ctx, o, gw, group, recordAdmin, log)
	log.Info("rampart shutting down")
	sctx, scancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.Std())
	defer scancel()
	if err := group.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish cleanly", "error", err)
	}
	return serveErr
}

// adminListener prepares the admin API's listener: its bearer token (made
// on first use), the API keys' pepper, TLS from files or the development
// CA.
func adminListener(ctx context.Context, cfg *config.Config, deps *gateway.Deps, record admin.Recorder, log *slog.Logger, running *Running) (server.Listener, error) {
	tok, err := admin.LoadOrCreateToken(cfg.Admin.TokenFile)
	if err != nil {
		return server.Listener{}, err
	}
	running.AdminToken = tok
	pepper := config.PepperFile(cfg)
	hasher, err := apikey.LoadOrCreatePepper(pepper)
	if err != nil {
		return server.Listener{}, err
	}
	ah, err := admin.New(admin.Options{Token: tok, Registry: deps.Metrics.Registry, Ready: func() bool { return true },
		Store: deps.Store, Hasher: hasher, Bans: deps.Bans, JWKS: jwks(deps.Signing), MaxScopes: cfg.Authz.MaxScopes, Record: record,
		Keyring: deps.Keyring, EncryptionAPI: cfg.Protect.EncryptionAPI})
	if err != nil {
		return server.Listener{}, err
	}
	tc, fs, err := tlsconf.ServerConfig(cfg.Admin.TLS, cfg.DataDir, log)
	if err != nil {
		return server.Listener{}, fmt.Errorf("admin: %w", err)
	}
	if fs != nil {
		fs.Watch(deps.Background)
	} else {
		running.CACert = filepath.Join(cfg.DataDir, tlsconf.CACertFile)
	}
	return server.Listener{Name: "admin", Address: cfg.Admin.Address, TLS: tc, HTTP2: true, Handler: ah}, nil
}

// reloadLoop serves until ctx ends or a listener fails (its error is
// returned), reloading the config on each signal: the new pipeline is
// swapped in, or the old one keeps serving; each reload is an audit
// event and a log line.
func reloadLoop(ctx context.Context, o ServeOptions, gw *gateway.Gateway, group *server.Group, recordAdmin admin.Recorder, log *slog.Logger) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-group.Err():
			return err
		case <-o.Reload:
			if o.Load == nil {
				continue
			}
			next, err := o.Load()
			if err == nil {
				err = gw.Reload(next, o.Config.Server.ShutdownTimeout.Std())
			}
			if recordAdmin != nil {
				outcome := "applied"
				if err != nil && !errors.Is(err, gateway.ErrRestartNeeded) {
					outcome = "refused"
				}
				recordAdmin("config.reload", "", outcome)
			}
			switch {
			case errors.Is(err, gateway.ErrRestartNeeded):
				log.Warn("config reloaded; some changes wait for a restart", "error", err)
			case err != nil:
				log.Error("config reload failed; the previous config keeps serving", "error", err)
			default:
				log.Info("config reloaded")
			}
		}
	}
}

// publicListeners prepares the config's listeners: TLS from files or the
// development CA (watched for changes), ACME (whose managers start once
// the sockets are bound), and HTTP listeners that only redirect to the
// first HTTPS port. stop stops the ACME managers; it is safe to call on
// error.
func publicListeners(ctx context.Context, cfg *config.Config, h http.Handler, bg *background.Runner, log *slog.Logger, running *Running) (listeners []server.Listener, managers []*acme.Manager, stop func(), err error) {
	var started []*acme.Manager // not the named result: an error return clears that
	stop = func() {
		for _, m := range started {
			m.Stop()
		}
	}
	httpsPort := 0
	for _, l := range cfg.Listeners {
		sl := server.Listener{Name: l.Name, Address: l.Address, Handler: h}
		switch {
		case l.TLS != nil && l.TLS.ACME != nil:
			m, err := acme.New(*l.TLS.ACME, filepath.Join(cfg.DataDir, "acme"), log)
			if err != nil {
				return nil, nil, stop, fmt.Errorf("listeners %s: %w", l.Name, err)
			}
			managers, started = append(managers, m), append(started, m)
			tc := tlsconf.Base(l.TLS.MinVersion)
			tc.GetCertificate = m.GetCertificate
			if err := tlsconf.ApplyClientAuth(tc, l.TLS.ClientAuth); err != nil {
				return nil, nil, stop, fmt.Errorf("listeners %s: %w", l.Name, err)
			}
			sl.TLS, sl.HTTP2, sl.ExtraALPN = tc, !l.DisableHTTP2, []string{acme.ALPNProto}
		case l.TLS != nil:
			tc, fs, err := tlsconf.ServerConfig(l.TLS, cfg.DataDir, log)
			if err != nil {
				return nil, nil, stop, fmt.Errorf("listeners %s: %w", l.Name, err)
			}
			if fs != nil {
				fs.Watch(bg)
			} else {
				running.CACert = filepath.Join(cfg.DataDir, tlsconf.CACertFile)
			}
			sl.TLS, sl.HTTP2 = tc, !l.DisableHTTP2
		}
		if l.TLS != nil && httpsPort == 0 {
			_, port, _ := net.SplitHostPort(l.Address)
			httpsPort, _ = strconv.Atoi(port)
		}
		listeners = append(listeners, sl)
	}
	for i, l := range cfg.Listeners {
		if l.RedirectToHTTPS {
			listeners[i].Handler = server.Redirect(cmp.Or(l.HTTPSPort, httpsPort))
		}
	}
	return listeners, managers, stop, nil
}

// openTokenServer opens the token server's keys (sealed with kek),
// revocations and clients
// (the API keys, checked with the first apikey authenticator's pepper).
func openTokenServer(ctx context.Context, cfg *config.Config, st *store.Store, kek keyring.KEK, d *gateway.Deps) (func(), error) {
	ts := cfg.TokenServer
	keys, err := openSigning(ctx, st, kek, oauthKeys, ts.KEKFile, ts.RotateEvery.Std(), ts.TTL.Std(), d.Logger, d.Background)
	if err != nil {
		return nil, fmt.Errorf("token_server: %w", err)
	}
	rev, err := tokens.NewRevocations(ctx, st, tokens.RevocationOptions{Logger: d.Logger, Background: d.Background})
	if err != nil {
		_ = keys.Close()
		return nil, fmt.Errorf("token_server: %w", err)
	}
	pepper := config.PepperFile(cfg)
	hasher, err := apikey.LoadOrCreatePepper(pepper)
	if err != nil {
		_ = rev.Close()
		_ = keys.Close()
		return nil, err
	}
	d.TokenKeys, d.Revocations = keys, rev
	d.TokenServer = tokens.New(ts, st, hasher, keys, rev, tokens.Options{Logger: d.Logger})
	return func() { _ = rev.Close(); _ = keys.Close() }, nil
}

// jwks returns the identity-token key set for the admin listener, or nil.
func jwks(m *signing.Manager) func() []byte {
	if m == nil {
		return nil
	}
	return m.JWKS
}

// AuditOrigin names a gateway's audit log in its checkpoints, to its
// witnesses and in the shared store: audit.origin, or "rampart/" and its
// first listener's address.
func AuditOrigin(cfg *config.Config) string {
	if cfg.Audit.Origin != "" {
		return cfg.Audit.Origin
	}
	if len(cfg.Listeners) > 0 {
		return "rampart/" + strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) || r == '+' || !unicode.IsPrint(r) {
				return '-'
			}
			return r
		}, cfg.Listeners[0].Address)
	}
	return "rampart"
}

// openShared opens what outlives reloads besides the store: the Redis
// client, the limits' counters and the ban list. It checks that Redis
// answers, so that a typo in redis.url fails at start rather than on the
// first request; later outages are each stage's to handle.
func openShared(ctx context.Context, cfg *config.Config, d *gateway.Deps) (func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	if cfg.Limits.Backend == "redis" || cfg.Firewall.Bans.Backend == "redis" {
		redisconn.SetLogger(d.Logger)
		rdb, err := redisconn.Connect(ctx, cfg.Redis)
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { _ = rdb.Close() })
		if cfg.Limits.Backend == "redis" {
			r := limits.NewRedis(rdb, limits.RedisOptions{Timeout: cfg.Redis.Timeout.Std(), Logger: d.Logger,
				AutoPipeline: cfg.Redis.Pipelining == "auto"})
			closers = append(closers, func() { _ = r.Close() })
			d.Counters = r
		}
		if cfg.Firewall.Bans.Backend == "redis" {
			b, err := firewall.NewRedisBans(ctx, cfg.Firewall.Bans, rdb, d.Logger, nil, firewall.WithBackground(d.Background))
			if err != nil {
				closeAll()
				return nil, err
			}
			closers = append(closers, func() { _ = b.Close() })
			d.Bans = b
		}
	}
	if d.Counters == nil {
		d.Counters = limits.NewMemory(cfg.Limits.MaxKeys, nil)
	}
	if d.Bans == nil {
		b := firewall.NewMemoryBans(cfg.Firewall.Bans, nil)
		closers = append(closers, func() { _ = b.Close() })
		d.Bans = b
	}
	if d.Metrics != nil {
		d.Metrics.WatchBans(d.Bans.Active) // the local copy: a scrape never reads Redis
	}
	return closeAll, nil
}

// openAccessLog opens the access log's output behind a BatchWriter.
func openAccessLog(bg *background.Runner, output string, stdout io.Writer) (*accesslog.BatchWriter, func(), error) {
	var w io.Writer
	closeFile := func() {}
	switch output {
	case "stdout":
		w = stdout
	case "stderr":
		w = os.Stderr
	default:
		f, err := os.OpenFile(output, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600) // #nosec G304 -- operator-chosen log path
		if err != nil {
			return nil, nil, fmt.Errorf("opening access log: %w", err)
		}
		w, closeFile = f, func() { _ = f.Close() }
	}
	bw := accesslog.NewBatchWriter(bg, w, 200*time.Millisecond, 0)
	return bw, func() { _ = bw.Close(); closeFile() }, nil
}

// OpenOfflineKeys opens, for the offline key commands, cfg's store and
// keyring and, when the audit log is on, the log itself, to record each
// change as the admin API would. done closes them, the audit log first.
func OpenOfflineKeys(ctx context.Context, cfg *config.Config, progress io.Writer) (_ *admin.OfflineKeys, done func(), err error) {
	st, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return nil, nil, err
	}
	ring, err := OpenKeyring(ctx, cfg, st, nil, nil)
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	closers := []func(){func() { _ = ring.Close() }, func() { _ = st.Close() }}
	var record admin.Recorder
	if cfg.Audit.Enabled {
		alog, err := audit.Open(audit.Options{Dir: cfg.Audit.Dir, Origin: AuditOrigin(cfg), Sync: true})
		if err != nil {
			_ = ring.Close()
			_ = st.Close()
			return nil, nil, fmt.Errorf("opening the audit log to record the change: %w", err)
		}
		obs := audit.NewObserver(alog, nil)
		record = func(action, subject, detail string) {
			obs.Record(audit.Record{Kind: audit.KindAdmin, Action: action, Subject: subject, Detail: detail})
		}
		closers = append([]func(){func() { _ = alog.Close() }}, closers...)
	}
	return admin.NewOfflineKeys(ring, record, progress), func() {
		for _, c := range closers {
			c()
		}
	}, nil
}

// OpenKeyring opens the data keys of cfg's protect.keys on st: the KEK
// from its file (made on first use) or environment variable.
func OpenKeyring(ctx context.Context, cfg *config.Config, st *store.Store, log *slog.Logger, bg *background.Runner) (*keyring.Keyring, error) {
	k := cfg.Protect.Keys
	load := func() (keyring.KEK, error) { return keyring.KEKFromEnv(k.KEKEnv) }
	if k.KEKEnv == "" {
		// A KEK file is made only for a store without data keys: a lost
		// secret mount must stop the gateway, not start a KEK under which
		// none of the existing keys unwrap.
		if _, err := os.Stat(k.KEKFile); errors.Is(err, fs.ErrNotExist) {
			n, _, cerr := st.CountDataKeys(ctx, 0)
			if cerr != nil {
				return nil, fmt.Errorf("protect.keys: %w", cerr)
			}
			if n > 0 {
				return nil, fmt.Errorf("protect.keys.kek_file %s does not exist, but the store holds %d data keys wrapped by a key-encryption key: restore the file", k.KEKFile, n)
			}
			// Signing keys are sealed with it too: a second gateway of a
			// cluster that only signs must get the first one's file, not
			// make its own.
			sealed, err := signingKeysSealedByKEK(ctx, st)
			if err != nil {
				return nil, fmt.Errorf("protect.keys: %w", err)
			}
			if sealed > 0 {
				return nil, fmt.Errorf("protect.keys.kek_file %s does not exist, but the store holds %d signing keys sealed by a key-encryption key: restore the file, or copy it from another gateway sharing this store", k.KEKFile, sealed)
			}
		}
		if _, err := keyring.LoadKEKFile(k.KEKFile, true); err != nil {
			return nil, fmt.Errorf("protect.keys.kek_file: %w", err)
		}
		load = func() (keyring.KEK, error) { return keyring.LoadKEKFile(k.KEKFile, false) }
	}
	var rotate time.Duration
	if k.RotateEvery != nil {
		rotate = k.RotateEvery.Std()
	}
	ring, err := keyring.New(ctx, st, keyring.Options{LoadKEK: load, RotateEvery: rotate, MaxMessages: k.MaxMessagesPerKey,
		CacheSize: k.CacheSize, CacheTTL: k.CacheTTL.Std(), Logger: log, Background: bg, SealedElsewhere: signingKeysOnVersion(st),
		RewrapElsewhere: rewrapSigningKeys(st)})
	if err != nil {
		return nil, fmt.Errorf("protect.keys: %w", err)
	}
	return ring, nil
}

// The purposes of the signing key sets, apart in the store.
const (
	identityKeys = "identity"
	oauthKeys    = "oauth"
)

// signingKeysSealedByKEK counts the stored signing keys sealed with a
// key-encryption key.
func signingKeysSealedByKEK(ctx context.Context, st *store.Store) (int, error) {
	return countSigningKeys(ctx, st, func(sealed []byte) bool { return signing.SealedByKEK(sealed) })
}

// signingKeysOnVersion counts the stored signing keys sealed with KEK
// version v: the keyring keeps v while any is.
func signingKeysOnVersion(st *store.Store) func(ctx context.Context, v int) (int, error) {
	return func(ctx context.Context, v int) (int, error) {
		return countSigningKeys(ctx, st, func(sealed []byte) bool {
			got, ok := signing.SealedVersion(sealed)
			return ok && got == v
		})
	}
}

// rewrapSigningKeys reseals the stored signing keys of every purpose that
// an older KEK version sealed with kek's current version.
func rewrapSigningKeys(st *store.Store) func(ctx context.Context, kek keyring.KEK) (int, int, error) {
	return func(ctx context.Context, kek keyring.KEK) (moved, left int, err error) {
		var errs []error
		for _, purpose := range []string{identityKeys, oauthKeys} {
			res, err := signing.Rewrap(ctx, st, purpose, kek, time.Now())
			moved, left = moved+res.Rewrapped, left+res.Remaining
			if err != nil {
				errs = append(errs, err)
			}
		}
		return moved, left, errors.Join(errs...)
	}
}

func countSigningKeys(ctx context.Context, st *store.Store, match func(sealed []byte) bool) (int, error) {
	n := 0
	for _, purpose := range []string{identityKeys, oauthKeys} {
		keys, err := st.SigningKeys(ctx, purpose, time.Now())
		if err != nil {
			return 0, err
		}
		for _, k := range keys {
			if match(k.PrivateKey) {
				n++
			}
		}
	}
	return n, nil
}

// maskLogged masks what the DLP detectors find in a path or query bound
// for a log, reading it percent-decoded too (ann%40example.com,
// 4111+1111+1111+1111): when the decoded text holds something, the
// decoded text is logged, masked.
func maskLogged(sc *dlp.Scanner, s string) string {
	m, fs := sc.MaskString(s)
	if !strings.ContainsAny(m, "%+") {
		return m
	}
	d, err := url.QueryUnescape(m)
	if err != nil {
		return m
	}
	if dm, dfs := sc.MaskString(d); len(dfs) > 0 || len(fs) > 0 {
		return dm
	}
	return m
}
