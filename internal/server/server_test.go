package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/tlsconf"
)

func serverSettings() config.Server {
	c := &config.Config{}
	config.SetDefaults(c)
	return c.Server
}

// startTLS serves ok on a TLS listener whose certificate comes from a fresh
// development CA; it returns the address and a pool trusting the CA.
func startTLS(t *testing.T, minVersion string, http2 bool) (string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	tc, _, err := tlsconf.ServerConfig(&config.TLS{MinVersion: minVersion, Hosts: []string{"localhost", "127.0.0.1"}}, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := tlsconf.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.Proto) })
	g, err := Start([]Listener{{Name: "t", Address: "127.0.0.1:0", TLS: tc, HTTP2: http2, Handler: h}}, serverSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Shutdown(context.Background()) })
	return g.Addrs()[0].String(), ca.Pool()
}

func handshake(addr string, c *tls.Config) (tls.ConnectionState, error) {
	conn, err := tls.Dial("tcp", addr, c)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	return conn.ConnectionState(), nil
}

// TestTLSPolicy makes real handshakes with clients that offer only what the
// policy must refuse.
func TestTLSPolicy(t *testing.T) {
	addr, pool := startTLS(t, "1.2", true)
	base := func() *tls.Config { return &tls.Config{RootCAs: pool, ServerName: "localhost"} }

	st, err := handshake(addr, base())
	if err != nil {
		t.Fatalf("default client: %v", err)
	}
	if st.Version != tls.VersionTLS13 {
		t.Errorf("negotiated %s, want TLS 1.3 preferred", tls.VersionName(st.Version))
	}

	c := base()
	c.MaxVersion = tls.VersionTLS12
	st, err = handshake(addr, c)
	if err != nil {
		t.Fatalf("TLS 1.2 client: %v", err)
	}
	if name := tls.CipherSuiteName(st.CipherSuite); !strings.Contains(name, "GCM") && !strings.Contains(name, "CHACHA20") {
		t.Errorf("TLS 1.2 suite %s is not AEAD", name)
	}

	for _, tc := range []struct {
		name string
		cfg  func() *tls.Config
	}{
		{"TLS 1.1", func() *tls.Config {
			c := base()
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
			return c
		}},
		{"TLS 1.0", func() *tls.Config {
			c := base()
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
			return c
		}},
		{"CBC only", func() *tls.Config {
			c := base()
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
				tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
			return c
		}},
		{"3DES only", func() *tls.Config {
			c := base()
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, tls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}
			return c
		}},
		{"RC4 only", func() *tls.Config {
			c := base()
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, tls.TLS_RSA_WITH_RC4_128_SHA}
			return c
		}},
		{"static RSA GCM", func() *tls.Config {
			c := base()
			c.MaxVersion = tls.VersionTLS12
			c.CipherSuites = []uint16{tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := handshake(addr, tc.cfg())
			if err == nil {
				t.Fatalf("handshake succeeded with %s %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite))
			}
			// The server, not the client, must be the one that refused.
			if !strings.Contains(err.Error(), "remote error") {
				t.Errorf("refused by the client, not the server: %v", err)
			}
		})
	}
}

func TestTLS13Only(t *testing.T) {
	addr, pool := startTLS(t, "1.3", true)
	c := &tls.Config{RootCAs: pool, ServerName: "localhost", MaxVersion: tls.VersionTLS12}
	if _, err := handshake(addr, c); err == nil {
		t.Fatal("TLS 1.2 accepted with min_version 1.3")
	}
}

func TestHTTP2(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		addr, pool := startTLS(t, "1.2", enabled)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		resp, err := (&http.Client{Transport: tr}).Get("https://localhost:" + addr[strings.LastIndex(addr, ":")+1:] + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		want := "HTTP/1.1"
		if enabled {
			want = "HTTP/2.0"
		}
		if string(b) != want {
			t.Errorf("http2=%v: served %s", enabled, b)
		}
	}
}

func TestRedirect(t *testing.T) {
	h := Redirect(8443)
	tests := []struct {
		method, host, target string
		status               int
		location             string
	}{
		{"GET", "example.com", "/a/b?c=d", 308, "https://example.com:8443/a/b?c=d"},
		{"GET", "example.com:80", "/", 308, "https://example.com:8443/"},
		{"GET", "[::1]:80", "/x", 308, "https://[::1]:8443/x"},
		{"HEAD", "127.0.0.1", "/x", 308, "https://127.0.0.1:8443/x"},
		{"GET", "evil.com\r\nSet-Cookie: a=b", "/", 400, ""},
		{"GET", "a.com", "//evil.com/x", 308, "https://a.com:8443/"},
		{"POST", "a.com", "/login", 400, ""},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, "http://x"+tt.target, nil)
		req.Host = tt.host
		w := newRecorder()
		h.ServeHTTP(w, req)
		if w.status != tt.status || w.h.Get("Location") != tt.location {
			t.Errorf("%s %s%s: %d %q, want %d %q", tt.method, tt.host, tt.target, w.status, w.h.Get("Location"), tt.status, tt.location)
		}
	}
}

type recorder struct {
	h      http.Header
	status int
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(status int)      { r.status = status }

// TestCertificateHotReload replaces the certificate files under a running
// listener and checks that new handshakes see the new certificate.
func TestCertificateHotReload(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(host string) {
		t.Helper()
		c, err := ca.Issue([]string{host})
		if err != nil {
			t.Fatal(err)
		}
		if err := tlsconf.WritePEM(certFile, keyFile, c); err != nil {
			t.Fatal(err)
		}
	}
	write("one.test")
	fs, err := tlsconf.NewFileSource(certFile, keyFile, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	tc := tlsconf.Base("1.2")
	tc.GetCertificate = fs.GetCertificate
	g, err := Start([]Listener{{Name: "t", Address: "127.0.0.1:0", TLS: tc, Handler: http.NotFoundHandler()}}, serverSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	addr := g.Addrs()[0].String()
	name := func() string {
		st, err := handshake(addr, &tls.Config{RootCAs: ca.Pool(), ServerName: "one.test", InsecureSkipVerify: true}) // #nosec G402 -- inspecting the served cert
		if err != nil {
			t.Fatal(err)
		}
		return st.PeerCertificates[0].DNSNames[0]
	}
	if got := name(); got != "one.test" {
		t.Fatalf("served %s", got)
	}
	write("two.test")
	if changed, err := fs.Reload(); err != nil || !changed {
		t.Fatalf("reload: changed=%v err=%v", changed, err)
	}
	if got := name(); got != "two.test" {
		t.Errorf("after reload served %s", got)
	}
	// A broken file keeps the last good certificate.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Reload(); err == nil {
		t.Error("garbage certificate accepted")
	}
	if got := name(); got != "two.test" {
		t.Errorf("after failed reload served %s", got)
	}
}

func TestStartFailsCleanly(t *testing.T) {
	g, err := Start([]Listener{{Name: "a", Address: "127.0.0.1:0", Handler: http.NotFoundHandler()}}, serverSettings(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	taken := g.Addrs()[0].String()
	_, err = Start([]Listener{{Name: "b", Address: "127.0.0.1:0", Handler: http.NotFoundHandler()}, {Name: "c", Address: taken, Handler: http.NotFoundHandler()}},
		serverSettings(), slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "(c)") {
		t.Fatalf("err = %v", err)
	}
}
