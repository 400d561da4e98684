// Package admin serves the management listener: Prometheus metrics,
// health, and the management API (API keys under /v1/apikeys, network bans
// under /v1/bans, data keys under /v1/keys), behind the admin token; the
// encryption API (/v1/transit) for the admin token and API keys with a
// transit: scope; and the client the CLI uses to call it. Later issues add
// more of the API and the web console here.
//
// The listener binds to loopback unless the config says allow_remote, and
// every endpoint but the health probes needs "Authorization: Bearer TOKEN".
// The token is compared in constant time over its SHA-256 digest, so
// neither its content nor its length leaks through timing.
//
// It does not own the admin token's storage (LoadOrCreateToken writes it),
// the listener itself (package server) or the ban list it manages (package
// firewall).
package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/firewall"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/problem"
	"github.com/rampart-gw/rampart/internal/secretfile"
	"github.com/rampart-gw/rampart/internal/store"
)

// Options configures the admin handler.
type Options struct {
	// Token is the admin token; required.
	Token string
	// Registry is served on /metrics.
	Registry *prometheus.Registry
	// Ready reports whether the gateway serves traffic (for /readyz).
	Ready func() bool
	// Store and Hasher enable the API key endpoints under /v1/apikeys.
	Store  *store.Store
	Hasher *apikey.Hasher
	// Record, when set, writes each administrative change (keys created,
	// revoked, rotated; bans added, removed) to the audit log.
	Record Recorder
	// MaxScopes is authz.max_scopes, enforced when keys are created.
	MaxScopes map[string][]string
	// JWKS, when set, serves the identity-token keys on
	// /.well-known/jwks.json, without the token: they are public keys.
	JWKS func() []byte
	// Bans enables the ban endpoints under /v1/bans.
	Bans *firewall.Bans
	// Keyring enables the data key endpoints under /v1/keys.
	Keyring *keyring.Keyring
	// EncryptionAPI also serves /v1/transit/{encrypt,decrypt,rewrap} to
	// the admin token and to API keys with the matching transit: scope.
	EncryptionAPI bool
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Recorder writes an administrative action: what was done, to whom (a
// subject, or empty) and the detail (never a secret).
type Recorder func(action, subject, detail string)

func (r Recorder) record(action, subject, detail string) {
	if r != nil {
		r(action, subject, detail)
	}
}

// New returns the admin handler.
func New(opt Options) (http.Handler, error) {
	if len(opt.Token) < 16 {
		return nil, errors.New("admin token must be at least 16 characters")
	}
	want := sha256.Sum256([]byte(opt.Token))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if opt.Ready != nil && !opt.Ready() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready\n"))
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	metrics := promhttp.HandlerFor(opt.Registry, promhttp.HandlerOpts{})
	mux.Handle("GET /metrics", authorized(want, metrics))
	if opt.JWKS != nil {
		mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/jwk-set+json")
			w.Header().Set("Cache-Control", "max-age=60") // a new key is published 2m before it signs
			_, _ = w.Write(opt.JWKS())
		})
	}
	if opt.Store != nil && opt.Hasher != nil {
		k := &keysAPI{record: opt.Record, keys: &LocalKeys{Store: opt.Store, Hasher: opt.Hasher, Now: opt.Now, MaxScopes: opt.MaxScopes}}
		mux.Handle("POST /v1/apikeys", authorized(want, jsonOnly(http.HandlerFunc(k.create))))
		mux.Handle("GET /v1/apikeys", authorized(want, http.HandlerFunc(k.list)))
		mux.Handle("POST /v1/apikeys/{id}/revoke", authorized(want, jsonOnly(http.HandlerFunc(k.revoke))))
		mux.Handle("POST /v1/apikeys/{id}/rotate", authorized(want, jsonOnly(http.HandlerFunc(k.rotate))))
	}
	if opt.Bans != nil {
		b := &bansAPI{bans: opt.Bans, record: opt.Record}
		mux.Handle("GET /v1/bans", authorized(want, http.HandlerFunc(b.list)))
		mux.Handle("POST /v1/bans", authorized(want, jsonOnly(http.HandlerFunc(b.add))))
		// DELETE cannot be sent cross-site without a CORS preflight, which
		// this API never grants; the network is in the query.
		mux.Handle("DELETE /v1/bans", authorized(want, http.HandlerFunc(b.remove)))
	}
	if opt.Keyring != nil {
		now := opt.Now
		if now == nil {
			now = time.Now
		}
		a := &dataKeysAPI{ring: opt.Keyring, record: opt.Record, want: want, store: opt.Store, hasher: opt.Hasher, now: now}
		a.routes(mux, opt.EncryptionAPI)
	}
	return secure(mux), nil
}

// authorized lets a request through only with the admin token.
func authorized(want [32]byte, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			problem.Write(w, http.StatusUnauthorized, "admin.unauthorized", "The admin token is missing or wrong.", "",
				http.Header{"Www-Authenticate": {`Bearer realm="rampart-admin"`}})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secure sets the headers every admin response carries.
func secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Strict-Transport-Security", "max-age=63072000")
		next.ServeHTTP(w, r)
	})
}

// LoadOrCreateToken reads the admin token from path, or creates one (256
// random bits, base64url) with mode 0600 when the file does not exist. Of
// gateways starting at once on one file, one creates it and all use its
// token; a file that is a symlink, not regular, or open to group or others
// is refused (see secretfile).
func LoadOrCreateToken(path string) (string, error) {
	b, _, err := secretfile.LoadOrCreate(path, newToken, func(b []byte) error {
		_, err := parseToken(b)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return parseToken(b)
}

func newToken() ([]byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, err
	}
	return []byte("rpa_" + base64.RawURLEncoding.EncodeToString(raw[:]) + "\n"), nil
}

// parseToken returns the token a token file holds: its content without
// surrounding white space, at least 16 characters.
func parseToken(b []byte) (string, error) {
	tok := strings.TrimSpace(string(b))
	if len(tok) < 16 {
		return "", errors.New("the token is shorter than 16 characters")
	}
	return tok, nil
}
