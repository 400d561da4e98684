package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/tlsconf"
)

// TestUpstreamMTLS proxies to an HTTPS upstream that trusts only a private
// CA's client certificates, over a real TLS handshake each way.
func TestUpstreamMTLS(t *testing.T) {
	dir := t.TempDir()
	ca, err := tlsconf.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := ca.Issue([]string{"upstream.internal"})
	if err != nil {
		t.Fatal(err)
	}
	clientCert, err := ca.Issue([]string{"rampart-gateway"})
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := tlsconf.WritePEM(certFile, keyFile, clientCert); err != nil {
		t.Fatal(err)
	}

	var peer string
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer = r.TLS.PeerCertificates[0].DNSNames[0]
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{serverCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	up.StartTLS()
	defer up.Close()

	routes := []config.Route{{Name: "r", Path: "/x", Methods: []string{"GET"}, Upstream: "u"}}
	newProxy := func(t *testing.T, ut config.UpstreamTLS) *Proxy {
		t.Helper()
		u := config.Upstream{URL: up.URL, TLS: ut, ConnectTimeout: config.Duration(1e9),
			ResponseHeaderTimeout: config.Duration(5e9), IdleConnTimeout: config.Duration(1e9), MaxIdleConns: 4}
		p, err := New(map[string]config.Upstream{"u": u}, Deps{Routes: routes, RequestIDHeader: "X-Request-Id"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	call := func(p *Proxy) *pipeline.Exchange {
		x := &pipeline.Exchange{}
		x.Reset()
		x.Path, x.Route = "/x", &pipeline.Route{Index: 0, Name: "r"}
		req := httptest.NewRequest("GET", "/x", nil).WithContext(pipeline.WithExchange(context.Background(), x))
		w := httptest.NewRecorder()
		p.ServeHTTP(w, req)
		if x.Denial == nil && w.Body.String() != "/x" {
			t.Errorf("body %q", w.Body)
		}
		return x
	}
	caFile := filepath.Join(dir, tlsconf.CACertFile)

	ok := newProxy(t, config.UpstreamTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "upstream.internal"})
	if x := call(ok); x.Denial != nil {
		t.Fatalf("mTLS upstream: %v", x.Denial)
	}
	if peer != "rampart-gateway" {
		t.Errorf("upstream saw client %q", peer)
	}
	// Without the private CA, the upstream's certificate is not trusted.
	if x := call(newProxy(t, config.UpstreamTLS{CertFile: certFile, KeyFile: keyFile, ServerName: "upstream.internal"})); x.Denial == nil || x.Denial.Status != 502 {
		t.Errorf("untrusted upstream: %+v", x.Denial)
	}
	// Without a client certificate, the upstream refuses the handshake.
	if x := call(newProxy(t, config.UpstreamTLS{CAFile: caFile, ServerName: "upstream.internal"})); x.Denial == nil || x.Denial.Status != 502 {
		t.Errorf("no client certificate: %+v", x.Denial)
	}
	// The wrong name fails verification.
	if x := call(newProxy(t, config.UpstreamTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "other.internal"})); x.Denial == nil {
		t.Error("wrong server name accepted")
	}
}

func TestNewErrors(t *testing.T) {
	routes := []config.Route{{Name: "r", Path: "/x", Methods: []string{"GET"}, Upstream: "u"}}
	for _, tc := range []struct {
		name string
		u    config.Upstream
	}{
		{"missing ca", config.Upstream{URL: "https://x", TLS: config.UpstreamTLS{CAFile: "/nonexistent/ca.pem"}}},
		{"missing client cert", config.Upstream{URL: "https://x", TLS: config.UpstreamTLS{CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"}}},
	} {
		if _, err := New(map[string]config.Upstream{"u": tc.u}, Deps{Routes: routes}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if _, err := New(map[string]config.Upstream{}, Deps{Routes: routes}); err == nil {
		t.Error("route to a missing upstream accepted")
	}
}

func TestSpoofable(t *testing.T) {
	for name, want := range map[string]bool{
		"X-Forwarded-For": true, "x-forwarded-prefix": true, "X-Rampart-Subject": true, "x-rampart-": true,
		"Forwarded": true, "X-Real-Ip": true, "X-Real": false, "Authorization": false, "X-Request-Id": false,
	} {
		if spoofable(name) != want {
			t.Errorf("spoofable(%q) = %v", name, !want)
		}
	}
}
