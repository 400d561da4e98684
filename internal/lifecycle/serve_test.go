package lifecycle

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServe runs the whole gateway: a TLS listener with the development CA,
// a redirect listener, the admin listener, the access log, a reload that
// adds a route, a reload that fails and keeps the old pipeline, and a
// graceful shutdown.
func TestServe(t *testing.T) {
	up, _ := gatewaytest.Upstream(t)
	dir := t.TempDir()
	base := func() *config.Config {
		c := gatewaytest.Config(up.URL)
		c.DataDir = dir
		c.Listeners = []config.Listener{
			{Name: "https", Address: "127.0.0.1:0", TLS: &config.TLS{}},
			{Name: "redirect", Address: "127.0.0.1:0", RedirectToHTTPS: true, HTTPSPort: 8443},
		}
		c.Admin.Address = "127.0.0.1:0"
		config.SetDefaults(c)
		return c
	}
	cfg := base()
	var (
		next    = base()
		loadErr error
		loadMu  sync.Mutex
	)
	next.Routes = append(next.Routes, config.Route{Name: "new", Path: "/new", Methods: []string{"GET"}, Upstream: "api", Public: true})
	config.SetDefaults(next)

	reload := make(chan struct{})
	started := make(chan Running, 1)
	done := make(chan error, 1)
	accessLog := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- Serve(ctx, ServeOptions{
			Config: cfg, Stdout: accessLog, Reload: reload, Started: func(r Running) { started <- r },
			Load: func() (*config.Config, error) {
				loadMu.Lock()
				defer loadMu.Unlock()
				return next, loadErr
			},
		})
	}()
	var r Running
	select {
	case r = <-started:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not started")
	}
	pem, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(url string) (int, http.Header) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	gw := "https://" + r.Listeners[0].String()
	if code, h := get(gw + "/api/items/1"); code != 200 || h.Get("Strict-Transport-Security") == "" {
		t.Fatalf("https: %d %v", code, h)
	}
	if code, h := get("http://" + r.Listeners[1].String() + "/api/items/1?a=b"); code != 308 || h.Get("Location") != "https://127.0.0.1:8443/api/items/1?a=b" {
		t.Errorf("redirect: %d %q", code, h.Get("Location"))
	}
	if code, _ := get("https://" + r.Admin.String() + "/healthz"); code != 200 {
		t.Errorf("admin health: %d", code)
	}
	if code, _ := get(gw + "/new"); code != 404 {
		t.Fatalf("before reload: %d", code)
	}

	// Reload is unbuffered: the second send returns once the first reload
	// is done.
	reload <- struct{}{}
	reload <- struct{}{}
	if code, _ := get(gw + "/new"); code != 200 {
		t.Fatalf("after reload: %d", code)
	}

	loadMu.Lock()
	loadErr = errors.New("broken config")
	loadMu.Unlock()
	reload <- struct{}{}
	reload <- struct{}{} // the first was taken: the failed reload is done
	if code, _ := get(gw + "/new"); code != 200 {
		t.Errorf("after failed reload: %d", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	if !strings.Contains(accessLog.String(), `"route":"new"`) {
		t.Errorf("access log lacks the reloaded route:\n%s", accessLog.String())
	}
}
