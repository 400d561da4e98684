package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Canary is the scanner's own loopback HTTP server. A check plants its
// URL, with a fresh token, where the target might fetch it (SSRF, jku,
// x5u); a request that reaches the canary with the token is proof.
// It is safe for concurrent use.
type Canary struct {
	ln  net.Listener
	srv *http.Server

	mu   sync.Mutex        // guards hits
	hits map[string]string // token -> remote address of the first hit
	// Serve, when set for a token, is the body served at its URL (a JWKS
	// for the jku check).
	bodies map[string][]byte
}

func newCanary() (*Canary, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the SSRF canary: %w", err)
	}
	c := &Canary{ln: ln, hits: map[string]string{}, bodies: map[string][]byte{}}
	c.srv = &http.Server{Handler: http.HandlerFunc(c.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = c.srv.Serve(ln) }()
	return c, nil
}

func (c *Canary) serve(w http.ResponseWriter, r *http.Request) {
	token := strings.Trim(strings.TrimPrefix(r.URL.Path, "/c/"), "/")
	if i := strings.IndexByte(token, '/'); i >= 0 {
		token = token[:i]
	}
	c.mu.Lock()
	if _, seen := c.hits[token]; !seen {
		c.hits[token] = r.RemoteAddr
	}
	body := c.bodies[token]
	c.mu.Unlock()
	if body != nil {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write([]byte("rampart-canary " + token + "\n")) // #nosec G705 -- text/plain, nosniff
}

// Addr is the canary's host:port.
func (c *Canary) Addr() string { return c.ln.Addr().String() }

// Token returns a fresh, unguessable token.
func (c *Canary) Token() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// URL is the canary URL for token.
func (c *Canary) URL(token string) string { return "http://" + c.Addr() + "/c/" + token }

// ServeBody makes the canary answer token's URL with body.
func (c *Canary) ServeBody(token string, body []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bodies[token] = body
}

// Hit waits up to wait for a request carrying token and reports whether
// one came.
func (c *Canary) Hit(ctx context.Context, token string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		c.mu.Lock()
		_, ok := c.hits[token]
		c.mu.Unlock()
		if ok || time.Now().After(deadline) {
			return ok
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// Close stops the canary.
func (c *Canary) Close() { _ = c.srv.Close() }
