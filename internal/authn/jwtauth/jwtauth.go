// Package jwtauth is the JWT authenticator: it verifies bearer JSON Web
// Tokens (RFC 7519) of one issuer and maps their claims to an identity.
//
// Defences, each against a known attack (see RFC 8725, JWT best practices):
//
//   - An algorithm allowlist per issuer, checked on the raw header before
//     any key is touched: "none" in any case and anything unlisted are
//     refused. HMAC algorithms are allowed only for an issuer configured
//     with a shared secret and nothing else, so a public key can never
//     serve as an HMAC secret (HS/RS key confusion).
//   - Keys come only from the configured JWKS or file. A token that carries
//     its own key or a pointer to one (jwk, jku, x5u, x5c) or critical
//     extensions (crit) is refused, never followed.
//   - kid is only a map key: never a path, a query or a URL. An unknown kid
//     refetches the JWKS at most once per min_refresh_interval, through
//     singleflight, so a flood of random kids costs one fetch.
//   - Signatures are verified by go-jose with Go's crypto, which rejects
//     ECDSA r=s=0 (CVE-2022-21449, "psychic signatures").
//   - Size bounded before decoding; duplicate JSON keys in header or claims
//     refused (parsers disagree on which one wins); iss exact, aud required,
//     exp, nbf and iat checked with a bounded leeway; required claims
//     enforced.
//
// Verified tokens are cached by SHA-256 of the token, bounded in size and
// never past exp or cache_ttl, so that steady traffic costs a hash, not a
// signature verification.
package jwtauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/background"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/jsonbody"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Options are settings that do not come from the config.
type Options struct {
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives JWKS fetch failures.
	Logger *slog.Logger
	// Background runs the refreshes of a stale JWKS; nil gives the
	// Authenticator a runner of its own on the system clock.
	Background *background.Runner
}

// Authenticator verifies one issuer's tokens. It is safe for concurrent
// use.
type Authenticator struct {
	cfg      config.JWT
	algs     []jose.SignatureAlgorithm
	allowed  map[string]bool
	keys     *keySet
	cache    *authn.Cache
	now      func() time.Time
	required []string
}

// New builds an authenticator from a validated config.
func New(c config.JWT, o Options) (*Authenticator, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Authenticator{cfg: c, allowed: map[string]bool{}, now: o.Now, required: c.RequiredClaims}
	for _, alg := range c.Algorithms {
		a.algs = append(a.algs, jose.SignatureAlgorithm(alg))
		a.allowed[alg] = true
	}
	var err error
	switch {
	case c.HMACSecretFile != "":
		a.keys, err = newHMACKeySet(c.HMACSecretFile)
	case c.KeysFile != "":
		a.keys, err = newStaticKeySet(c.KeysFile)
	default:
		discover := ""
		if c.Discovery {
			discover = c.Issuer
		}
		a.keys, err = newRemoteKeySet(c.JWKSURL, discover, c.CAFile, c.RefreshInterval.Std(), c.MinRefreshInterval.Std(), o.Now, o.Logger)
		if err == nil {
			a.keys.bg = background.Or(o.Background, o.Logger).Child()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("authn.jwt %s: %w", c.Name, err)
	}
	if c.CacheSize > 0 {
		a.cache = authn.NewCache(c.CacheSize)
	}
	return a, nil
}

// Close stops a background JWKS refresh and waits for it.
func (a *Authenticator) Close() error {
	if a.keys.bg != nil {
		a.keys.bg.Close()
	}
	return nil
}

// Name returns the authenticator's config name.
func (a *Authenticator) Name() string { return a.cfg.Name }

// Challenge returns the RFC 6750 challenge.
func (a *Authenticator) Challenge() string { return `Bearer realm="rampart"` }

// KeyFetches reports how many times the JWKS was fetched (for tests and
// metrics).
func (a *Authenticator) KeyFetches() int64 { return a.keys.fetches.Load() }

// header is the part of a JOSE header that is checked before verification.
type header struct {
	Alg  *string         `json:"alg"`
	Kid  *string         `json:"kid"`
	JWK  json.RawMessage `json:"jwk"`
	JKU  json.RawMessage `json:"jku"`
	X5U  json.RawMessage `json:"x5u"`
	X5C  json.RawMessage `json:"x5c"`
	Crit json.RawMessage `json:"crit"`
}

// Authenticate verifies the bearer token if it is a JWT of this issuer.
// The checks run in a fixed order: the token's shape and size; the
// cache; the unverified header and issuer (until the issuer is known the
// token may be another authenticator's); the header's algorithm, key
// pointers, extensions and kid; the signature; the claims.
func (a *Authenticator) Authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Identity, error) {
	tok, err := a.bearer(x)
	if err != nil {
		return nil, err
	}
	now := a.now()
	sum := sha256.Sum256([]byte(tok))
	if a.cache != nil {
		if id, ok := a.cache.Get(sum, now); ok && id != nil {
			return id, nil
		}
	}
	h, err := a.peek(tok)
	if err != nil {
		return nil, err
	}
	kid, err := a.checkHeader(h)
	if err != nil {
		return nil, err
	}
	payload, err := a.verify(ctx, tok, *h.Alg, kid)
	if err != nil {
		return nil, err
	}
	claims, std, err := a.checkClaims(payload, now)
	if err != nil {
		return nil, err
	}
	id, err := a.identity(claims, std, sum)
	if err != nil {
		return nil, err
	}
	a.remember(sum, id, now)
	return id, nil
}

