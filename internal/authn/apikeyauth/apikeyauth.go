// Package apikeyauth is the API key authenticator: it checks a Rampart API
// key (package apikey) sent in a header or as a bearer token against the
// store, and maps the key's owner and grants to an identity.
//
// Key records are cached for revocation_delay (default 1s; see
// recordCache): a key revoked, rotated or created through rampart is seen
// as it now is by every gateway sharing the store within that delay, and
// an expired key is refused at once (expiry is checked on every request).
// With revocation_delay 0s every request reads the store. While the store
// cannot answer (within store.timeout), cached records are trusted for at
// most the delay after the last good read of the change counter, then
// requests are refused with 503 authn.store_unavailable, never admitted. The last-used time is
// recorded in batches off the request path, and kept for the next batch
// when the store is down. A malformed
// key (wrong shape or checksum) is refused before the store is touched; an
// unknown id and a wrong secret cost the same and get the same answer.
package apikeyauth

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/store"
)

// Options are settings that do not come from the config.
type Options struct {
	Now    func() time.Time
	Logger *slog.Logger
	// FlushInterval is how often last-used times are written. Default 30s.
	FlushInterval time.Duration
	// Background runs the writer of last-used times; nil gives the
	// Authenticator a runner of its own on the system clock.
	Background *background.Runner
}

// Authenticator checks API keys. It is safe for concurrent use; Close
// stops its background writer.
type Authenticator struct {
	cfg    config.APIKeyAuth
	store  *store.Store
	hasher *apikey.Hasher
	now    func() time.Time
	log    *slog.Logger

	mu   sync.Mutex // guards used
	used map[string]time.Time

	// cache holds key records for revocation_delay; nil reads the
	// store on every request.
	cache *recordCache

	bg        *background.Runner
	closeOnce sync.Once
}

// New builds an authenticator over a store.
func New(c config.APIKeyAuth, s *store.Store, o Options) (*Authenticator, error) {
	if s == nil {
		return nil, errors.New("authn.apikey " + c.Name + ": no store")
	}
	h, err := apikey.LoadOrCreatePepper(c.PepperFile)
	if err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 30 * time.Second
	}
	a := &Authenticator{cfg: c, store: s, hasher: h, now: o.Now, log: o.Logger, used: map[string]time.Time{},
		bg: background.Or(o.Background, o.Logger).Child()}
	a.bg.Every("apikey last-used writer", o.FlushInterval, func(context.Context) { a.flush() })
	if d := c.RevocationDelay; d != nil && d.Std() > 0 {
		a.cache = newRecordCache(d.Std(), o.Now)
		a.bg.Every("apikey change counter", max(d.Std()/2, time.Millisecond), func(ctx context.Context) {
			if err := a.cache.poll(ctx, s); err != nil && !errors.Is(err, store.ErrUnavailable) {
				// An outage is logged by the store, once.
				a.log.Warn("reading the api key change counter failed; keys are read from the store until it works", "error", err)
			}
		})
	}
	return a, nil
}

// Name returns the authenticator's config name.
func (a *Authenticator) Name() string { return a.cfg.Name }

// Challenge names the API key scheme.
func (a *Authenticator) Challenge() string {
	return `ApiKey realm="rampart", header="` + a.cfg.Header + `"`
}

// presented returns the key the request carries, "" for none.
func (a *Authenticator) presented(h pipeline.HeaderView) (string, error) {
	if v := h.Values(a.cfg.Header); len(v) > 0 {
		if len(v) > 1 {
			return "", authn.Unauthorized(authn.ReasonMalformed, "The request carries more than one API key.", nil)
		}
		return strings.TrimSpace(v[0]), nil
	}
	tok, err := authn.Bearer(h)
	if err != nil || !strings.HasPrefix(tok, apikey.Prefix) {
		return "", authn.ErrNoCredentials
	}
	return tok, nil
}

// Authenticate checks the request's API key.
func (a *Authenticator) Authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Identity, error) {
	key, err := a.presented(x.In.Header)
	if err != nil {
		return nil, err
	}
	id, secret, err := apikey.Parse(key)
	if err != nil {
		return nil, authn.Unauthorized(authn.ReasonMalformed, "The API key is malformed.", nil)
	}
	rec, found, err := a.record(ctx, id)
	if err != nil {
		d := &pipeline.Denial{Status: http.StatusServiceUnavailable, Reason: authn.ReasonStoreUnavailable,
			Message: "The API key cannot be checked right now.", Header: http.Header{"Retry-After": {"5"}}}
		if !errors.Is(err, store.ErrUnavailable) {
			// An outage is logged by the store, once; anything else is
			// logged with the refusal.
			d.Cause = err
		}
		return nil, d
	}
	now := a.now()
	switch a.hasher.Check(rec, found, secret, x.ClientIP, now) {
	case apikey.BadCredentials:
		return nil, authn.Unauthorized(authn.ReasonBadCredentials, "The API key is not valid.", nil)
	case apikey.Revoked:
		return nil, authn.Unauthorized(authn.ReasonKeyRevoked, "The API key was revoked.", nil)
	case apikey.Expired:
		return nil, authn.Unauthorized(authn.ReasonKeyExpired, "The API key has expired.", nil)
	case apikey.AddressNotAllowed:
		return nil, pipeline.Deny(http.StatusForbidden, authn.ReasonKeyAddressNotAllowed, "The API key may not be used from this address.")
	}
	a.mu.Lock()
	a.used[id] = now
	a.mu.Unlock()
	return &pipeline.Identity{Subject: rec.Subject, Roles: rec.Roles, Scopes: rec.Scopes, Method: "apikey",
		Authenticator: a.cfg.Name, CredentialID: "apikey:" + id, ExpiresAt: rec.ExpiresAt}, nil
}

func (a *Authenticator) flush() {
	a.mu.Lock()
	used := a.used
	a.used = map[string]time.Time{}
	a.mu.Unlock()
	if len(used) == 0 {
		return
	}
	// The store bounds the call by store.timeout; this goroutine is the
	// only one that waits for it.
	err := a.store.TouchAPIKeys(context.Background(), used)
	if err == nil {
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		a.log.Debug("recording api key use failed; retrying at the next flush", "error", err)
	} else {
		a.log.Warn("recording api key use failed; retrying at the next flush", "error", err)
	}
	// Kept for the next flush: only keys that passed the check are in
	// it, so it is bounded by the keys in the store.
	a.mu.Lock()
	for id, at := range used {
		if at.After(a.used[id]) {
			a.used[id] = at
		}
	}
	a.mu.Unlock()
}

// Close writes pending last-used times and stops the writer.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(func() {
		a.bg.Close()
		a.flush() // the uses since the last turn
	})
	return nil
}
