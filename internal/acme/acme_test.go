package acme

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"

	"github.com/rampart-gw/rampart/internal/config"
)

const testDomain = "gw.rampart.test"

func TestNewRejects(t *testing.T) {
	valid := func() config.ACME {
		return config.ACME{
			Directory:   "https://127.0.0.1:14000/dir",
			Email:       "ops@example.com",
			Domains:     []string{testDomain},
			AcceptTerms: true,
		}
	}
	tests := []struct {
		name    string
		edit    func(*config.ACME)
		storage string
		want    string
	}{
		{"terms not accepted", func(c *config.ACME) { c.AcceptTerms = false }, "", "acme.accept_terms: must be true"},
		{"no domains", func(c *config.ACME) { c.Domains = nil }, "", "acme.domains: at least one host name is required"},
		{"empty domain", func(c *config.ACME) { c.Domains = []string{" "} }, "", "acme.domains[0]: empty host name"},
		{"no email", func(c *config.ACME) { c.Email = "" }, "", "acme.email: a contact address is required"},
		{"bad port", func(c *config.ACME) { c.AltTLSALPNPort = 70000 }, "", "acme.alt_tls_alpn_port: 70000 is not a port"},
		{"missing ca_file", func(c *config.ACME) { c.CAFile = filepath.Join(t.TempDir(), "nope.pem") }, "", "acme.ca_file: reading CA bundle"},
		{"ca_file without PEM", func(c *config.ACME) {
			f := filepath.Join(t.TempDir(), "junk.pem")
			if err := os.WriteFile(f, []byte("junk"), 0o600); err != nil {
				t.Fatal(err)
			}
			c.CAFile = f
		}, "", "no PEM certificate"},
		{"no storage", func(*config.ACME) {}, "-", "acme storage directory is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.edit(&c)
			dir := filepath.Join(t.TempDir(), "acme")
			if tt.storage == "-" {
				dir = ""
			}
			m, err := New(c, dir, nil)
			if err == nil {
				m.Stop()
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}

	t.Run("reports every problem", func(t *testing.T) {
		_, err := New(config.ACME{}, "", nil)
		if err == nil {
			t.Fatal("New succeeded, want an error")
		}
		for _, w := range []string{"accept_terms", "domains", "email", "storage"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not mention %s", err, w)
			}
		}
	})
}

func TestNewStorageMode(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	c := config.ACME{Email: "ops@example.com", Domains: []string{testDomain}, AcceptTerms: true}
	m, err := New(c, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()
	m.Stop() // idempotent
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("storage mode = %v, want 0700", got)
	}
	if err := m.Start(t.Context()); err == nil {
		t.Error("Start after Stop succeeded, want an error")
	}
}

// TestObtainWithPebble runs a real ACME exchange: Pebble's CA, VA and WFE
// in-process, a DNS server mapping testDomain to 127.0.0.1, and a TLS
// listener serving Manager.GetCertificate. Pebble validates TLS-ALPN-01
// against that listener for real (PEBBLE_VA_ALWAYS_VALID is not set).
func TestObtainWithPebble(t *testing.T) {
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_VA_ALWAYS_VALID", "0")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")

	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	// The gateway's TLS listener is bound first: its port is where Pebble
	// connects for TLS-ALPN-01, and certmagic must find it taken.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port

	resolver := startDNS(t, testDomain)
	pebble := startPebble(t, resolver, port)

	storage := filepath.Join(t.TempDir(), "acme")
	var logs syncBuffer
	m, err := New(config.ACME{
		Directory:      pebble.directory,
		Email:          "ops@example.com",
		Domains:        []string{testDomain},
		AcceptTerms:    true,
		CAFile:         pebble.caFile,
		AltTLSALPNPort: port,
	}, storage, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("manager log:\n%s", logs.String())
			t.Logf("pebble log:\n%s", pebble.log.String())
		}
	})

	// Served like package server does: the caller's TLS policy, HTTP/1.1
	// and HTTP/2, plus ALPNProto.
	tc := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: m.GetCertificate,
		NextProtos:     []string{"h2", "http/1.1", ALPNProto},
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: 5 * time.Second,
		TLSConfig:         tc,
		// certmagic probes the port with a bare TCP connection.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetHTTP2(true)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(tls.NewListener(ln, tc)) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serving: %v", err)
		}
	})

	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.ready:
	case <-ctx.Done():
		t.Fatalf("no certificate before the deadline: %v", ctx.Err())
	}

	roots := x509.NewCertPool()
	roots.AddCert(pebble.root)
	cs, err := handshake(ctx, ln.Addr().String(), &tls.Config{
		ServerName: testDomain,
		RootCAs:    roots,
		NextProtos: []string{"http/1.1"},
	})
	if err != nil {
		t.Fatalf("handshake trusting Pebble's root: %v", err)
	}
	if diff := cmp.Diff([]string{testDomain}, cs.PeerCertificates[0].DNSNames); diff != "" {
		t.Errorf("certificate SANs (-want +got):\n%s", diff)
	}
	if len(cs.VerifiedChains) == 0 {
		t.Error("no verified chain to Pebble's root")
	}
	if cs.NegotiatedProtocol != "http/1.1" {
		t.Errorf("negotiated %q, want http/1.1", cs.NegotiatedProtocol)
	}

	// A client without SNI (a health check dialling the IP) gets the
	// first domain's certificate.
	cs, err = handshake(ctx, ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("handshake without SNI: %v", err)
	}
	if diff := cmp.Diff([]string{testDomain}, cs.PeerCertificates[0].DNSNames); diff != "" {
		t.Errorf("certificate SANs without SNI (-want +got):\n%s", diff)
	}

	// Attack: a name that is not configured gets no certificate, and
	// never makes the manager ask the CA for one.
	if _, err := handshake(ctx, ln.Addr().String(), &tls.Config{ServerName: "evil.test", InsecureSkipVerify: true}); err == nil {
		t.Error("handshake for an unconfigured name succeeded")
	}
	// Attack: once no challenge is pending, an acme-tls/1 ClientHello gets
	// no challenge certificate.
	if _, err := handshake(ctx, ln.Addr().String(), &tls.Config{
		ServerName: testDomain, NextProtos: []string{ALPNProto}, InsecureSkipVerify: true,
	}); err == nil {
		t.Error("acme-tls/1 handshake without a pending challenge succeeded")
	}

	// The listener still serves ordinary HTTPS with that certificate.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, ln.Addr().String())
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+testDomain+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET over the ACME certificate: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("GET = %d %q, want 200 ok", resp.StatusCode, body)
	}
	client.CloseIdleConnections()

	// Account and certificate keys are private to the gateway user.
	err = filepath.WalkDir(storage, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: mode %v, want 0700", path, fi.Mode().Perm())
			}
		case strings.HasSuffix(path, ".lock"):
			// certmagic's transient lock files hold only a timestamp.
		default:
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", path, fi.Mode().Perm())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "served key authentication certificate") {
		t.Error("the manager never logged serving a tls-alpn-01 challenge certificate")
	}
}

