package scan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// File is scan.yaml: everything a scan needs, for CI. Flags override it.
type File struct {
	// Spec is the OpenAPI document, a path (relative to scan.yaml) or URL.
	Spec string `yaml:"spec"`
	// Target is the API's base URL; it overrides the spec's servers.
	Target string `yaml:"target"`
	// Seeds are HAR files or Postman collections of recorded requests
	// (paths relative to scan.yaml).
	Seeds []string `yaml:"seeds"`
	// Rate caps requests per second (default 20).
	Rate float64 `yaml:"rate"`
	// Budget caps the number of requests (default 5000).
	Budget int `yaml:"budget"`
	// AllowWrites lets the scan PUT, PATCH, POST and DELETE objects it
	// did not create (default false).
	AllowWrites bool `yaml:"allow_writes"`
	// FailOn is the lowest severity that fails the run (default high).
	FailOn string `yaml:"fail_on"`
	// Checks, if set, runs only the checks with these rule ids or prefixes.
	Checks []string `yaml:"checks"`
	// Skip leaves out checks by rule id or prefix.
	Skip []string `yaml:"skip"`
	// AllowHosts are extra host:port pairs the scan may contact (an
	// identity provider's token endpoint on another host).
	AllowHosts []string `yaml:"allow_hosts"`
	// Identities are the principals the scan acts as, by name.
	Identities map[string]IdentityFile `yaml:"identities"`
}

// IdentityFile is one identity in scan.yaml: exactly one of Header,
// ClientCredentials, Login or Command.
type IdentityFile struct {
	// Privileged marks an administrator.
	Privileged bool `yaml:"privileged"`
	// Subject is the id of the identity's own objects (default: the sub
	// claim of its JWT).
	Subject string `yaml:"subject"`
	// Header is a static credential, "Authorization: Bearer ..." or
	// "X-API-Key: ...". A value of the form ${NAME} is read from the
	// environment.
	Header string `yaml:"header"`
	// ClientCredentials runs an OAuth2 client-credentials grant.
	ClientCredentials *ClientCredentialsFile `yaml:"client_credentials"`
	// Login sends a request and reads the token from its JSON response.
	Login *LoginFile `yaml:"login"`
	// Command runs a program that prints a token.
	Command []string `yaml:"command"`
	// TokenHeader is how a fetched token is sent (default
	// "Authorization: Bearer {token}").
	TokenHeader string `yaml:"token_header"`
}

// ClientCredentialsFile configures an OAuth2 client-credentials grant.
type ClientCredentialsFile struct {
	TokenURL     string   `yaml:"token_url"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
}

// LoginFile configures a login request.
type LoginFile struct {
	Method string `yaml:"method"`
	// Path is the login path on the target, for example /login.
	Path string `yaml:"path"`
	// Body is the JSON body; ${NAME} is read from the environment.
	Body string `yaml:"body"`
	// TokenPath is a JSON path to the token in the response ($.token).
	TokenPath string `yaml:"token_path"`
}

// ParseFile reads scan.yaml strictly: unknown fields are errors with
// their line.
func ParseFile(name string, b []byte) (*File, error) {
	var f File
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) { // an empty file
			return &f, nil
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return &f, nil
}

// LoadFile reads scan.yaml from path.
func LoadFile(path string) (*File, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the user's own --config file
	if err != nil {
		return nil, fmt.Errorf("reading scan config: %w", err)
	}
	return ParseFile(path, b)
}

// expand reads ${NAME} from the environment; an unset variable is an error,
// never an empty credential.
func expand(where, v string) (string, error) {
	var missing []string
	out := os.Expand(v, func(name string) string {
		val, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("%s: environment variable %s is not set", where, strings.Join(missing, ", "))
	}
	return out, nil
}

// Identities builds the file's identities, sorted by name.
func (f *File) BuildIdentities() ([]*Identity, error) {
	names := make([]string, 0, len(f.Identities))
	for n := range f.Identities {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*Identity
	var errs []error
	for _, n := range names {
		id, err := buildIdentity(n, f.Identities[n])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, id)
	}
	return out, errors.Join(errs...)
}

func buildIdentity(name string, c IdentityFile) (*Identity, error) {
	where := "identities." + name
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	n := 0
	for _, set := range []bool{c.Header != "", c.ClientCredentials != nil, c.Login != nil, len(c.Command) > 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%s: set exactly one of header, client_credentials, login, command (got %d)", where, n)
	}
	var id *Identity
	if c.Header != "" {
		h, err := expand(where+".header", c.Header)
		if err != nil {
			return nil, err
		}
		if id, err = StaticIdentity(name, h); err != nil {
			return nil, fmt.Errorf("%s.header: %w", where, err)
		}
	} else {
		h, v, err := authHeader(c.TokenHeader)
		if err != nil {
			return nil, fmt.Errorf("%s.token_header: %w", where, err)
		}
		id = &Identity{Name: name, header: h, tmpl: v}
		switch {
		case c.ClientCredentials != nil:
			cc := c.ClientCredentials
			u, err := url.Parse(cc.TokenURL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("%s.client_credentials.token_url: must be an http(s) URL", where)
			}
			secret, err := expand(where+".client_credentials.client_secret", cc.ClientSecret)
			if err != nil {
				return nil, err
			}
			if cc.ClientID == "" || secret == "" {
				return nil, fmt.Errorf("%s.client_credentials: client_id and client_secret are required", where)
			}
			id.source = &clientCredentials{cfg: clientcredentials.Config{ClientID: cc.ClientID, ClientSecret: secret, TokenURL: cc.TokenURL, Scopes: cc.Scopes}}
		case c.Login != nil:
			l := c.Login
			if !strings.HasPrefix(l.Path, "/") {
				return nil, fmt.Errorf("%s.login.path: must be a path on the target starting with /", where)
			}
			body, err := expand(where+".login.body", l.Body)
			if err != nil {
				return nil, err
			}
			m := strings.ToUpper(l.Method)
			if m == "" {
				m = "POST"
			}
			tp := l.TokenPath
			if tp == "" {
				tp = "$.access_token"
			}
			path, err := jsonpath.Parse(tp)
			if err != nil {
				return nil, fmt.Errorf("%s.login.token_path: %w", where, err)
			}
			id.source = &login{req: &Request{Method: m, Path: l.Path, Body: []byte(body), ContentType: "application/json"}, tokenPath: path, pathText: tp}
		default:
			id.source = &command{argv: c.Command}
		}
	}
	id.Privileged = c.Privileged
	if c.Subject != "" {
		id.Subject = c.Subject
	}
	return id, nil
}

func validName(n string) error {
	if n == "" || len(n) > 64 {
		return errors.New("identity names are 1 to 64 characters")
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("identity name %q: use letters, digits, - and _", n)
		}
	}
	return nil
}

// ParseIdentityFlag reads --identity NAME='Header: value'.
func ParseIdentityFlag(v string) (*Identity, error) {
	name, header, ok := strings.Cut(v, "=")
	if !ok {
		return nil, fmt.Errorf("--identity %q: want NAME='Header: value'", redactFlag(v))
	}
	if err := validName(name); err != nil {
		return nil, fmt.Errorf("--identity: %w", err)
	}
	id, err := StaticIdentity(name, header)
	if err != nil {
		return nil, fmt.Errorf("--identity: %w", err)
	}
	return id, nil
}

// redactFlag keeps a malformed flag's credential out of the error.
func redactFlag(v string) string {
	if len(v) > 12 {
		return v[:6] + "…"
	}
	return "…"
}
