// Package demo runs `rampart demo`: the gateway with self-signed TLS in front
// of a built-in, deliberately naive API, and the credentials file that tests
// and users drive it with (demo-credentials.json, see VISION.md).
//
// The demo says plainly what this build protects. The demo users get JWTs
// from the demo's own issuer and API keys; every route but /api/health
// needs one, and authorization rules close the naive API's holes: only
// admins list users or read stats, a reader reads and updates only their
// own profile, and never its role.
package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/lifecycle"
	"github.com/rampart-gw/rampart/internal/store"
)

// Options are the demo's flags.
type Options struct {
	Listen          string
	Admin           string
	DataDir         string
	UnprotectedPort int
	Out             io.Writer
	Logger          *slog.Logger
	Version         string
	// Started, if set, is called with the credentials once serving.
	Started func(Credentials)
}

// UserCredentials are one demo user's credentials.
type UserCredentials struct {
	Roles  []string `json:"roles"`
	APIKey string   `json:"api_key,omitempty"`
	// ClientID is the API key's id: with the key as client_secret, an
	// OAuth2 client of the token server.
	ClientID string `json:"client_id,omitempty"`
	JWT      string `json:"jwt,omitempty"`
}

// Credentials is the content of demo-credentials.json.
type Credentials struct {
	Gateway     string `json:"gateway"`
	Admin       string `json:"admin"`
	CACert      string `json:"ca_cert"`
	AdminToken  string `json:"admin_token"`
	Unprotected string `json:"unprotected,omitempty"`
	// Spec is the path of the demo API's OpenAPI document.
	Spec  string                     `json:"spec"`
	Users map[string]UserCredentials `json:"users"`
	// Protections lists what this build enforces in the demo, and
	// NotYet what it does not, so nobody mistakes one for the other.
	Protections []string `json:"protections"`
	NotYet      []string `json:"not_yet"`
}

