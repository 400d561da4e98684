// Package acme owns automatic server certificates: it obtains and renews
// certificates for the configured domains from an ACME CA (RFC 8555) such as
// Let's Encrypt, keeps the account key and certificates on disk, and answers
// the TLS-ALPN-01 challenge (RFC 8737) on the gateway's own TLS listener.
//
// The ACME protocol work is done by github.com/caddyserver/certmagic with a
// cache and config private to each Manager; certmagic's package-level
// defaults are never modified.
//
// Only TLS-ALPN-01 is offered. HTTP-01 would need the plaintext listener to
// serve challenge tokens, which in Rampart only redirects to HTTPS, and
// DNS-01 needs DNS provider credentials. TLS-ALPN-01 proves control of the
// name on port 443 of the host itself: the CA opens a TLS connection offering
// only the "acme-tls/1" protocol with the domain as SNI, and the listener
// answers with a self-signed certificate carrying the key authorization in a
// critical acmeIdentifier extension. That certificate is only ever served to
// such a ClientHello, so ordinary clients never see it.
//
// It does not own the TLS policy (versions, cipher suites: package tlsconf)
// or the listening sockets (package server); it only supplies
// GetCertificate, and the listener must offer ALPNProto.
package acme

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/trust"
)

// ALPNProto is the ALPN protocol of the TLS-ALPN-01 challenge (RFC 8737
// section 6.2). The NextProtos of the listener's tls.Config must include it,
// or the CA cannot negotiate it and every validation fails.
const ALPNProto = "acme-tls/1"

// Manager obtains and renews certificates for a fixed set of domains and
// serves them, together with TLS-ALPN-01 challenge certificates, through
// GetCertificate.
//
// A Manager is built by New and is safe for concurrent use. Its zero value
// is not usable.
type Manager struct {
	log     *slog.Logger
	domains []string
	cache   *certmagic.Cache
	magic   *certmagic.Config

	// ready is closed once a certificate for every domain is in the cache.
	ready chan struct{}

	// mu guards the fields below it.
	mu sync.Mutex
	// pending are the domains without a cached certificate yet.
	pending map[string]bool
	// started is set by the first Start; stopped by the first Stop.
	started, stopped bool
}

// New validates cfg and prepares a Manager that keeps its ACME account and
// certificates under storageDir (for example DATA_DIR/acme), created with
// mode 0700; certmagic writes the files in it with mode 0600. Certificates
// already in storageDir are served once Start loads them; nothing is
// requested from the CA before Start.
//
// cfg.Directory defaults to config.DefaultACMEDirectory when empty and
// cfg.AltTLSALPNPort to 443 when zero. AltTLSALPNPort must be the port the
// gateway's TLS listener binds on this host (the CA itself always connects
// to 443): when a challenge is presented certmagic tries to bind that port,
// and only if it is taken does it rely on GetCertificate. If it binds the
// port, it answers there itself and the gateway can no longer bind it; if
// binding fails for another reason (a privileged port), validation fails.
//
// New starts the cache's maintenance goroutine: Stop the Manager, or cancel
// the ctx given to Start, to end it. A nil log discards records; certmagic's
// own log records go to log too, under logger=certmagic.
func New(cfg config.ACME, storageDir string, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := check(cfg, storageDir); err != nil {
		return nil, err
	}
	var roots *x509.CertPool
	if cfg.CAFile != "" {
		var err error
		if roots, err = loadRoots(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(storageDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating acme storage: %w", err)
	}
	// The directory holds the account key and the certificates' private
	// keys: tighten it even if it already existed.
	if err := os.Chmod(storageDir, 0o700); err != nil { // #nosec G302 -- a directory needs its x bit; 0700 is owner-only
		return nil, fmt.Errorf("restricting acme storage: %w", err)
	}
	directory := cfg.Directory
	if directory == "" {
		directory = config.DefaultACMEDirectory
	}

	m := &Manager{
		log:     log,
		domains: make([]string, 0, len(cfg.Domains)),
		ready:   make(chan struct{}),
		pending: make(map[string]bool, len(cfg.Domains)),
	}
	for _, d := range cfg.Domains {
		d = strings.ToLower(strings.TrimSpace(d))
		m.domains = append(m.domains, d)
		m.pending[d] = true
	}

	zl := zap.New(newSlogCore(log.Handler())).Named("certmagic")
	// The cache asks for the config of every certificate it maintains;
	// there is only one, built right below.
	var magic *certmagic.Config
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return magic, nil },
		Logger:           zl,
	})
	magic = certmagic.New(m.cache, certmagic.Config{
		Storage: &certmagic.FileStorage{Path: storageDir},
		Logger:  zl,
		// Clients that send no SNI (health checks dialling an IP)
		// get the first domain's certificate.
		DefaultServerName: m.domains[0],
		OnEvent:           m.onEvent,
		ShouldEmitFunc:    func(event string) bool { return event == "cached_managed_cert" },
	})
	magic.Issuers = []certmagic.Issuer{certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
		CA:                   directory,
		Email:                cfg.Email,
		Agreed:               cfg.AcceptTerms,
		DisableHTTPChallenge: true,
		// Challenges are answered by this process from memory; storage
		// is local, so there is no other instance to share them with.
		DisableDistributedSolvers: true,
		AltTLSALPNPort:            cfg.AltTLSALPNPort,
		TrustedRoots:              roots,
		Logger:                    zl,
	})}
	m.magic = magic
	return m, nil
}

