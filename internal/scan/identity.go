package scan

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/textproto"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// Identity is one principal the scan acts as. Its credential comes from
// a static header, an OAuth2 client-credentials grant, a login request or
// a command; the dynamic ones are fetched on first use and refreshed when
// they expire or on a 401. It is safe for concurrent use.
type Identity struct {
	// Name is the identity's name in the config and in findings.
	Name string
	// Privileged marks an administrator: BOLA does not count its reads of
	// other identities' objects, and BFLA uses it as the control.
	Privileged bool
	// Subject is the id of the identity's own objects (its user id), from
	// the config or else the "sub" claim of its JWT.
	Subject string

	header string // header name, canonical
	tmpl   string // header value; "{token}" is replaced by a fetched token
	source tokenSource

	mu      sync.Mutex // guards token and expires
	token   string
	expires time.Time
}

// tokenSource fetches a fresh token.
type tokenSource interface {
	fetch(ctx context.Context) (token string, expires time.Time, err error)
}

// StaticIdentity returns an identity that sends header "Name: value".
func StaticIdentity(name, header string) (*Identity, error) {
	h, v, ok := strings.Cut(header, ":")
	h, v = strings.TrimSpace(h), strings.TrimSpace(v)
	if !ok || h == "" || v == "" || strings.ContainsAny(h, " \t\r\n") || strings.ContainsAny(v, "\r\n") {
		return nil, fmt.Errorf("identity %s: header must look like 'Authorization: Bearer TOKEN' or 'X-API-Key: KEY'", name)
	}
	id := &Identity{Name: name, header: textproto.CanonicalMIMEHeaderKey(h), tmpl: v}
	id.Subject = jwtSubject(v)
	return id, nil
}

// bind gives dynamic identities the scan's client for their token
// requests, so that they too stay on the allowed hosts.
func (id *Identity) bind(c *client) {
	if s, ok := id.source.(interface{ setClient(*client) }); ok {
		s.setClient(c)
	}
}

func (id *Identity) refreshable() bool { return id.source != nil }

// credential returns the header to send, fetching a token if needed.
func (id *Identity) credential(ctx context.Context) (string, string, error) {
	if id.source == nil {
		return id.header, id.tmpl, nil
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.token == "" || (!id.expires.IsZero() && time.Until(id.expires) < 10*time.Second) {
		if err := id.refreshLocked(ctx); err != nil {
			return "", "", err
		}
	}
	return id.header, strings.ReplaceAll(id.tmpl, "{token}", id.token), nil
}

func (id *Identity) refresh(ctx context.Context) error {
	id.mu.Lock()
	defer id.mu.Unlock()
	return id.refreshLocked(ctx)
}

func (id *Identity) refreshLocked(ctx context.Context) error {
	tok, exp, err := id.source.fetch(ctx)
	if err != nil {
		return fmt.Errorf("identity %s: %w", id.Name, err)
	}
	if tok == "" {
		return fmt.Errorf("identity %s: the token source returned an empty token", id.Name)
	}
	id.token, id.expires = tok, exp
	if id.Subject == "" {
		id.Subject = jwtSubject(tok)
	}
	return nil
}

// Token returns the identity's bearer token, if its credential is one
// (for the JWT checks).
func (id *Identity) Token(ctx context.Context) string {
	_, v, err := id.credential(ctx)
	if err != nil {
		return ""
	}
	if f := strings.Fields(v); len(f) == 2 && strings.EqualFold(f[0], "bearer") {
		return f[1]
	}
	if strings.Count(v, ".") == 2 && !strings.Contains(v, " ") {
		return v
	}
	return ""
}

// Header returns the name of the header carrying the credential.
func (id *Identity) Header() string { return id.header }

// WithToken returns a copy of the identity that sends token in place of
// its own (the JWT attacks).
func (id *Identity) WithToken(token string) *Identity {
	tmpl := id.tmpl
	if id.source == nil {
		_, v, _ := id.credential(context.Background())
		old := id.Token(context.Background())
		tmpl = strings.Replace(v, old, "{token}", 1)
	}
	return &Identity{Name: id.Name + " (forged)", Subject: id.Subject, header: id.header, tmpl: strings.ReplaceAll(tmpl, "{token}", token)}
}

// jwtSubject returns the sub claim of a JWT in v (a bare token or
// "Bearer TOKEN"), unverified: it only names the identity's own objects.
func jwtSubject(v string) string {
	if f := strings.Fields(v); len(f) == 2 {
		v = f[1]
	}
	parts := strings.Split(v, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var claims struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(b, &claims) != nil {
		return ""
	}
	return claims.Sub
}

// clientCredentials is an OAuth2 client-credentials grant (RFC 6749 4.4).
type clientCredentials struct {
	cfg clientcredentials.Config
	c   *client
}

func (s *clientCredentials) setClient(c *client) { s.c = c }

func (s *clientCredentials) fetch(ctx context.Context) (string, time.Time, error) {
	if s.c != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, s.c.http)
	}
	t, err := s.cfg.Token(ctx)
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return "", time.Time{}, fmt.Errorf("client credentials grant at %s: status %d (%s)", s.cfg.TokenURL, re.Response.StatusCode, re.ErrorCode)
		}
		return "", time.Time{}, fmt.Errorf("client credentials grant at %s: %w", s.cfg.TokenURL, err)
	}
	return t.AccessToken, t.Expiry, nil
}

