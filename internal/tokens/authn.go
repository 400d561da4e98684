package tokens

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// clientRecheck is how long a client's standing (not revoked, not expired)
// is trusted before the store is asked again: a revoked API key's access
// tokens stop working within this time.
const clientRecheck = 10 * time.Second

// maxVerified bounds the cache of verified tokens; when full it starts over.
const maxVerified = 10000

// Authenticator accepts the server's own access tokens. Unlike a generic
// JWT authenticator it knows what they stand for: each request checks that
// the token is not revoked and that its client (the API key) is still
// valid, allows no clock leeway (the server shares Rampart's clock), and
// names the credential by its client so that limits keyed on apikey hold
// however many tokens a key obtains.
type Authenticator struct {
	srv  *Server
	name string

	mu       sync.Mutex
	verified map[[32]byte]*accessClaims
	clients  map[string]clientState
}

type keySnap struct {
	raw []byte
	set jose.JSONWebKeySet
}

type clientState struct {
	ok      bool
	expires time.Time      // the key's own expiry, zero for none
	cidrs   []netip.Prefix // the key's network binding, if any
	checked time.Time
}

// Authenticator returns the authenticator for the server's tokens, named
// as routes list it.
func (s *Server) Authenticator() *Authenticator {
	return &Authenticator{srv: s, name: s.cfg.Authenticator, verified: map[[32]byte]*accessClaims{}, clients: map[string]clientState{}}
}

// Name returns the configured name.
func (a *Authenticator) Name() string { return a.name }

// Challenge returns the Bearer challenge.
func (a *Authenticator) Challenge() string { return `Bearer realm="rampart"` }

var (
	errRevoked       = authn.Unauthorized(authn.ReasonTokenRevoked, "The token has been revoked.", nil)
	errExpired       = authn.Unauthorized(authn.ReasonTokenExpired, "The token has expired.", nil)
	errBadSignature  = authn.Unauthorized(authn.ReasonBadSignature, "The token's signature does not verify.", nil)
	errClientRevoked = authn.Unauthorized(authn.ReasonClientRevoked, "The token's client is no longer valid.", nil)
	errNotOurs       = &authn.NotMine{Reason: authn.ReasonUnknownKey, Message: "The token is not signed by a known key."}
	// errClientUnknown: the store cannot say whether a client never seen
	// is valid. No cause: the store logs its outages once.
	errClientUnknown = &pipeline.Denial{Status: http.StatusServiceUnavailable, Reason: authn.ReasonStoreUnavailable,
		Message: "The token's client cannot be checked right now.", Header: http.Header{"Retry-After": {"5"}}}
)

// Authenticate verifies a bearer token issued by this server.
func (a *Authenticator) Authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Identity, error) {
	tok, err := authn.Bearer(x.In.Header)
	if err != nil {
		return nil, err
	}
	if strings.Count(tok, ".") != 2 || len(tok) > 8<<10 {
		return nil, authn.ErrNoCredentials
	}
	now := a.srv.now()
	sum := sha256.Sum256([]byte(tok))
	a.mu.Lock()
	c := a.verified[sum]
	a.mu.Unlock()
	if c == nil {
		if c, err = a.srv.verify(ctx, tok); err != nil {
			return nil, err
		}
		a.mu.Lock()
		if len(a.verified) >= maxVerified {
			clear(a.verified)
		}
		a.verified[sum] = c
		a.mu.Unlock()
	}
	if !now.Before(c.Expiry.Time()) || now.Before(c.NotBefore.Time()) {
		return nil, errExpired // no leeway: one clock signs and checks
	}
	if a.srv.revoked.Has(c.ID) {
		return nil, errRevoked
	}
	if err := a.clientValid(ctx, c.ClientID, x, now); err != nil {
		return nil, err
	}
	id := &pipeline.Identity{Subject: c.Subject, Issuer: c.Issuer, Roles: c.Roles, Scopes: strings.Fields(c.Scope),
		Method: "oauth", Authenticator: a.name, ExpiresAt: c.Expiry.Time(),
		// As the API key authenticator names it: per-key limits count
		// every token of a key together.
		CredentialID: "apikey:" + c.ClientID}
	return id, nil
}