// check reports every problem of cfg that would stop New, with the config
// path of the field.
func check(cfg config.ACME, storageDir string) error {
	var errs []error
	if !cfg.AcceptTerms {
		errs = append(errs, errors.New("acme.accept_terms: must be true to agree to the CA's subscriber agreement"))
	}
	if len(cfg.Domains) == 0 {
		errs = append(errs, errors.New("acme.domains: at least one host name is required"))
	}
	for i, d := range cfg.Domains {
		if strings.TrimSpace(d) == "" {
			errs = append(errs, fmt.Errorf("acme.domains[%d]: empty host name", i))
		}
	}
	if cfg.Email == "" {
		errs = append(errs, errors.New("acme.email: a contact address is required"))
	}
	if cfg.AltTLSALPNPort < 0 || cfg.AltTLSALPNPort > 65535 {
		errs = append(errs, fmt.Errorf("acme.alt_tls_alpn_port: %d is not a port", cfg.AltTLSALPNPort))
	}
	if storageDir == "" {
		errs = append(errs, errors.New("acme storage directory is required"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("checking acme config: %w", errors.Join(errs...))
	}
	return nil
}

// loadRoots reads the PEM bundle that signs the ACME server's HTTPS
// certificate. Only these roots are trusted for the CA's API then.
func loadRoots(file string) (*x509.CertPool, error) {
	pool, err := trust.LoadPool(file)
	if err != nil {
		return nil, fmt.Errorf("acme.ca_file: %w", err)
	}
	return pool, nil
}

// GetCertificate is the listener's tls.Config.GetCertificate. For a
// ClientHello offering only ALPNProto with a server name that has a challenge
// in progress it returns the TLS-ALPN-01 challenge certificate; otherwise the
// managed certificate for the server name (or for the first domain when there
// is no SNI). It fails the handshake when no certificate is available yet or
// the name is not one of the configured domains. Safe for concurrent use.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	// Anyone can send an acme-tls/1 ClientHello. Without a challenge this
	// process has in flight, certmagic would look for one in storage and
	// log an error for each such handshake; refuse it here instead.
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == ALPNProto && hello.ServerName != "" {
		if _, ok := certmagic.GetACMEChallenge(hello.ServerName); !ok {
			return nil, errors.New("no tls-alpn-01 challenge pending for this server name")
		}
	}
	c, err := m.magic.GetCertificate(hello)
	if err != nil {
		// certmagic returns a non-nil empty certificate with the error.
		return nil, err
	}
	return c, nil
}

// Start loads the certificates already in storage and, in the background,
// obtains the missing ones and renews them until ctx ends or Stop is
// called. It returns before any certificate is obtained; failures are
// logged and retried with backoff. Call it after the TLS listener is bound
// (see New). Start may be called once.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started || m.stopped {
		m.mu.Unlock()
		return errors.New("starting acme manager: already started or stopped")
	}
	m.started = true
	m.mu.Unlock()

	if err := m.magic.ManageAsync(ctx, m.domains); err != nil {
		return fmt.Errorf("starting certificate management: %w", err)
	}
	// Renewal runs in the cache's maintenance goroutine, which knows
	// nothing of ctx.
	context.AfterFunc(ctx, m.Stop)
	m.log.Info("acme certificate management started", "domains", m.domains)
	return nil
}

// Stop ends background renewal and waits for the maintenance goroutine to
// finish; certificates already loaded are still served. Obtain jobs started
// by Start end when its ctx ends. Stop is idempotent and safe to call
// without Start.
func (m *Manager) Stop() {
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.mu.Unlock()
	m.cache.Stop()
}

// onEvent receives certmagic's events (only those ShouldEmitFunc lets
// through) and closes ready once every domain has a cached certificate.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	if event != "cached_managed_cert" {
		return nil
	}
	sans, _ := data["sans"].([]string)
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.pending) == 0 {
		return nil
	}
	for _, s := range sans {
		delete(m.pending, strings.ToLower(s))
	}
	if len(m.pending) == 0 {
		close(m.ready)
		m.log.Info("acme certificates ready", "domains", m.domains)
	}
	return nil
}