// bearer returns the request's bearer token if it has the shape of a JWS
// compact token (else it is another authenticator's) and is not too large.
func (a *Authenticator) bearer(x *pipeline.Exchange) (string, error) {
	tok, err := authn.Bearer(x.In.Header)
	if err != nil {
		return "", err
	}
	if strings.Count(tok, ".") != 2 {
		return "", authn.ErrNoCredentials // not a JWS compact token: another authenticator's
	}
	if len(tok) > int(a.cfg.MaxTokenBytes) {
		return "", authn.Unauthorized(authn.ReasonTokenTooLarge, "The token is too large.", nil)
	}
	return tok, nil
}

// peek reads the token's header and, unverified, its issuer. Until the
// issuer is known, a token that does not read as a JWT may be another
// authenticator's (an opaque token with dots): it passes, saying why; a
// token of another issuer passes with authn.ErrOtherIssuer.
func (a *Authenticator) peek(tok string) (header, error) {
	unreadable := &authn.NotMine{Reason: authn.ReasonMalformed, Message: "The token is malformed."}
	seg := strings.SplitN(tok, ".", 3)
	hb, err := base64.RawURLEncoding.DecodeString(seg[0])
	if err != nil {
		return header{}, unreadable
	}
	var h header
	if err := decodeStrict(hb, &h); err != nil {
		return header{}, unreadable
	}
	// The issuer decides whose token it is: peek at iss, unverified.
	pb, err := base64.RawURLEncoding.DecodeString(seg[1])
	if err != nil {
		return header{}, unreadable
	}
	var peek struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(pb, &peek); err != nil {
		return header{}, unreadable
	}
	if peek.Iss != a.cfg.Issuer {
		return header{}, authn.ErrOtherIssuer
	}
	return h, nil
}

// checkHeader applies the header rules of this issuer's token before any
// key is touched: an allowed algorithm, no key of its own or pointer to
// one, no critical extensions, a bounded kid. It returns the kid ("" when
// there is none).
func (a *Authenticator) checkHeader(h header) (string, error) {
	switch {
	case h.Alg == nil:
		return "", authn.Unauthorized(authn.ReasonMalformed, "The token names no algorithm.", nil)
	case !a.allowed[*h.Alg]:
		return "", authn.Unauthorized(authn.ReasonAlgNotAllowed, "The token's algorithm is not accepted.", fmt.Errorf("alg %q", *h.Alg))
	case h.JWK != nil || h.JKU != nil || h.X5U != nil || h.X5C != nil:
		return "", authn.Unauthorized(authn.ReasonForeignKeyHeader, "The token carries its own key, which is never trusted.", nil)
	case h.Crit != nil:
		return "", authn.Unauthorized(authn.ReasonMalformed, "The token has critical extensions this gateway does not support.", nil)
	}
	if h.Kid == nil {
		return "", nil
	}
	if !validKID(*h.Kid) {
		return "", authn.Unauthorized(authn.ReasonUnknownKey, "The token's key is not known.", nil)
	}
	return *h.Kid, nil
}

// verify checks the token's signature with the configured keys for kid
// (those that name an algorithm only when it is alg) and returns the
// verified payload.
func (a *Authenticator) verify(ctx context.Context, tok, alg, kid string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(tok, a.algs)
	if err != nil {
		return nil, authn.Unauthorized(authn.ReasonMalformed, "The token is malformed.", err)
	}
	keys := a.keys.lookup(ctx, kid)
	if len(keys) == 0 {
		return nil, authn.Unauthorized(authn.ReasonUnknownKey, "The token's key is not known.", nil)
	}
	var payload []byte
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if payload, err = jws.Verify(k.Key); err == nil {
			break
		}
	}
	if payload == nil {
		return nil, authn.Unauthorized(authn.ReasonBadSignature, "The token's signature is not valid.", err)
	}
	return payload, nil
}

