// Package authn is the authentication stage: it runs the authenticators a
// route names, in order, and turns the first credential one of them
// accepts into the exchange's Identity, its scopes capped to what its
// roles allow (authz.max_scopes), or refuses the request.
//
// Each authenticator answers in one of four ways (see ory/oathkeeper's
// ErrAuthenticatorNotResponsible and caddy's Authenticator):
//
//   - ErrNoCredentials: no credential of its kind, try the next; a
//     *NotMine also says why, and when no authenticator accepts, the 401
//     gives the first NotMine's reason instead of "missing credentials";
//   - a *pipeline.Denial: a credential of its kind that is bad (expired,
//     forged, for another audience) or cannot be checked now (503): the
//     request is refused at once, never handed to the next authenticator,
//     so a bad token cannot fall through to a weaker scheme; 401s carry the
//     authenticators' WWW-Authenticate challenges;
//   - another error: the authenticator is broken (500);
//   - an Identity.
//
// The identity reaches the upstream as X-Rampart-* headers (subject,
// issuer, roles, groups, scopes, tenant, method); the proxy strips every
// inbound X-Rampart-* header first, so only Rampart can set them. Values are
// percent-encoded outside visible ASCII so that no claim can inject a
// header. The package also holds what authenticators share: Bearer,
// Unauthorized, the credential Cache and claim lookup (Claim,
// ClaimStrings). Authenticators live in jwtauth, apikeyauth, mtlsauth and
// introspect, the token server's in package tokens; the gateway builds
// them and hands them to New.
package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// ErrNoCredentials is returned by an Authenticator that finds no credential
// of its kind in the request.
var ErrNoCredentials = errors.New("no credentials of this kind")

// NotMine is an ErrNoCredentials that says why the authenticator passed:
// a token from an issuer it does not accept, or one it cannot read. The
// next authenticator still gets its turn (the credential may be another
// kind's, such as an opaque token with dots); if none takes it, the refusal
// gives the first NotMine's reason instead of "missing credentials".
type NotMine struct {
	Reason, Message string
}

func (n *NotMine) Error() string { return "not this authenticator's credential: " + n.Reason }

// Is makes a NotMine an ErrNoCredentials.
func (n *NotMine) Is(target error) bool { return target == ErrNoCredentials }

// ErrOtherIssuer is returned for a token from an issuer the authenticator
// does not accept.
var ErrOtherIssuer error = &NotMine{Reason: ReasonWrongIssuer, Message: "The token's issuer is not accepted here."}

// Authenticator establishes an identity from one kind of credential.
// Implementations are safe for concurrent use.
type Authenticator interface {
	// Name is the authenticator's name in the config.
	Name() string
	// Challenge is the WWW-Authenticate scheme and realm it answers 401s
	// with, such as `Bearer realm="rampart"`.
	Challenge() string
	// Authenticate returns an Identity, ErrNoCredentials, a
	// *pipeline.Denial, or an error for a broken authenticator.
	Authenticate(ctx context.Context, x *pipeline.Exchange) (*pipeline.Identity, error)
}

// Stage is the authn stage. It is immutable and safe for concurrent use.
type Stage struct {
	byRoute  [][]Authenticator
	scopeCap *ScopeCap
}

// Deps are what the authn stage is built with besides its config section.
type Deps struct {
	// Routes is the route table; each route lists its authenticators.
	Routes []config.Route
	// Authenticators are the built authenticators, by the name routes
	// use (authn.* in the config, and the token server's).
	Authenticators map[string]Authenticator
}

// New maps each route's auth list to d's authenticators.
//
// The stage reads one thing of the authz section, max_scopes: when set,
// an identity keeps only the scopes its roles allow (see CapScopes).
func New(az config.Permissions, d Deps) (*Stage, error) {
	routes, authenticators := d.Routes, d.Authenticators
	s := &Stage{byRoute: make([][]Authenticator, len(routes)), scopeCap: NewScopeCap(az.MaxScopes)}
	for i, r := range routes {
		for j, name := range r.Auth {
			a, ok := authenticators[name]
			if !ok {
				return nil, fmt.Errorf("routes[%d].auth[%d]: no authenticator named %q", i, j, name)
			}
			s.byRoute[i] = append(s.byRoute[i], a)
		}
	}
	return s, nil
}

// Name returns "authn".
func (s *Stage) Name() string { return "authn" }

// Request authenticates the request if its route names authenticators.
func (s *Stage) Request(ctx context.Context, x *pipeline.Exchange) error {
	if x.Route == nil || x.Route.Index >= len(s.byRoute) {
		return nil
	}
	list := s.byRoute[x.Route.Index]
	if len(list) == 0 {
		return nil // a public route
	}
	var passed *NotMine
	for _, a := range list {
		id, err := a.Authenticate(ctx, x)
		var nm *NotMine
		switch {
		case errors.As(err, &nm):
			if passed == nil {
				passed = nm
			}
			continue
		case errors.Is(err, ErrNoCredentials):
			continue
		case err != nil:
			if d, ok := pipeline.AsDenial(err); ok && d.Status == http.StatusUnauthorized {
				// Authenticators may share a denial between requests:
				// add the challenge to a copy.
				c := *d
				c.Header = d.Header.Clone()
				if c.Header == nil {
					c.Header = http.Header{}
				}
				c.Header.Set("WWW-Authenticate", a.Challenge()+`, error="invalid_token"`)
				return &c
			}
			return err
		}
		id = s.scopeCap.Apply(id)
		x.Identity = id
		queueHeaders(x, id)
		return nil
	}
	d := pipeline.Deny(http.StatusUnauthorized, ReasonMissingCredentials, "Authentication is required.")
	if passed != nil {
		d = pipeline.Deny(http.StatusUnauthorized, passed.Reason, passed.Message)
	}
	d.Header = http.Header{}
	for _, a := range list {
		d.Header.Add("WWW-Authenticate", a.Challenge())
	}
	return d
}

