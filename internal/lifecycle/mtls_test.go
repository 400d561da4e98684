package lifecycle

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/tlsconf"
)

// TestMTLSRoute drives client certificates through real handshakes: a
// verified certificate becomes an identity on a route that names the mtls
// authenticator; none gets 401 there; a foreign CA's fails the handshake;
// required mode refuses a handshake without one.
func TestMTLSRoute(t *testing.T) {
	up, s := gatewaytest.Upstream(t)
	dir := t.TempDir()
	ca, err := tlsconf.LoadOrCreateCA(dir) // the listener's CA signs client certificates too
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := tlsconf.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ca *tlsconf.CA, name string) tls.Certificate {
		c, err := ca.Issue([]string{name})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	billing, stranger, forged := issue(ca, "billing-service"), issue(ca, "stranger"), issue(foreign, "billing-service")

	for _, mode := range []string{"optional", "required"} {
		t.Run(mode, func(t *testing.T) {
			cfg := gatewaytest.Config(up.URL)
			cfg.DataDir = dir
			cfg.Listeners = []config.Listener{{Name: "https", Address: "127.0.0.1:0",
				TLS: &config.TLS{ClientAuth: &config.ClientAuth{CAFile: filepath.Join(dir, tlsconf.CACertFile), Mode: mode}}}}
			cfg.Admin.Disabled = true
			cfg.Authn.MTLS = []config.MTLS{{Name: "svc", Roles: map[string][]string{"billing-service": {"billing"}},
				AllowedSubjects: []string{"billing-service"}}}
			cfg.Routes[0].Public, cfg.Routes[0].Auth, cfg.Routes[0].Authz = false, []string{"svc"}, &config.Authz{Roles: []string{"billing"}}
			config.SetDefaults(cfg)
			for _, p := range config.Validate(cfg) {
				if !p.Warning {
					t.Fatalf("config: %v", p)
				}
			}
			started := make(chan Running, 1)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() {
				done <- Serve(ctx, ServeOptions{Config: cfg, Stdout: io.Discard, Started: func(r Running) { started <- r }})
			}()
			var r Running
			select {
			case r = <-started:
			case err := <-done:
				t.Fatal(err)
			case <-time.After(20 * time.Second):
				t.Fatal("not started")
			}
			defer func() { cancel(); <-done }()
			get := func(cert *tls.Certificate, path string) (int, error) {
				tc := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
				if cert != nil {
					tc.Certificates = []tls.Certificate{*cert}
				}
				tr := &http.Transport{TLSClientConfig: tc}
				defer tr.CloseIdleConnections()
				resp, err := (&http.Client{Transport: tr}).Get("https://" + r.Listeners[0].String() + path)
				if err != nil {
					return 0, err
				}
				resp.Body.Close()
				return resp.StatusCode, nil
			}

			if code, err := get(&billing, "/api/items/1"); err != nil || code != 200 {
				t.Fatalf("billing-service: %d %v", code, err)
			}
			if _, _, h, _ := s.Get(); h.Get("X-Rampart-Subject") != "billing-service" || h.Get("X-Rampart-Roles") != "billing" || h.Get("X-Rampart-Auth-Method") != "mtls" {
				t.Errorf("identity upstream: %v", h)
			}
			if code, err := get(&stranger, "/api/items/1"); err != nil || code != 401 {
				t.Errorf("subject not in allowed_subjects: %d %v", code, err)
			}
			if _, err := get(&forged, "/api/items/1"); err == nil {
				t.Error("a certificate from a foreign CA completed the handshake")
			}
			code, err := get(nil, "/api/admin/stats") // a public route
			switch mode {
			case "optional":
				if err != nil || code != 200 {
					t.Errorf("public route without a certificate: %d %v", code, err)
				}
				if code, err := get(nil, "/api/items/1"); err != nil || code != 401 {
					t.Errorf("mtls route without a certificate: %d %v", code, err)
				}
			case "required":
				if err == nil {
					t.Error("required mode accepted a handshake without a certificate")
				}
			}
		})
	}
}