// clientValid checks that the token's API key is still valid (not
// revoked, not expired, and, if it is bound to networks, used from one),
// asking the store at most every clientRecheck per client. It returns nil,
// errClientRevoked, or a 503 when the store cannot say for a client never
// seen. While the store is down, a client's last answer stands: one
// request per client and clientRecheck asks again (and waits for it, at
// most store.timeout), the others go on with the last answer meanwhile.
func (a *Authenticator) clientValid(ctx context.Context, clientID string, x *pipeline.Exchange, now time.Time) error {
	a.mu.Lock()
	st, ok := a.clients[clientID]
	stale := !ok || now.Sub(st.checked) > clientRecheck
	if ok && stale {
		claimed := st
		claimed.checked = now // this request rechecks; until then the last answer stands
		a.clients[clientID] = claimed
	}
	a.mu.Unlock()
	if stale {
		rec, err := a.srv.st.APIKey(ctx, clientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			st = clientState{checked: now}
		case err != nil:
			if !ok {
				// Never seen and the store cannot say: fail closed.
				return errClientUnknown
			}
			// The store is down: the last answer stands a while longer.
		default:
			st = clientState{ok: rec.RevokedAt.IsZero(), expires: rec.ExpiresAt, checked: now}
			for _, c := range rec.CIDRs {
				if p, err := netip.ParsePrefix(c); err == nil {
					st.cidrs = append(st.cidrs, p)
				}
			}
			if len(rec.CIDRs) > 0 && len(st.cidrs) == 0 {
				st.ok = false // bound to networks none of which parse: nowhere
			}
		}
		if err == nil || errors.Is(err, store.ErrNotFound) {
			a.mu.Lock()
			if len(a.clients) >= maxVerified {
				clear(a.clients)
			}
			a.clients[clientID] = st
			a.mu.Unlock()
		}
	}
	if !st.ok || (!st.expires.IsZero() && !now.Before(st.expires)) {
		return errClientRevoked
	}
	if len(st.cidrs) == 0 {
		return nil
	}
	ip := x.ClientIP.Unmap()
	for _, p := range st.cidrs {
		if p.Contains(ip) {
			return nil
		}
	}
	return errClientRevoked
}

// verify checks the signature (ES256, a kid of the current key set), the
// issuer and the audience, and the claims a token of ours always has.
func (s *Server) verify(ctx context.Context, tok string) (*accessClaims, error) {
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil || len(parsed.Headers) != 1 {
		return nil, errNotOurs
	}
	h := parsed.Headers[0]
	if h.JSONWebKey != nil || h.ExtraHeaders["jku"] != nil || h.ExtraHeaders["x5u"] != nil {
		return nil, errBadSignature
	}
	set := s.keySet()
	keys := set.Key(h.KeyID)
	if len(keys) == 0 {
		// Perhaps a key another gateway just made: reread (rate-limited).
		s.keys.RefreshIfStale(ctx)
		set = s.keySet()
		keys = set.Key(h.KeyID)
	}
	if len(keys) != 1 {
		return nil, errNotOurs
	}
	var c accessClaims
	if err := parsed.Claims(keys[0].Key, &c); err != nil {
		return nil, errBadSignature
	}
	if c.Issuer != s.cfg.Issuer || !c.Audience.Contains(s.cfg.Audience) || c.ID == "" || c.ClientID == "" ||
		c.Expiry == nil || c.NotBefore == nil {
		return nil, errBadSignature
	}
	return &c, nil
}

// keySet is the server's key set, parsed again only when it changes.
func (s *Server) keySet() jose.JSONWebKeySet {
	raw := s.keys.JWKS()
	if k := s.parsed.Load(); k != nil && string(k.raw) == string(raw) {
		return k.set
	}
	k := &keySnap{raw: raw}
	_ = json.Unmarshal(raw, &k.set)
	s.parsed.Store(k)
	return k.set
}