// login sends a login request and reads the token from its JSON response.
type login struct {
	req       *Request
	tokenPath jsonpath.Path
	pathText  string
	c         *client
}

func (s *login) setClient(c *client) { s.c = c }

func (s *login) fetch(ctx context.Context) (string, time.Time, error) {
	if s.c == nil {
		return "", time.Time{}, errors.New("login: no client")
	}
	ex, err := s.c.do(ctx, s.req, nil, true)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("login request %s %s: %w", s.req.Method, s.req.Path, err)
	}
	if ex.Resp.Status < 200 || ex.Resp.Status > 299 {
		return "", time.Time{}, fmt.Errorf("login request %s %s: status %d", s.req.Method, s.req.Path, ex.Resp.Status)
	}
	var tok string
	_, _, err = jsonpath.Rewrite(ex.Resp.Body, []jsonpath.Path{s.tokenPath}, func(m jsonpath.Match) (jsonpath.Edit, error) {
		if m.Kind == jsonpath.String && tok == "" {
			tok, _ = jsonpath.DecodeString(m.Value)
		}
		return jsonpath.Edit{}, nil
	})
	if err != nil {
		return "", time.Time{}, fmt.Errorf("login request %s %s: response is not JSON", s.req.Method, s.req.Path)
	}
	if tok == "" {
		return "", time.Time{}, fmt.Errorf("login request %s %s: no string at %s in the response", s.req.Method, s.req.Path, s.pathText)
	}
	return tok, tokenExpiry(tok), nil
}

// command runs a program that prints a token on stdout.
type command struct {
	argv []string
}

func (s *command) fetch(ctx context.Context) (string, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.argv[0], s.argv[1:]...) // #nosec G204 -- the user's own configured token command
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", time.Time{}, fmt.Errorf("token command %s: %w", s.argv[0], err)
	}
	tok := strings.TrimSpace(out.String())
	if strings.ContainsAny(tok, "\r\n") {
		return "", time.Time{}, fmt.Errorf("token command %s printed more than one line", s.argv[0])
	}
	return tok, tokenExpiry(tok), nil
}

// tokenExpiry reads a JWT's exp claim, unverified; zero when none.
func tokenExpiry(tok string) time.Time {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}
	}
	var claims struct {
		Exp float64 `json:"exp"`
	}
	if json.Unmarshal(b, &claims) != nil || claims.Exp == 0 {
		return time.Time{}
	}
	return time.Unix(int64(claims.Exp), 0)
}

// authHeader is a helper for the config: "Authorization: Bearer {token}"
// by default.
func authHeader(h string) (string, string, error) {
	if h == "" {
		return "Authorization", "Bearer {token}", nil
	}
	name, v, ok := strings.Cut(h, ":")
	if !ok || strings.TrimSpace(name) == "" || !strings.Contains(v, "{token}") {
		return "", "", fmt.Errorf("header %q must look like 'Authorization: Bearer {token}'", h)
	}
	return textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(v), nil
}
