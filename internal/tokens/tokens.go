// Package tokens is Rampart's own OAuth2 authorization server for the
// client-credentials grant (RFC 6749 section 4.4), with token revocation
// (RFC 7009) and server metadata (RFC 8414). Its clients are API keys:
// client_id is a key's id and client_secret the whole key, checked through
// package apikey (keyed hash, constant time, expiry, revocation, CIDR
// binding). An access token is an ES256 JWT carrying the key's subject,
// roles and the scopes asked for (a subset of the key's); routes accept it
// through a JWT authenticator fed with this server's keys and revocations.
//
// It does not own the signing keys (package signing), the clients (package
// apikey and the store) or the verification of its tokens (package
// authn/jwtauth).
package tokens

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/signing"
	"github.com/rampart-gw/rampart/internal/store"
)

// maxFormBytes bounds a token or revocation request.
const maxFormBytes = 8 << 10

// Server serves the token endpoints.
type Server struct {
	parsed  atomic.Pointer[keySnap] // keys.JWKS(), parsed
	cfg     config.TokenServer
	st      *store.Store
	hasher  *apikey.Hasher
	keys    *signing.Manager
	revoked *Revocations
	now     func() time.Time
	log     *slog.Logger
}

// Options configures a Server.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
}

// New returns the server.
func New(cfg config.TokenServer, st *store.Store, h *apikey.Hasher, keys *signing.Manager, rev *Revocations, o Options) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, st: st, hasher: h, keys: keys, revoked: rev, now: o.Now, log: o.Logger}
}

// Routes returns the routes the gateway adds for the endpoints: public,
// so that they run through the firewall and the pre-authentication
// limits, and answered by the server instead of an upstream.
func Routes(cfg config.TokenServer) []config.Route {
	p := cfg.Path
	return []config.Route{
		{Name: "rampart-token", Path: p + "/token", Methods: []string{"POST"}, Public: true},
		{Name: "rampart-revoke", Path: p + "/revoke", Methods: []string{"POST"}, Public: true},
		{Name: "rampart-jwks", Path: "/.well-known/jwks.json", Methods: []string{"GET"}, Public: true},
		{Name: "rampart-oauth-metadata", Path: "/.well-known/oauth-authorization-server", Methods: []string{"GET"}, Public: true},
	}
}

// ServeHTTP answers the endpoint the request's route names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := pipeline.FromContext(r.Context())
	if x == nil || x.Route == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch x.Route.Name {
	case "rampart-token":
		s.token(w, r, x)
	case "rampart-revoke":
		s.revoke(w, r, x)
	case "rampart-jwks":
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write(s.keys.JWKS())
	default:
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                                s.cfg.Issuer,
			"token_endpoint":                        s.cfg.Issuer + s.cfg.Path + "/token",
			"revocation_endpoint":                   s.cfg.Issuer + s.cfg.Path + "/revoke",
			"jwks_uri":                              s.cfg.Issuer + "/.well-known/jwks.json",
			"grant_types_supported":                 []string{"client_credentials"},
			"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"revocation_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post"},
			"response_types_supported":                   []string{}, // no authorization endpoint
		})
	}
}

// oauthError writes an RFC 6749 section 5.2 error.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="rampart", charset="UTF-8"`)
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// form reads a bounded application/x-www-form-urlencoded body. Parameters
// may not repeat (RFC 6749 section 3.2).
func form(r *http.Request) (url.Values, string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, "the body must be application/x-www-form-urlencoded"
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return nil, "the body is not a readable form"
	}
	if len(r.URL.RawQuery) > 0 {
		return nil, "parameters belong in the body, not the query"
	}
	for k, v := range r.PostForm {
		if len(v) > 1 {
			return nil, "parameter " + k + " is repeated"
		}
	}
	return r.PostForm, ""
}

// client authenticates the client: HTTP Basic (RFC 6749 section 2.3.1,
// form-encoded id and secret) or the body's client_id and client_secret,
// never both. It returns the key's record.
func (s *Server) client(r *http.Request, f url.Values, peer netip.Addr) (store.APIKey, string) {
	id, secret, basic := r.BasicAuth()
	if basic {
		if f.Has("client_secret") || f.Has("client_id") && f.Get("client_id") != id {
			return store.APIKey{}, "invalid_request"
		}
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return store.APIKey{}, "invalid_client"
		}
	} else {
		id, secret = f.Get("client_id"), f.Get("client_secret")
	}
	if id == "" || secret == "" {
		return store.APIKey{}, "invalid_client"
	}
	keyID, keySecret, err := apikey.Parse(secret)
	if err != nil || keyID != id {
		return store.APIKey{}, "invalid_client"
	}
	rec, err := s.st.APIKey(r.Context(), keyID)
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.APIKey{}, "server_error"
	}
	if s.hasher.Check(rec, found, keySecret, peer, s.now()) != apikey.Valid {
		return store.APIKey{}, "invalid_client"
	}
	return rec, ""
}

// authenticated reads the form and authenticates the client, answering
// the error itself when either fails (ok false).
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request, x *pipeline.Exchange) (url.Values, store.APIKey, bool) {
	f, bad := form(r)
	if bad != "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", bad)
		return nil, store.APIKey{}, false
	}
	rec, fail := s.client(r, f, x.ClientIP)
	switch fail {
	case "":
		return f, rec, true
	case "invalid_client":
		oauthError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
	case "server_error":
		oauthError(w, http.StatusServiceUnavailable, "server_error", "Try again shortly.")
	default:
		oauthError(w, http.StatusBadRequest, fail, "Authenticate the client one way only.")
	}
	return nil, store.APIKey{}, false
}