// Config returns the demo's gateway config for an API at apiAddr, with the
// demo issuer's public keys in keysFile.
func Config(listen, admin, dataDir, apiAddr, keysFile string) *config.Config {
	c := &config.Config{
		Version:   1,
		DataDir:   dataDir,
		Listeners: []config.Listener{{Name: "https", Address: listen, TLS: &config.TLS{}}},
		Admin:     config.Admin{Address: admin},
		AccessLog: config.AccessLog{Output: filepath.Join(dataDir, "access.log")},
		Headers:   config.Headers{CacheControl: "no-store"},
		Upstreams: map[string]config.Upstream{"demo": {URL: "http://" + apiAddr}},
		Authn: config.Authn{
			JWT: []config.JWT{{
				Name: "demo", Issuer: demoIssuer, Audiences: []string{demoAudience}, KeysFile: keysFile,
				Algorithms: []string{"ES256"},
			}},
			APIKey: []config.APIKeyAuth{{Name: "demo-keys"}},
		},
		// Services get short-lived tokens for their API keys
		// (client credentials); the catalogue accepts them.
		TokenServer: config.TokenServer{Enabled: true, Issuer: "https://" + listen},
		// Every request lands in the tamper-evident audit log, DIR/audit.
		// 20 failed logins a minute from one address ban it for 5 minutes.
		Audit: config.Audit{Enabled: true, Anomalies: config.Anomalies{
			AuthFailures: config.AuthFailures{Max: 20, Window: config.Duration(time.Minute), Ban: config.Duration(5 * time.Minute)},
			Enumeration:  config.Enumeration{MaxDistinct: 10},
			Scraping:     config.Scraping{Enabled: true}}},
		// The demo API receives each identity as a JWT Rampart signs, too.
		IdentityToken: config.IdentityToken{Enabled: true, Issuer: "https://rampart-demo.local"},
		// The encryption API (/v1/transit on the admin listener) for
		// services that store sensitive data themselves.
		Protect: config.Protect{EncryptionAPI: true},
		// Who may do what is said once: routes ask for permissions.
		Authz: config.Permissions{Roles: map[string][]string{"admin": {"stats:read"}},
			// No token or key carries more scopes than its owner's roles allow.
			MaxScopes: map[string][]string{"reader": {"products:read", "profile"}, "admin": {"products:read", "profile"}}},
		// Readers: 10 requests/s with bursts of 20, 2,000 a day; admins
		// more. Before any of that, 100/s per client IP protects the
		// authenticators from floods of bad credentials.
		Limits: config.Limits{
			PreAuth: []config.Rate{{Name: "per-ip", Requests: 100, Per: config.Duration(time.Second), Burst: 200}},
			Plans: []config.Plan{
				{Name: "admin", Roles: []string{"admin"}, Rates: []config.Rate{{Name: "admin", Requests: 50, Per: config.Duration(time.Second), Burst: 100}}},
				{Name: "reader", Roles: []string{"reader"},
					Rates:  []config.Rate{{Name: "burst", Requests: 10, Per: config.Duration(time.Second), Burst: 20}},
					Quotas: []config.Quota{{Name: "daily", Period: "day", Requests: 2000}}},
			},
		},
		Routes: []config.Route{
			{Name: "health", Path: "/api/health", Methods: []string{"GET"}, Upstream: "demo", Public: true},
			// The API's own OpenAPI document, for rampart scan.
			{Name: "spec", Path: "/api/openapi.yaml", Methods: []string{"GET"}, Upstream: "demo", Public: true},
			// A session (one token) may view 500 products: 10 pages of 50.
			{Name: "products", Path: "/api/products", Methods: []string{"GET"}, Upstream: "demo", Auth: []string{"demo", "demo-keys", "rampart"},
				Authz:  &config.Authz{Scopes: []string{"products:read"}},
				Limits: &config.RouteLimits{Records: &config.Records{Max: 500}}},
			// Every user's record, card numbers and SSNs included: admins only.
			{Name: "users", Path: "/api/users", Methods: []string{"GET"}, Upstream: "demo", Auth: []string{"demo", "demo-keys"},
				Authz: &config.Authz{Roles: []string{"admin"},
					ResponseFields: map[string][]string{"admin": {"id", "name", "email", "role"}}}},
			// One profile: its owner reads and updates it (name, email,
			// ssn, card_number only: never role); admins may read any.
			{Name: "user", Path: "/api/users/{id}", Methods: []string{"GET", "PUT"}, Upstream: "demo", Auth: []string{"demo", "demo-keys"},
				Authz: &config.Authz{
					Scopes: []string{"profile"},
					Owner:  &config.OwnerRule{Param: "id", ReadRoles: []string{"admin"}},
					// Admins read contact details and the SSN (masked by
					// protect below), never card numbers.
					ResponseFields: map[string][]string{"reader": {"*"}, "admin": {"id", "name", "email", "role", "ssn"}},
					Methods: map[string]config.Authz{"PUT": {
						Scopes:         []string{"profile"},
						Owner:          &config.OwnerRule{Param: "id"},
						WritableFields: []string{"name", "email", "ssn", "card_number"},
					}},
				},
				// The SSN is encrypted with the user's own data key before
				// the API stores it: the owner reads it, admins see
				// ***-**-6789, and after rampart keys shred nobody can.
				// Card numbers the API returns in clear are masked by DLP.
				Protect: &config.RouteProtect{Subject: "param:id",
					Fields: []config.ProtectField{{Path: "$.ssn", Reveal: config.Reveal{Owner: true}}},
					DLP:    &config.RouteDLP{Action: "mask", Kinds: []string{"card"}}}},
			// Admin functions only from the gateway's own machine.
			{Name: "admin-stats", Path: "/api/admin/stats", Methods: []string{"GET"}, Upstream: "demo", Auth: []string{"demo", "demo-keys"},
				Authz:    &config.Authz{Permissions: []string{"stats:read"}},
				Firewall: &config.RouteFirewall{Allow: []string{"127.0.0.1", "::1"}}},
		},
	}
	// Every route holds requests to the API's own contract (the spec
	// rampart demo writes to DIR/openapi.yaml) and runs the OWASP Core
	// Rule Set on them, with the exclusions a JSON API needs.
	c.WAF.Profiles = []string{"json-api"}
	for i := range c.Routes {
		c.Routes[i].OpenAPI = &config.RouteOpenAPI{Spec: filepath.Join(dataDir, "openapi.yaml")}
		c.Routes[i].WAF = &config.RouteWAF{}
	}
	config.SetDefaults(c)
	return c
}

