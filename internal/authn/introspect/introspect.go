// Package introspect is the OAuth2 token introspection authenticator
// (RFC 7662): it asks the authorization server whether an opaque bearer
// token is active and maps the answer to an identity.
//
// Rampart authenticates to the endpoint with HTTP Basic (RFC 7662 section
// 2.1 requires the caller to be authorized), over TLS 1.2+ to the configured
// https URL only, with redirects refused. Answers are cached by SHA-256 of
// the token: active ones until their exp or cache_ttl, whichever is first
// (cache_ttl is the longest a revoked token keeps working), inactive ones
// for negative_cache_ttl, so a flood of bad tokens does not become a flood
// of introspection calls; concurrent calls for one token share one request
// (singleflight). When the endpoint cannot answer, the request is refused
// with 503: a token that cannot be checked grants nothing.
package introspect

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/trust"
)

// maxAnswerBytes bounds an introspection response.
const maxAnswerBytes = 64 << 10

// maxTokenBytes bounds a token sent for introspection.
const maxTokenBytes = 8 << 10

// Options are settings that do not come from the config.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives endpoint failures (never tokens).
	Logger *slog.Logger
}

// Authenticator introspects bearer tokens. It is safe for concurrent use.
type Authenticator struct {
	cfg    config.Introspection
	secret string
	client *http.Client
	cache  *authn.Cache
	flight singleflight.Group
	now    func() time.Time
	log    *slog.Logger
}