// checkClaims decodes a verified payload (refusing duplicate names),
// enforces the required claims, then checks iss, aud, exp, nbf and iat
// with the configured leeway.
func (a *Authenticator) checkClaims(payload []byte, now time.Time) (map[string]any, *jwt.Claims, error) {
	claims := map[string]any{}
	if err := decodeStrict(payload, &claims); err != nil {
		return nil, nil, authn.Unauthorized(authn.ReasonMalformed, "The token's claims are malformed.", err)
	}
	var std jwt.Claims
	if err := json.Unmarshal(payload, &std); err != nil {
		return nil, nil, authn.Unauthorized(authn.ReasonMalformed, "The token's claims are malformed.", err)
	}
	for _, c := range a.required {
		if v, ok := claims[c]; !ok || v == nil { // "exp": null is no expiry
			return nil, nil, authn.Unauthorized(authn.ReasonMissingClaim, "The token lacks a required claim.", fmt.Errorf("claim %q", c))
		}
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: a.cfg.Issuer, AnyAudience: a.cfg.Audiences, Time: now}, a.cfg.Leeway.Std()); err != nil {
		return nil, nil, claimDenial(err)
	}
	return claims, &std, nil
}

// remember caches a verified identity until the cache TTL or its expiry,
// whichever comes first.
func (a *Authenticator) remember(sum [32]byte, id *pipeline.Identity, now time.Time) {
	if a.cache == nil {
		return
	}
	until := now.Add(a.cfg.CacheTTL.Std())
	if !id.ExpiresAt.IsZero() && id.ExpiresAt.Before(until) {
		until = id.ExpiresAt
	}
	a.cache.Put(sum, id, until)
}

func claimDenial(err error) *pipeline.Denial {
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return authn.Unauthorized(authn.ReasonTokenExpired, "The token has expired.", err)
	case errors.Is(err, jwt.ErrNotValidYet):
		return authn.Unauthorized(authn.ReasonNotYetValid, "The token is not valid yet.", err)
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return authn.Unauthorized(authn.ReasonIssuedInFuture, "The token was issued in the future.", err)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return authn.Unauthorized(authn.ReasonWrongAudience, "The token is not meant for this API.", err)
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return authn.Unauthorized(authn.ReasonWrongIssuer, "The token's issuer is not accepted.", err)
	}
	return authn.Unauthorized(authn.ReasonMalformed, "The token's claims are not valid.", err)
}

// identity maps verified claims to an Identity.
func (a *Authenticator) identity(claims map[string]any, std *jwt.Claims, sum [32]byte) (*pipeline.Identity, error) {
	m := a.cfg.Claims
	sub, _ := authn.Claim(claims, m.Subject).(string)
	if sub == "" {
		return nil, authn.Unauthorized(authn.ReasonMissingClaim, "The token names no subject.", fmt.Errorf("claim %q", m.Subject))
	}
	id := &pipeline.Identity{
		Subject:       sub,
		Issuer:        a.cfg.Issuer,
		Roles:         authn.ClaimStrings(claims, m.Roles, false),
		Groups:        authn.ClaimStrings(claims, m.Groups, false),
		Scopes:        authn.ClaimStrings(claims, m.Scopes, true),
		Method:        "jwt",
		Authenticator: a.cfg.Name,
	}
	if m.Tenant != "" {
		id.Tenant, _ = authn.Claim(claims, m.Tenant).(string)
	}
	if m.Session != "" {
		id.Session, _ = authn.Claim(claims, m.Session).(string)
	}
	if std.Expiry != nil {
		id.ExpiresAt = std.Expiry.Time()
	}
	// The credential is named by its jti or a hash prefix; never itself.
	id.CredentialID = "sha256:" + hex.EncodeToString(sum[:6])
	if std.ID != "" {
		id.CredentialID = "jti:" + std.ID
	}
	return id, nil
}

// validKID bounds a kid to printable ASCII and 128 bytes.
func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > 128 {
		return false
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return false
		}
	}
	return true
}

// decodeStrict decodes a JSON object into v after checking that no object
// in it repeats a member name (parsers disagree on which duplicate wins;
// encoding/json matches "exp" and "Exp" alike) and that it nests at most
// 32 levels.
func decodeStrict(b []byte, v any) error {
	if err := jsonbody.CheckDuplicates(b, 32); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}
