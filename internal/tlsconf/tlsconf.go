// Package tlsconf owns the server side of TLS: the policy every listener
// serves with (Base), certificates loaded from files and reloaded when
// they change, the self-signed development CA and the certificates it
// issues (renewed before they expire), and asking for and verifying client
// certificates (ApplyClientAuth).
//
// Policy: TLS 1.2 is the floor (RFC 8996 deprecates 1.0 and 1.1), raised
// to 1.3 by min_version, and TLS 1.3 is preferred; TLS 1.2 offers only
// ECDHE suites with AEAD ciphers (AES-GCM, ChaCha20-Poly1305), so no CBC
// (Lucky13, POODLE), 3DES (Sweet32), RC4 (RFC 7465) or static-RSA key
// exchange without forward secrecy is ever negotiated. TLS 1.3's suites
// are all AEAD.
//
// It does not own ACME certificates (package acme), reading CA bundles
// (package trust), what a client certificate grants (authn/mtlsauth), or
// TLS to upstreams (package proxy).
package tlsconf

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/trust"
)

// CipherSuites are the TLS 1.2 suites offered: ECDHE with AEAD only.
var CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Base returns a tls.Config with the policy above and no certificate.
func Base(minVersion string) *tls.Config {
	v := uint16(tls.VersionTLS12)
	if minVersion == "1.3" {
		v = tls.VersionTLS13
	}
	return &tls.Config{MinVersion: v, CipherSuites: CipherSuites}
}

// Source provides the certificate a listener serves.
type Source interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// ServerConfig returns the tls.Config for a listener: a FileSource when
// cert_file is set (start its Watch), else a certificate for t.Hosts from
// the development CA in dataDir.
func ServerConfig(t *config.TLS, dataDir string, log *slog.Logger) (*tls.Config, *FileSource, error) {
	c := Base(t.MinVersion)
	if err := ApplyClientAuth(c, t.ClientAuth); err != nil {
		return nil, nil, err
	}
	if t.CertFile != "" {
		fs, err := NewFileSource(t.CertFile, t.KeyFile, t.ReloadInterval.Std(), log)
		if err != nil {
			return nil, nil, err
		}
		c.GetCertificate = fs.GetCertificate
		return c, fs, nil
	}
	ca, err := LoadOrCreateCA(dataDir)
	if err != nil {
		return nil, nil, err
	}
	dev, err := newDevSource(ca, t.Hosts, time.Now)
	if err != nil {
		return nil, nil, err
	}
	c.GetCertificate = dev.GetCertificate
	return c, nil, nil
}

// devSource serves a development certificate and issues a fresh one when
// the current one is within a week of expiry, so a long-running gateway
// never serves an expired certificate. It is safe for concurrent use.
type devSource struct {
	ca    *CA
	hosts []string
	now   func() time.Time
	cur   atomic.Pointer[tls.Certificate]
	mu    sync.Mutex // serializes renewals
}

// renewBefore is how long before expiry a development certificate is
// replaced.
const renewBefore = 7 * 24 * time.Hour

func newDevSource(ca *CA, hosts []string, now func() time.Time) (*devSource, error) {
	d := &devSource{ca: ca, hosts: hosts, now: now}
	c, err := ca.Issue(hosts)
	if err != nil {
		return nil, err
	}
	d.cur.Store(&c)
	return d, nil
}

// GetCertificate returns the current development certificate, renewing it
// when it is about to expire.
func (d *devSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c := d.cur.Load()
	if d.now().Add(renewBefore).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c = d.cur.Load(); d.now().Add(renewBefore).Before(c.Leaf.NotAfter) {
		return c, nil
	}
	fresh, err := d.ca.Issue(d.hosts)
	if err != nil {
		return c, nil // keep serving; the error repeats on the next handshake
	}
	d.cur.Store(&fresh)
	return &fresh, nil
}

// ApplyClientAuth makes c ask for client certificates signed by the CAs in
// ca.CAFile: verified when presented (optional) or required. Nil leaves c
// as it is. The TLS stack verifies the chain, validity and the clientAuth
// usage; what a certificate grants is for the mtls authenticators.
func ApplyClientAuth(c *tls.Config, ca *config.ClientAuth) error {
	if ca == nil {
		return nil
	}
	pool, err := trust.LoadPool(ca.CAFile)
	if err != nil {
		return fmt.Errorf("client_auth.ca_file: %w", err)
	}
	c.ClientCAs = pool
	c.ClientAuth = tls.VerifyClientCertIfGiven
	if ca.Mode == "required" {
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return nil
}

// FileSource serves a certificate from PEM files and reloads it when the
// files change. A reload that fails keeps the previous certificate. It is
// safe for concurrent use.
type FileSource struct {
	certFile, keyFile string
	interval          time.Duration
	log               *slog.Logger
	cur               atomic.Pointer[loaded]
}

type loaded struct {
	cert          *tls.Certificate
	certPEM, keyP []byte
}

// NewFileSource loads certFile and keyFile, failing if they do not hold a
// matching, parseable pair.
func NewFileSource(certFile, keyFile string, interval time.Duration, log *slog.Logger) (*FileSource, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fs := &FileSource{certFile: certFile, keyFile: keyFile, interval: interval, log: log}
	l, err := fs.load()
	if err != nil {
		return nil, err
	}
	fs.cur.Store(l)
	return fs, nil
}

func (fs *FileSource) load() (*loaded, error) {
	certPEM, err := os.ReadFile(fs.certFile)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(fs.keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading private key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading key pair %s: %w", fs.certFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parsing certificate %s: %w", fs.certFile, err)
	}
	cert.Leaf = leaf
	return &loaded{cert: &cert, certPEM: certPEM, keyP: keyPEM}, nil
}

// GetCertificate returns the current certificate.
func (fs *FileSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return fs.cur.Load().cert, nil
}

// Reload reads the files again; it reports whether the certificate changed.
func (fs *FileSource) Reload() (bool, error) {
	l, err := fs.load()
	if err != nil {
		return false, err
	}
	old := fs.cur.Load()
	if bytes.Equal(old.certPEM, l.certPEM) && bytes.Equal(old.keyP, l.keyP) {
		return false, nil
	}
	fs.cur.Store(l)
	return true, nil
}

// Watch reloads the files every interval on r until r is closed.
func (fs *FileSource) Watch(r *background.Runner) {
	r.Every("certificate reload "+fs.certFile, fs.interval, func(context.Context) {
		changed, err := fs.Reload()
		switch {
		case err != nil:
			fs.log.Error("certificate reload failed; serving the previous one", "cert_file", fs.certFile, "error", err)
		case changed:
			fs.log.Info("certificate reloaded", "cert_file", fs.certFile,
				"not_after", fs.cur.Load().cert.Leaf.NotAfter)
		}
	})
}
