package misconfig_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/misconfig"
	"github.com/rampart-gw/rampart/internal/scan/tlsprobe/tlsprobetest"
)

const spec = `openapi: 3.0.3
info: {title: status, version: "1"}
paths:
  /:
    get:
      responses:
        "200": {description: a status page}
`

// tlsScan runs only the TLS rule against target.
func tlsScan(t *testing.T, target string, tr *http.Transport) *findings.Report {
	t.Helper()
	ctx := context.Background()
	sp, err := openapi.LoadData(ctx, []byte(spec), "spec.yaml", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	s, err := scan.New(scan.Options{Spec: sp, Target: u, Rate: 500, Transport: tr, Checks: []scan.Check{misconfig.Check{}}, Only: []string{misconfig.TLS.ID}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Complete {
		t.Fatalf("scan incomplete: %s", r.StopReason)
	}
	return r
}

// TestTLSBrokenSuites scans a real OpenSSL server that offers NULL and
// anonymous suites (which crypto/tls cannot offer, so only the raw
// probes see them) next to a modern one.
func TestTLSBrokenSuites(t *testing.T) {
	srv := tlsprobetest.OpenSSLServer(t, "ECDHE-RSA-AES128-GCM-SHA256:NULL-SHA:AECDH-NULL-SHA:@SECLEVEL=0", "-tls1_2")
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.Roots, MinVersion: tls.VersionTLS12}}
	r := tlsScan(t, "https://"+srv.Addr, tr)
	if len(r.Findings) != 1 {
		t.Fatalf("%d findings, want 1: %+v", len(r.Findings), r.Findings)
	}
	f := r.Findings[0]
	if f.Severity != findings.High || f.Title != "Broken TLS" {
		t.Errorf("severity %s, title %q; want high, Broken TLS", f.Severity, f.Title)
	}
	for _, want := range []string{"TLS_RSA_WITH_NULL_SHA accepted over TLS 1.2: no encryption", "TLS_ECDH_anon_WITH_NULL_SHA accepted over TLS 1.2"} {
		if !strings.Contains(f.Message, want) {
			t.Errorf("message %q lacks %q", f.Message, want)
		}
	}
	if strings.Contains(f.Message, "SSL 3.0") || strings.Contains(f.Message, "SSL 2.0") {
		t.Errorf("message %q claims SSL 2.0/3.0, which OpenSSL 3 does not speak", f.Message)
	}
}

// TestTLSRC4 scans a Go server that still offers RC4, which crypto/tls
// implements: RC4 is broken like the suites crypto/tls dropped.
func TestTLSRC4(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, // #nosec G402 -- a deliberately weak test server
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_RC4_128_SHA}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	r := tlsScan(t, srv.URL, srv.Client().Transport.(*http.Transport))
	if len(r.Findings) != 1 || r.Findings[0].Severity != findings.High ||
		!strings.Contains(r.Findings[0].Message, "TLS_ECDHE_RSA_WITH_RC4_128_SHA accepted over TLS 1.2: RC4") {
		t.Fatalf("findings: %+v", r.Findings)
	}
}

// TestTLSModern is the fixed twin: TLS 1.2 and 1.3 with AEAD suites only.
func TestTLSModern(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the probes' refused handshakes
	srv.StartTLS()
	defer srv.Close()
	r := tlsScan(t, srv.URL, srv.Client().Transport.(*http.Transport))
	if len(r.Findings) != 0 {
		t.Fatalf("findings on a modern server: %+v", r.Findings)
	}
	// Two crypto/tls version probes, one weak-suite probe, SSL 2.0,
	// SSL 3.0 and one legacy-suite probe, plus the pre-flight's requests.
	if r.Stats["requests"] < 6 {
		t.Errorf("%d requests: the probes did not all run", r.Stats["requests"])
	}
}