func (s *Server) token(w http.ResponseWriter, r *http.Request, x *pipeline.Exchange) {
	f, rec, ok := s.authenticated(w, r, x)
	if !ok {
		return
	}
	if !f.Has("grant_type") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type is required.")
		return
	}
	if f.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported.")
		return
	}
	scopes := rec.Scopes
	if f.Has("scope") {
		scopes = strings.Fields(f.Get("scope"))
		for _, sc := range scopes {
			if !slices.Contains(rec.Scopes, sc) {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "A requested scope is not granted to this client.")
				return
			}
		}
	}
	tok, exp, err := s.issue(rec, scopes)
	if err != nil {
		s.log.Error("token server: signing failed", "client_id", rec.ID, "error", err)
		oauthError(w, http.StatusInternalServerError, "server_error", "The token could not be issued.")
		return
	}
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(exp.Seconds())}
	if len(scopes) > 0 {
		resp["scope"] = strings.Join(scopes, " ")
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, resp)
}

// accessClaims are the claims of an access token.
type accessClaims struct {
	jwt.Claims
	Scope    string   `json:"scope,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	ClientID string   `json:"client_id"`
}

func (s *Server) issue(rec store.APIKey, scopes []string) (string, time.Duration, error) {
	key := s.keys.Current()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Private},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", key.KID))
	if err != nil {
		return "", 0, err
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", 0, err
	}
	now := s.now()
	ttl := s.cfg.TTL.Std()
	if !rec.ExpiresAt.IsZero() && rec.ExpiresAt.Sub(now) < ttl { // never past the client's own expiry
		ttl = rec.ExpiresAt.Sub(now).Truncate(time.Second)
	}
	c := accessClaims{
		Claims: jwt.Claims{Issuer: s.cfg.Issuer, Subject: rec.Subject, Audience: jwt.Audience{s.cfg.Audience},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(ttl)),
			ID: base64.RawURLEncoding.EncodeToString(jti)},
		Scope: strings.Join(scopes, " "), Roles: rec.Roles, ClientID: rec.ID,
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	return tok, ttl, err
}

// revoke implements RFC 7009: a client revokes one of its own tokens; the
// answer is 200 whether or not the token was valid, so that it reveals
// nothing.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request, x *pipeline.Exchange) {
	f, rec, ok := s.authenticated(w, r, x)
	if !ok {
		return
	}
	tok := f.Get("token")
	if tok == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token is required.")
		return
	}
	c, err := s.verify(r.Context(), tok)
	if err != nil || c.ClientID != rec.ID {
		w.WriteHeader(http.StatusOK) // not ours, or another client's: nothing to do (RFC 7009 section 2.2)
		return
	}
	if c.Expiry.Time().After(s.now()) {
		if err := s.revoked.Revoke(r.Context(), c.ID, c.Expiry.Time()); err != nil {
			oauthError(w, http.StatusServiceUnavailable, "server_error", "Try again shortly.")
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

// Revocations is the set of revoked token ids: written through to the
// store, and reread from it every interval so that a revocation on one
// gateway reaches the others.
type Revocations struct {
	st  *store.Store
	now func() time.Time
	mu  sync.RWMutex // guards set and recent
	set map[string]bool
	// recent holds this gateway's own revocations for a while, so that a
	// reload that read the store just before one was written keeps it.
	recent map[string]time.Time

	bg *background.Runner
}

// RevocationOptions configure NewRevocations.
type RevocationOptions struct {
	// Every is how often the store is reread. Keep it under a minute:
	// this gateway's own revocations are carried across rereads for a
	// minute. Default 10s.
	Every time.Duration
	// Now is the clock expiry is judged by; default time.Now.
	Now func() time.Time
	// Logger receives reread failures; nil discards them.
	Logger *slog.Logger
	// Background runs the rereads; nil gives the Revocations a runner of
	// its own on the system clock.
	Background *background.Runner
}

// NewRevocations loads the revoked ids and rereads them every o.Every.
func NewRevocations(ctx context.Context, st *store.Store, o RevocationOptions) (*Revocations, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Every <= 0 {
		o.Every = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Revocations{st: st, now: o.Now, set: map[string]bool{}, recent: map[string]time.Time{}}
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	log := o.Logger
	r.bg = background.Or(o.Background, log).Child()
	r.bg.Every("token revocations reread", o.Every, func(ctx context.Context) {
		// The store bounds the reread by store.timeout.
		if err := r.reload(ctx); err != nil {
			if errors.Is(err, store.ErrUnavailable) {
				// The store logs the outage once.
				log.Debug("token revocations: reread failed; the last list stays in force", "error", err)
			} else {
				log.Warn("token revocations: reread failed; the last list stays in force", "error", err)
			}
		}
	})
	return r, nil
}

func (r *Revocations) reload(ctx context.Context) error {
	ids, err := r.st.RevokedTokens(ctx, r.now())
	if err != nil {
		return err
	}
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		m[id] = true
	}
	r.mu.Lock()
	for id, at := range r.recent {
		if r.now().Sub(at) > time.Minute {
			delete(r.recent, id)
		} else {
			m[id] = true
		}
	}
	r.set = m
	r.mu.Unlock()
	return nil
}

// Revoke records jti as revoked until exp, here at once and in the store.
func (r *Revocations) Revoke(ctx context.Context, jti string, exp time.Time) error {
	if err := r.st.RevokeToken(ctx, jti, exp); err != nil {
		return err
	}
	r.mu.Lock()
	r.set[jti] = true
	r.recent[jti] = r.now()
	r.mu.Unlock()
	return nil
}

// Has reports whether jti is revoked.
func (r *Revocations) Has(jti string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.set[jti]
}

// Close stops the rereading.
func (r *Revocations) Close() error {
	r.bg.Close()
	return nil
}
