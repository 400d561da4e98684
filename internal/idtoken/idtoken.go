// Package idtoken is the stage that hands the upstream a signed identity:
// a short-lived ES256 JWT of the authenticated identity, audience the
// route's upstream, in a request header. An upstream that verifies it
// against Rampart's JWKS knows whom the gateway let through without
// trusting plain X-Rampart-* headers (which anyone who reaches the
// upstream directly could send).
//
// Tokens are cached per identity and audience and reused until half their
// lifetime has passed, so signing costs one ECDSA signature per identity
// per half-TTL, not per request.
//
// It does not own the signing keys (package signing) nor the identity
// (package authn).
package idtoken

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/signing"
)

// KeySource gives the key to sign with now.
type KeySource interface {
	Current() signing.Key
}

// maxCached bounds the token cache; when full it starts over.
const maxCached = 10000

// Stage signs identity tokens.
type Stage struct {
	cfg       config.IdentityToken
	audiences []string // per route: its upstream's name
	keys      KeySource
	now       func() time.Time

	mu      sync.Mutex
	cache   map[string]cached
	signers map[string]jose.Signer // by kid
}

type cached struct {
	token   string
	kid     string
	refresh time.Time
}

// Claims are the identity token's claims.
type Claims struct {
	jwt.Claims
	Roles  []string `json:"roles,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Scope  string   `json:"scope,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	SID    string   `json:"sid,omitempty"`
	AMR    []string `json:"amr,omitempty"`
	IDP    string   `json:"idp,omitempty"`
}

// Deps are what the identity-token stage is built with besides its config
// section.
type Deps struct {
	// Routes is the route table; each route's upstream is an audience.
	Routes []config.Route
	// Keys signs the tokens; required when identity tokens are on.
	Keys KeySource
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// New returns the stage, or nil and no error when identity tokens are off.
func New(cfg config.IdentityToken, d Deps) (*Stage, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	if d.Keys == nil {
		return nil, errors.New("identity_token: no signing keys")
	}
	routes, keys, now := d.Routes, d.Keys, d.Now
	if now == nil {
		now = time.Now
	}
	s := &Stage{cfg: cfg, keys: keys, now: now, cache: map[string]cached{}, signers: map[string]jose.Signer{}}
	for _, r := range routes {
		s.audiences = append(s.audiences, r.Upstream)
	}
	return s, nil
}

// Name returns "idtoken".
func (s *Stage) Name() string { return "idtoken" }

// Request queues the identity token for an authenticated request.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) error {
	if x.Identity == nil || x.Route == nil || x.Route.Index >= len(s.audiences) {
		return nil
	}
	tok, err := s.token(x.Identity, s.audiences[x.Route.Index])
	if err != nil {
		return fmt.Errorf("signing the identity token: %w", err)
	}
	x.SetUpstreamHeader(s.cfg.Header, tok)
	return nil
}

// cacheKey identifies what a token says: every field and list item
// length-prefixed, so no two identities share a key whatever bytes their
// claims hold, and the credential's expiry, which bounds exp.
func cacheKey(id *pipeline.Identity, aud string) string {
	b := make([]byte, 0, 128)
	field := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(append(b, ':'), s...)
	}
	for _, s := range []string{aud, id.Subject, id.Issuer, id.Tenant, id.Session, id.Method} {
		field(s)
	}
	for _, l := range [][]string{id.Roles, id.Groups, id.Scopes} {
		b = strconv.AppendInt(append(b, '#'), int64(len(l)), 10)
		for _, s := range l {
			field(s)
		}
	}
	b = strconv.AppendInt(append(b, '@'), id.ExpiresAt.Unix(), 10)
	return string(b)
}

func (s *Stage) token(id *pipeline.Identity, aud string) (string, error) {
	now := s.now()
	key := s.keys.Current()
	ck := cacheKey(id, aud)
	s.mu.Lock()
	if c, ok := s.cache[ck]; ok && now.Before(c.refresh) && c.kid == key.KID {
		s.mu.Unlock()
		return c.token, nil
	}
	signer, ok := s.signers[key.KID]
	s.mu.Unlock()
	if !ok {
		var err error
		signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key.Private},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", key.KID))
		if err != nil {
			return "", err
		}
	}
	jti := make([]byte, 12)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	exp := now.Add(s.cfg.TTL.Std())
	// A token never outlives the identity's own credential.
	if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(exp) {
		exp = id.ExpiresAt
	}
	c := Claims{
		Claims: jwt.Claims{Issuer: s.cfg.Issuer, Subject: id.Subject, Audience: jwt.Audience{aud},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(exp),
			ID: base64.RawURLEncoding.EncodeToString(jti)},
		Roles: id.Roles, Groups: id.Groups, Scope: strings.Join(id.Scopes, " "), Tenant: id.Tenant, SID: id.Session, IDP: id.Issuer,
	}
	if id.Method != "" {
		c.AMR = []string{id.Method}
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	if len(s.cache) >= maxCached {
		clear(s.cache)
	}
	if len(s.signers) > 8 { // old keys' signers
		clear(s.signers)
	}
	s.signers[key.KID] = signer
	s.cache[ck] = cached{token: tok, kid: key.KID, refresh: now.Add(exp.Sub(now) / 2)}
	s.mu.Unlock()
	return tok, nil
}