// New builds an authenticator from a validated config.
func New(c config.Introspection, o Options) (*Authenticator, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	b, err := os.ReadFile(c.ClientSecretFile) // #nosec G304 -- the operator names the secret file
	if err != nil {
		return nil, fmt.Errorf("authn.introspection %s: reading client_secret_file: %w", c.Name, err)
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if secret == "" {
		return nil, fmt.Errorf("authn.introspection %s: client_secret_file is empty", c.Name)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pool, err := trust.LoadPool(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("authn.introspection %s: ca_file: %w", c.Name, err)
		}
		tc.RootCAs = pool
	}
	a := &Authenticator{
		cfg: c, secret: secret, now: o.Now, log: o.Logger,
		client: &http.Client{
			Timeout:       c.Timeout.Std(),
			Transport:     &http.Transport{TLSClientConfig: tc, Proxy: nil, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	if c.CacheSize > 0 {
		a.cache = authn.NewCache(c.CacheSize)
	}
	return a, nil
}

// Name returns the authenticator's config name.
func (a *Authenticator) Name() string { return a.cfg.Name }

// Challenge returns the RFC 6750 challenge.
func (a *Authenticator) Challenge() string { return `Bearer realm="rampart"` }

// answer is what an introspection call decided, shared by concurrent
// callers of one token.
type answer struct {
	id     *pipeline.Identity
	denial *pipeline.Denial
}

// Authenticate introspects the bearer token.
func (a *Authenticator) Authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Identity, error) {
	tok, err := authn.Bearer(x.In.Header)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(tok, "rpk_") {
		return nil, authn.ErrNoCredentials // a Rampart API key: never sent to the authorization server
	}
	if len(tok) > maxTokenBytes {
		return nil, authn.Unauthorized(authn.ReasonTokenTooLarge, "The token is too large.", nil)
	}
	sum := sha256.Sum256([]byte(tok))
	now := a.now()
	if a.cache != nil {
		if id, ok := a.cache.Get(sum, now); ok {
			if id == nil {
				return nil, authn.Unauthorized(authn.ReasonTokenInactive, "The token is not active.", nil)
			}
			return id, nil
		}
	}
	v, _, _ := a.flight.Do(string(sum[:]), func() (any, error) {
		return a.introspect(ctx, tok, sum, now), nil
	})
	ans := v.(answer)
	if ans.denial != nil {
		// The answer is shared with every concurrent caller of this
		// token: each gets its own denial to add headers to.
		d := *ans.denial
		d.Header = ans.denial.Header.Clone()
		return nil, &d
	}
	return ans.id, nil
}

// response is the RFC 7662 section 2.2 answer.
type response struct {
	Active bool `json:"active"`
}

func (a *Authenticator) introspect(ctx context.Context, tok string, sum [32]byte, now time.Time) answer {
	unavailable := answer{denial: &pipeline.Denial{Status: http.StatusServiceUnavailable, Reason: authn.ReasonIntrospectionUnavailable,
		Message: "The token cannot be checked right now.", Header: http.Header{"Retry-After": {"5"}}}}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, a.cfg.URL, strings.NewReader(form.Encode()))
	if err != nil {
		unavailable.denial.Cause = err
		return unavailable
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(a.cfg.ClientID), url.QueryEscape(a.secret)) // RFC 6749 2.3.1
	resp, err := a.client.Do(req)
	if err != nil {
		a.log.Warn("token introspection failed", "authenticator", a.cfg.Name, "error", err)
		unavailable.denial.Cause = err
		return unavailable
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil || resp.StatusCode != http.StatusOK || len(body) > maxAnswerBytes {
		a.log.Warn("token introspection failed", "authenticator", a.cfg.Name, "status", resp.StatusCode, "error", err)
		unavailable.denial.Cause = fmt.Errorf("introspection status %d", resp.StatusCode)
		return unavailable
	}
	var base response
	claims := map[string]any{}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := json.Unmarshal(body, &base); err != nil || dec.Decode(&claims) != nil {
		a.log.Warn("token introspection returned no JSON object", "authenticator", a.cfg.Name)
		unavailable.denial.Cause = errors.New("introspection answer is not a JSON object")
		return unavailable
	}
	id, denial := a.identity(base.Active, claims, sum, now)
	if a.cache != nil {
		switch {
		case id != nil:
			until := now.Add(a.cfg.CacheTTL.Std())
			if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(until) {
				until = id.ExpiresAt
			}
			a.cache.Put(sum, id, until)
		case denial.Reason == authn.ReasonTokenInactive:
			a.cache.Put(sum, nil, now.Add(a.cfg.NegativeCacheTTL.Std()))
		}
	}
	return answer{id: id, denial: denial}
}

// identity checks an answer and maps it to an Identity.
func (a *Authenticator) identity(active bool, claims map[string]any, sum [32]byte, now time.Time) (*pipeline.Identity, *pipeline.Denial) {
	if !active {
		return nil, authn.Unauthorized(authn.ReasonTokenInactive, "The token is not active.", nil)
	}
	var exp time.Time
	if n, ok := claims["exp"].(json.Number); ok {
		sec, err := n.Int64()
		if err != nil {
			return nil, authn.Unauthorized(authn.ReasonMalformed, "The token's expiry is malformed.", err)
		}
		exp = time.Unix(sec, 0)
		if !now.Before(exp) {
			return nil, authn.Unauthorized(authn.ReasonTokenExpired, "The token has expired.", nil)
		}
	}
	if a.cfg.Issuer != "" {
		if iss, _ := claims["iss"].(string); iss != a.cfg.Issuer {
			return nil, authn.Unauthorized(authn.ReasonWrongIssuer, "The token's issuer is not accepted.", nil)
		}
	}
	if len(a.cfg.Audiences) > 0 {
		ok := false
		for _, aud := range authn.ClaimStrings(claims, []string{"aud"}, false) {
			ok = ok || slices.Contains(a.cfg.Audiences, aud)
		}
		if !ok {
			return nil, authn.Unauthorized(authn.ReasonWrongAudience, "The token is not meant for this API.", nil)
		}
	}
	m := a.cfg.Claims
	sub, _ := authn.Claim(claims, m.Subject).(string)
	if sub == "" {
		// RFC 7662 makes sub optional; a client-credentials token names
		// its client instead.
		sub, _ = claims["client_id"].(string)
	}
	if sub == "" {
		return nil, authn.Unauthorized(authn.ReasonMissingClaim, "The token names no subject.", nil)
	}
	id := &pipeline.Identity{
		Subject: sub, Roles: authn.ClaimStrings(claims, m.Roles, false), Groups: authn.ClaimStrings(claims, m.Groups, false),
		Scopes: authn.ClaimStrings(claims, m.Scopes, true), Method: "introspection", Authenticator: a.cfg.Name,
		CredentialID: "sha256:" + hex.EncodeToString(sum[:6]), ExpiresAt: exp,
	}
	id.Issuer, _ = claims["iss"].(string)
	if m.Tenant != "" {
		id.Tenant, _ = authn.Claim(claims, m.Tenant).(string)
	}
	if m.Session != "" {
		id.Session, _ = authn.Claim(claims, m.Session).(string)
	}
	return id, nil
}
