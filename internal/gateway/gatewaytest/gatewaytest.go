// Package gatewaytest holds what the gateway's and the lifecycle's tests
// share: an upstream that records what it received, with a few special
// paths, and a config that routes to it. It is imported only by tests.
package gatewaytest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

// Seen records what the upstream received last.
type Seen struct {
	mu     sync.Mutex
	path   string
	query  string
	header http.Header
	host   string
}

// Get returns the last request's path, raw query, headers and Host.
func (s *Seen) Get() (path, query string, header http.Header, host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.path, s.query, s.header, s.host
}

// Upstream starts an upstream that answers {"path": ...} with a Server and
// an X-Powered-By header to strip; /slow blocks until the test ends,
// /upload reads its body, /boom answers 500 with a stack-trace-like body.
func Upstream(t testing.TB) (*httptest.Server, *Seen) {
	t.Helper()
	s := &Seen{}
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.path, s.query, s.header, s.host = r.URL.Path, r.URL.RawQuery, r.Header.Clone(), r.Host
		s.mu.Unlock()
		switch r.URL.Path {
		case "/slow":
			<-block
		case "/upload":
			_, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return
			}
		case "/boom":
			http.Error(w, "panic: runtime error at main.go:42", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Server", "upstream/1.0")
		w.Header().Set("X-Powered-By", "PHP/5.1")
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q}`, r.URL.Path) // #nosec G705 -- a test upstream; JSON-quoted, served as application/json
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(block) }) // runs first: unblocks /slow
	return srv, s
}

// Config is a config with defaults set: one plaintext loopback listener,
// public routes to upstreamURL (items, admin, slow, upload, boom, any) and
// one to a dead upstream.
func Config(upstreamURL string) *config.Config {
	c := &config.Config{
		Version: 1,
		// Tests that start listeners set their own t.TempDir(); nothing
		// here may write into the source tree.
		DataDir:   filepath.Join(os.TempDir(), "rampart-gateway-test-unused"),
		Listeners: []config.Listener{{Address: "127.0.0.1:0", Plaintext: true}},
		Client:    config.Client{TrustedProxies: []string{"127.0.0.0/8"}},
		Headers:   config.Headers{CacheControl: "no-store"},
		Server:    config.Server{MaxBodyBytes: 1024, MaxHeaderBytes: 4096},
		Upstreams: map[string]config.Upstream{
			"api":  {URL: upstreamURL, ResponseHeaderTimeout: config.Duration(200 * time.Millisecond)},
			"dead": {URL: "http://127.0.0.1:1"},
		},
		Routes: []config.Route{
			{Name: "items", Path: "/api/items/{id}", Methods: []string{"GET", "PUT"}, Upstream: "api", Public: true},
			{Name: "admin", Path: "/api/admin/stats", Methods: []string{"GET"}, Upstream: "api", Public: true},
			{Name: "slow", Path: "/slow", Methods: []string{"GET"}, Upstream: "api", Public: true},
			{Name: "upload", Path: "/upload", Methods: []string{"POST"}, Upstream: "api", Public: true},
			{Name: "boom", Path: "/boom", Methods: []string{"GET"}, Upstream: "api", Public: true},
			{Name: "dead", Path: "/dead", Methods: []string{"GET"}, Upstream: "dead", Public: true},
			{Name: "any", Path: "/any/{rest...}", Methods: []string{"GET"}, Upstream: "api", Public: true},
		},
	}
	config.SetDefaults(c)
	return c
}