// Run serves the demo until ctx is done.
func Run(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(o.DataDir, 0o700); err != nil {
		return fmt.Errorf("creating data dir: %w", err)
	}
	api := NewAPI()
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("starting demo API: %w", err)
	}
	apiSrv := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = apiSrv.Serve(apiLn) }()
	defer apiSrv.Close()

	unprotected := ""
	if o.UnprotectedPort != 0 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(o.UnprotectedPort))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("starting unprotected demo API: %w", err)
		}
		bare := &http.Server{Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = bare.Serve(ln) }()
		defer bare.Close()
		unprotected = "http://" + ln.Addr().String()
	}

	specPath := filepath.Join(o.DataDir, "openapi.yaml")
	if err := os.WriteFile(specPath, Spec, 0o644); err != nil { // #nosec G306 -- a public document
		return fmt.Errorf("writing the demo API's spec: %w", err)
	}
	iss, err := loadOrCreateIssuer(o.DataDir)
	if err != nil {
		return err
	}
	users := map[string]UserCredentials{
		"alice": {Roles: []string{"admin"}},
		"bob":   {Roles: []string{"reader"}},
		"carol": {Roles: []string{"reader"}},
	}
	now := time.Now()
	for name, u := range users {
		if u.JWT, err = iss.token(name, u.Roles, now); err != nil {
			return fmt.Errorf("issuing demo token: %w", err)
		}
		users[name] = u
	}
	cfg := Config(o.Listen, o.Admin, o.DataDir, apiLn.Addr().String(), iss.keysFile)
	if err := issueAPIKeys(ctx, cfg, users, now); err != nil {
		return err
	}
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			return fmt.Errorf("demo config: %s", p)
		}
	}
	return lifecycle.Serve(ctx, lifecycle.ServeOptions{
		Config: cfg, Logger: o.Logger, Version: o.Version,
		Started: func(r lifecycle.Running) {
			creds := Credentials{
				Gateway:     "https://" + r.Listeners[0].String(),
				Admin:       "https://" + r.Admin.String(),
				CACert:      absPath(r.CACert),
				AdminToken:  r.AdminToken,
				Unprotected: unprotected,
				Spec:        absPath(specPath),
				Users:       users,
				Protections: []string{
					"HTTPS only: TLS 1.2+ with AEAD cipher suites, HTTP/2, HSTS",
					"default deny: every route but /api/health needs a credential and an authorization rule",
					"authorization: /api/users and /api/admin/stats for admins; /api/users/{id} for its owner (admins read contact fields and the masked ssn, never card_number), PUT limited to name, email, ssn, card_number (no mass assignment)",
					"field encryption: PUT /api/users/{id} with an ssn stores AES-256-GCM ciphertext under the user's own data key (see it on the unprotected port); the owner reads it in clear, admins see ***-**-6789, and after rampart keys shred USER --addr ... nobody can read it",
					"encryption API: POST /v1/transit/encrypt, decrypt and rewrap on the admin listener, for the admin token and API keys with transit: scopes",
					"DLP: card numbers the API returns in clear are masked (************4444); findings are counted in the audit log and rampart_dlp_findings_total; every log line is redacted the same way",
					"authentication: /api/products needs a JWT from the demo issuer (ES256, exp, aud checked) or an API key (stored as a keyed hash)",
					"path normalization: encoded, dot-segment and double-slash tricks are refused or resolved before routing",
					"request size limits (413/431), timeouts, spoofed forwarding headers stripped",
					"Server and X-Powered-By removed, nosniff and no-store set",
					"firewall: /api/admin/stats only from 127.0.0.1 or ::1 (a request from 127.0.0.2 gets 403 firewall.not_allowed); bans through the admin API (rampart ban add)",
					"limits: readers 10 requests/s (burst 20) and 2,000 a day, admins 50/s; 100/s per client IP before authentication; RateLimit and Retry-After headers",
					"records per session: a token may view 500 products (10 pages of /api/products), then 429 limits.records_exceeded",
					"OAuth2 client credentials: POST /oauth/token with an API key (client_id = the key's id, client_secret = the key) returns a 5-minute ES256 token that /api/products accepts; POST /oauth/revoke revokes it at once",
					"anomaly detection: 20 failed authentications in a minute from one address ban it for 5 minutes (an alert in the audit log)",
					"tamper-evident audit log in DIR/audit: one hash-chained event per request, signed Merkle checkpoints; rampart audit verify --data DIR",
					"signed identity for the upstream: X-Rampart-Identity, an ES256 JWT (60s) verifiable with the admin listener's /.well-known/jwks.json; signing keys rotate daily, encrypted at rest",
				},
				NotYet: []string{
					"the WAF stage, the web console and rampart lint",
				},
			}
			if err := writeCredentials(filepath.Join(o.DataDir, "demo-credentials.json"), creds); err != nil {
				o.Logger.Error("writing demo credentials", "error", err)
			}
			printBanner(o.Out, creds, filepath.Join(o.DataDir, "demo-credentials.json"))
			if o.Started != nil {
				o.Started(creds)
			}
		},
	})
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func writeCredentials(path string, c Credentials) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func printBanner(w io.Writer, c Credentials, credsPath string) {
	if w == nil {
		return
	}
	p := func(format string, args ...any) { _, _ = fmt.Fprintf(w, format+"\n", args...) }
	p("Rampart demo is running.")
	p("")
	p("  gateway      %s", c.Gateway)
	p("  admin        %s   (token: %s)", c.Admin, c.AdminToken)
	p("  CA cert      %s", c.CACert)
	if c.Unprotected != "" {
		p("  unprotected  %s   (the naive API, bare, for comparison)", c.Unprotected)
	}
	p("  credentials  %s", absPath(credsPath))
	p("")
	p("Try:")
	p("  curl --cacert %s -i %s/api/health", c.CACert, c.Gateway)
	p("  curl --cacert %s -i %s/api/products                # 401: a token is required", c.CACert, c.Gateway)
	p("  curl --cacert %s -H \"Authorization: Bearer $(jq -r .users.bob.jwt %s)\" '%s/api/products?page=2'", c.CACert, absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -H \"X-API-Key: $(jq -r .users.carol.api_key %s)\" %s/api/products", c.CACert, absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -u \"$(jq -r .users.carol.client_id %s):$(jq -r .users.carol.api_key %s)\" -d grant_type=client_credentials %s/oauth/token   # an access token", c.CACert, absPath(credsPath), absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -i -H \"Authorization: Bearer $(jq -r .users.bob.jwt %s)\" %s/api/users/carol   # 403 authz.not_owner", c.CACert, absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -i '%s/api/%%2e%%2e/api/health'", c.CACert, c.Gateway)
	p("  curl --cacert %s -i --interface 127.0.0.2 -H \"Authorization: Bearer $(jq -r .users.alice.jwt %s)\" %s/api/admin/stats   # 403 firewall.not_allowed", c.CACert, absPath(credsPath), c.Gateway)
	p("  for i in $(seq 11); do curl --cacert %s -s -o /dev/null -w '%%{http_code} ' -H \"Authorization: Bearer $(jq -r .users.bob.jwt %s)\" \"%s/api/products?page=$i\"; done   # 10 x 200, then 429 limits.records_exceeded", c.CACert, absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -X PUT -H \"Authorization: Bearer $(jq -r .users.bob.jwt %s)\" -H 'Content-Type: application/json' -d '{\"ssn\":\"536-22-6789\"}' %s/api/users/bob", c.CACert, absPath(credsPath), c.Gateway)
	p("  curl --cacert %s -H \"Authorization: Bearer $(jq -r .users.alice.jwt %s)\" %s/api/users/bob   # ssn ***-**-6789 (bob reads it in clear)", c.CACert, absPath(credsPath), c.Gateway)
	p("  RAMPART_ADDR=%s RAMPART_TOKEN=%s RAMPART_CACERT=%s rampart keys shred bob   # then nobody can read it", c.Admin, c.AdminToken, c.CACert)
	if c.Unprotected != "" {
		p("  rampart scan --spec %s --target %s --admin alice --allow-writes --identity \"alice=Authorization: Bearer $(jq -r .users.alice.jwt %s)\" --identity \"bob=Authorization: Bearer $(jq -r .users.bob.jwt %s)\" --identity \"carol=Authorization: Bearer $(jq -r .users.carol.jwt %s)\"   # the bare API's weaknesses; then --target %s --cacert %s: none of them",
			c.Spec, c.Unprotected, absPath(credsPath), absPath(credsPath), absPath(credsPath), c.Gateway, c.CACert)
	}
	p("  curl --cacert %s -H 'Authorization: Bearer %s' %s/metrics", c.CACert, c.AdminToken, c.Admin)
	p("")
	p("Enforced now:")
	for _, s := range c.Protections {
		p("  + %s", s)
	}
	p("Not in this build yet:")
	for _, s := range c.NotYet {
		p("  - %s", s)
	}
	p("")
	p("Press Ctrl-C to stop.")
}

// issueAPIKeys gives each demo user a fresh API key, revoking the ones an
// earlier run issued (their secrets are gone: only hashes are stored).
func issueAPIKeys(ctx context.Context, cfg *config.Config, users map[string]UserCredentials, now time.Time) error {
	s, err := store.Open(ctx, cfg.Store)
	if err != nil {
		return err
	}
	defer s.Close()
	h, err := apikey.LoadOrCreatePepper(cfg.Authn.APIKey[0].PepperFile)
	if err != nil {
		return err
	}
	old, err := s.ListAPIKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range old {
		if k.Name == "demo" && k.RevokedAt.IsZero() {
			if err := s.RevokeAPIKey(ctx, k.ID, now); err != nil {
				return err
			}
		}
	}
	for name, u := range users {
		key, rec, err := apikey.Create(ctx, s, h, apikey.Spec{Name: "demo", Subject: name, Roles: u.Roles,
			Scopes: []string{"products:read", "profile"}, TTL: tokenTTL}, now)
		if err != nil {
			return fmt.Errorf("issuing demo api key: %w", err)
		}
		u.APIKey, u.ClientID = key, rec.ID
		users[name] = u
	}
	return nil
}