// handshake completes a TLS handshake with addr and returns its state.
func handshake(ctx context.Context, addr string, c *tls.Config) (tls.ConnectionState, error) {
	conn, err := (&tls.Dialer{Config: c}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState(), nil
}

// testPebble is an in-process Pebble ACME server.
type testPebble struct {
	directory string            // ACME directory URL
	caFile    string            // PEM file of the CA that signs the WFE's HTTPS certificate
	root      *x509.Certificate // Pebble's issuing root
	log       *syncBuffer
}

// startPebble serves Pebble's WFE over HTTPS on 127.0.0.1 with a freshly
// generated certificate. Its VA resolves names through resolver and makes
// TLS-ALPN-01 connections to tlsPort.
func startPebble(t *testing.T, resolver string, tlsPort int) *testPebble {
	t.Helper()
	p := &testPebble{log: &syncBuffer{}}
	logger := log.New(p.log, "pebble ", log.Lmicroseconds)

	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1,
		map[string]ca.Profile{"default": {Description: "test profile"}})
	// The HTTP-01 port is never used: only TLS-ALPN-01 is offered.
	validator := va.New(logger, 0, tlsPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	p.root = authority.GetRootCert(0).Cert

	caPEM, serverCert := serverCertificate(t)
	p.caFile = filepath.Join(t.TempDir(), "pebble-ca.pem")
	if err := os.WriteFile(p.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(front.Handler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}}
	srv.Config.ErrorLog = logger
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.directory = srv.URL + wfe.DirectoryPath
	return p
}

// serverCertificate returns a new CA as PEM and a certificate it issued for
// 127.0.0.1.
func serverCertificate(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rampart test ACME server CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	return caPEM, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startDNS serves DNS over TCP (Pebble's VA queries its custom resolver
// over TCP) on 127.0.0.1, answering A 127.0.0.1 for name, no AAAA, and
// NXDOMAIN for anything else. It returns the server's address.
func startDNS(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fqdn := dns.Fqdn(name)
	started := make(chan struct{})
	srv := &dns.Server{
		Listener:          ln,
		NotifyStartedFunc: func() { close(started) },
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(r)
			m.Authoritative = true
			for _, q := range r.Question {
				switch {
				case !strings.EqualFold(q.Name, fqdn):
					m.Rcode = dns.RcodeNameError
				case q.Qtype == dns.TypeA:
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET},
						A:   net.IPv4(127, 0, 0, 1),
					})
				}
			}
			_ = w.WriteMsg(m)
		}),
	}
	served := make(chan error, 1)
	go func() { served <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-served:
		t.Fatalf("serving DNS: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("stopping DNS: %v", err)
		}
		<-served
	})
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers; Pebble's
// goroutines may keep logging after the test ends.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