// Identity headers sent upstream.
const (
	HeaderSubject = "X-Rampart-Subject"
	HeaderIssuer  = "X-Rampart-Issuer"
	HeaderRoles   = "X-Rampart-Roles"
	HeaderGroups  = "X-Rampart-Groups"
	HeaderScopes  = "X-Rampart-Scopes"
	HeaderTenant  = "X-Rampart-Tenant"
	HeaderMethod  = "X-Rampart-Auth-Method"
)

func queueHeaders(x *pipeline.Exchange, id *pipeline.Identity) {
	x.SetUpstreamHeader(HeaderSubject, headerValue(id.Subject))
	x.SetUpstreamHeader(HeaderMethod, id.Method)
	if id.Issuer != "" {
		x.SetUpstreamHeader(HeaderIssuer, headerValue(id.Issuer))
	}
	if len(id.Roles) > 0 {
		x.SetUpstreamHeader(HeaderRoles, headerList(id.Roles, ","))
	}
	if len(id.Groups) > 0 {
		x.SetUpstreamHeader(HeaderGroups, headerList(id.Groups, ","))
	}
	if len(id.Scopes) > 0 {
		x.SetUpstreamHeader(HeaderScopes, headerList(id.Scopes, " "))
	}
	if id.Tenant != "" {
		x.SetUpstreamHeader(HeaderTenant, headerValue(id.Tenant))
	}
}

// headerValue percent-encodes what is not visible ASCII (and the list
// separators and %), so a claim can neither inject a header nor be split
// into two list items.
func headerValue(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		if c := s[i]; needsEscape(c) {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		} else {
			b = append(b, c)
		}
	}
	return string(b)
}

func needsEscape(c byte) bool { return c <= 0x20 || c >= 0x7f || c == '%' || c == ',' }

func headerList(items []string, sep string) string {
	var b strings.Builder
	for i, it := range items {
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(headerValue(it))
	}
	return b.String()
}

// Unauthorized returns a 401 denial with a stable reason, a public message
// and an internal cause; the stage adds the challenge.
func Unauthorized(reason, message string, cause error) *pipeline.Denial {
	return &pipeline.Denial{Status: http.StatusUnauthorized, Reason: reason, Message: message, Cause: cause}
}

// Bearer returns the request's bearer token (RFC 6750 section 2.1), or
// ErrNoCredentials when there is none; two Authorization headers are
// refused as ambiguous.
func Bearer(h pipeline.HeaderView) (string, error) {
	values := h.Values("Authorization")
	if len(values) == 0 {
		return "", ErrNoCredentials
	}
	if len(values) > 1 {
		return "", Unauthorized(ReasonMalformed, "The request has more than one Authorization header.", nil)
	}
	scheme, tok, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", ErrNoCredentials
	}
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", Unauthorized(ReasonMalformed, "The bearer token is empty.", nil)
	}
	return tok, nil
}

// ScopeCap is authz.max_scopes compiled: the scopes each role allows.
type ScopeCap struct {
	byRole map[string]map[string]bool
}

// NewScopeCap compiles a role-to-scopes map; nil or empty caps nothing.
func NewScopeCap(m map[string][]string) *ScopeCap {
	if len(m) == 0 {
		return nil
	}
	c := &ScopeCap{byRole: map[string]map[string]bool{}}
	for role, scopes := range m {
		set := map[string]bool{}
		for _, sc := range scopes {
			set[sc] = true
		}
		c.byRole[role] = set
	}
	return c
}

// Allowed reports whether any of roles allows scope.
func (c *ScopeCap) Allowed(roles []string, scope string) bool {
	if c == nil {
		return true
	}
	for _, r := range roles {
		if c.byRole[r][scope] {
			return true
		}
	}
	return false
}

// Apply returns id with the scopes its roles do not allow removed: id
// itself when nothing is removed, otherwise a copy (an authenticator may
// share identities between requests through its cache).
func (c *ScopeCap) Apply(id *pipeline.Identity) *pipeline.Identity {
	if c == nil || len(id.Scopes) == 0 {
		return id
	}
	n := 0
	for _, sc := range id.Scopes {
		if c.Allowed(id.Roles, sc) {
			n++
		}
	}
	if n == len(id.Scopes) {
		return id
	}
	cp := *id
	cp.Scopes = make([]string, 0, n)
	for _, sc := range id.Scopes {
		if c.Allowed(id.Roles, sc) {
			cp.Scopes = append(cp.Scopes, sc)
		}
	}
	return &cp
}
