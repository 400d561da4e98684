package config

import (
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got); run go test ./internal/config -update if intended:\n%s", path, diff)
	}
}

func TestLoadValid(t *testing.T) {
	c, warnings, err := Load("testdata/valid.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, w := range warnings {
		if !strings.Contains(w.Message, "open to anyone") {
			t.Errorf("unexpected warning %v", w)
		}
	}
	if got := c.Server.MaxHeaderBytes; got != 16<<10 {
		t.Errorf("max_header_bytes = %d", got)
	}
	if got := c.Server.IdleTimeout.Std(); got != 2*time.Minute {
		t.Errorf("idle_timeout = %v", got)
	}
	if got := c.Upstreams["users-api"].IdleConnTimeout.Std(); got != DefaultIdleConnTimeout {
		t.Errorf("default idle_conn_timeout = %v", got)
	}
	if got := c.Routes[1].Methods; !cmp.Equal(got, []string{"GET", "PUT"}) {
		t.Errorf("methods = %v", got)
	}
	if c.Listeners[1].TLS != nil || !c.Listeners[1].RedirectToHTTPS {
		t.Errorf("redirect listener = %+v", c.Listeners[1])
	}
}

// TestAllProblemsAtOnce is the acceptance check: a typo, a wrong type and
// a bad value are reported together, each with its line and path.
func TestAllProblemsAtOnce(t *testing.T) {
	yaml := `version: 1
listeners:
  - address: 127.0.0.1:8443
    tls: {}
client:
  trusted_proxies: [10.0.0.0/33]
upstreams:
  api:
    url: http://127.0.0.1:9000
    max_idle_conns: many
routes:
  - path: /api
    methods: [GET]
    upstrem: api
    upstream: api
    public: true
`
	_, _, err := Parse("rampart.yaml", []byte(yaml))
	e, ok := AsError(err)
	if !ok {
		t.Fatalf("Parse error = %v, want *Error", err)
	}
	want := []string{
		`rampart.yaml:6:21: client.trusted_proxies[0]: "10.0.0.0/33" is not a CIDR`,
		`rampart.yaml:10:21: upstreams.api.max_idle_conns: expected an integer, got the string "many"`,
		`rampart.yaml:14:5: routes[0].upstrem: unknown field; did you mean "upstream"?`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error lacks %q:\n%s", w, msg)
		}
	}
	if !strings.HasPrefix(msg, "rampart.yaml: 3 error(s)") {
		t.Errorf("error should count 3 errors:\n%s", msg)
	}
	if len(e.Problems) < 3 {
		t.Errorf("problems = %d", len(e.Problems))
	}
}

func TestErrorsGolden(t *testing.T) {
	_, _, err := Load("testdata/three-problems.yaml")
	if err == nil {
		t.Fatal("want an error")
	}
	golden(t, "testdata/three-problems.golden", []byte(err.Error()+"\n"))
}

func TestProblems(t *testing.T) {
	base := `version: 1
listeners: [{address: "127.0.0.1:8443", tls: {}}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
routes: [{path: /a, methods: [GET], upstream: api, public: true}]
`
	tests := []struct {
		name, yaml, want string
	}{
		{"empty file", ``, "the file is empty"},
		{"audit origin with a space", base + "audit: {enabled: true, origin: \"rampart gw1\"}\n", "audit.origin: must not contain"},
		{"audit origin with a plus", base + "audit: {enabled: true, origin: a+b}\n", "audit.origin: must not contain"},
		{"witness over http", base + "audit: {enabled: true, witnesses: [{url: \"http://witness.example\", public_key: \"w+12345678+AAAA\"}]}\n", "audit.witnesses[0].url: http is allowed only to a loopback address"},
		{"witness key", base + "audit: {enabled: true, witnesses: [{url: \"https://witness.example\", public_key: nope}]}\n", "audit.witnesses[0].public_key: must be a note verifier key"},
		{"witness twice", base + "audit: {enabled: true, witnesses: [{url: \"https://w.example\", public_key: \"w+12345678+AAAA\"}, {url: \"https://w.example/b\", public_key: \"w+12345678+AAAA\"}]}\n", "audit.witnesses[1].name: \"w.example\" names two witnesses"},
		{"witness without the log", base + "audit: {witnesses: [{url: \"https://w.example\", public_key: \"w+12345678+AAAA\"}]}\n", "audit.witnesses: witness the audit log's checkpoints: set audit.enabled"},
		{"rate spike factor", base + "audit: {anomalies: {rate_spike: {factor: 1}}}\n", "audit.anomalies.rate_spike: factor must be at least 2"},
		{"identity header outside X-Rampart-", base + "identity_token: {enabled: true, header: X-Identity}\n", "identity_token.header: must start with X-Rampart-"},
		{"identity header taken", base + "identity_token: {enabled: true, header: X-Rampart-Subject}\n", "already carries part of the identity"},
		{"token issuer with a path", base + "token_server: {enabled: true, issuer: \"https://gw.example/auth\"}\n", "token_server.issuer: required: an https origin"},
		{"token issuer shared", base + "token_server: {enabled: true, issuer: \"https://gw.example\"}\nauthn: {jwt: [{name: x, issuer: \"https://gw.example\", audiences: [a], keys_file: k}]}\n", "authn.jwt[0].issuer: is token_server.issuer"},
		{"token endpoint shadowed", strings.Replace(base, "path: /a, methods: [GET]", "path: /oauth/token, methods: [POST]", 1) + "token_server: {enabled: true, issuer: \"https://gw.example\"}\n", "routes[0].path: /oauth/token is a token_server endpoint"},
		{"token route name", strings.Replace(base, "path: /a,", "name: rampart-x, path: /a,", 1) + "token_server: {enabled: true, issuer: \"https://gw.example\"}\n", "names starting with rampart-"},
		{"syntax", "version: [1\n", "did not find expected"},
		{"version", strings.Replace(base, "version: 1", "version: 2", 1), "version: must be 1"},
		{"no listeners", "version: 1\nupstreams: {api: {url: http://x}}\nroutes: [{path: /a, methods: [GET], upstream: api, public: true}]\n", "listeners: at least one"},
		{"no routes", "version: 1\nlisteners: [{address: \"127.0.0.1:1\", tls: {}}]\n", "routes: at least one"},
		{"bad address", strings.Replace(base, "127.0.0.1:8443", "localhost", 1), "listeners[0].address: must be host:port"},
		{"two modes", strings.Replace(base, "tls: {}", "tls: {}, plaintext: true", 1), "set exactly one of tls"},
		{"duration without unit", base + "server: {read_timeout: 30}\n", `server.read_timeout: must be a duration`},
		{"negative duration", base + "server: {read_timeout: -1s}\n", `must not be negative`},
		{"bad size", base + "server: {max_body_bytes: 10 potatoes}\n", `must be a size`},
		{"header limit", base + "server: {max_header_bytes: 100}\n", `must be from 1KiB to 1MiB`},
		{"unknown upstream", strings.Replace(base, "upstream: api", "upstream: nope", 1), `no upstream named "nope"`},
		{"upstream scheme", strings.Replace(base, "http://127.0.0.1:9000", "ftp://x", 1), `scheme must be http or https`},
		{"upstream creds", strings.Replace(base, "http://127.0.0.1:9000", "http://u:p@x", 1), `must not hold credentials`},
		{"not public", strings.Replace(base, "public: true", "public: false", 1), `needs auth (a list of authenticators) or public: true`},
		{"method-only rule leaves GET open", strings.Replace(base, "public: true", "auth: [x], authz: {methods: {GET: {}}}", 1) + "authn: {jwt: [{name: x, issuer: i, audiences: [a], keys_file: k}]}\n", "states no condition"},
		{"permission nobody grants", strings.Replace(base, "public: true", "auth: [x], authz: {permissions: [users:raed]}", 1) + "authn: {jwt: [{name: x, issuer: i, audiences: [a], keys_file: k}]}\nauthz: {roles: {admin: [users:read]}}\n", `no role or group grants "users:raed"`},
		{"public and auth", strings.Replace(base, "public: true", "public: true, auth: [x]", 1), `a public route takes no auth`},
		{"unknown authenticator", strings.Replace(base, "public: true", "auth: [nope]", 1), `routes[0].auth[0]: no authenticator named "nope"`},
		{"jwt without issuer", base + "authn: {jwt: [{name: a, audiences: [x], keys_file: k}]}\n", "authn.jwt[0].issuer: required"},
		{"jwt without audience", base + "authn: {jwt: [{name: a, issuer: i, keys_file: k}]}\n", "authn.jwt[0].audiences: required"},
		{"jwt two key sources", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], keys_file: k, jwks_url: \"https://x/j\"}]}\n", "set exactly one of jwks_url, discovery, keys_file or hmac_secret_file"},
		{"jwt discovery needs https issuer", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], discovery: true}]}\n", "discovery needs an https issuer URL"},
		{"jwt http jwks", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], jwks_url: \"http://x/j\"}]}\n", "must be an https URL"},
		{"jwt none", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], keys_file: k, algorithms: [NONE]}]}\n", "never accepted"},
		{"jwt hmac with public keys", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], keys_file: k, algorithms: [HS256]}]}\n", "HS256 needs hmac_secret_file"},
		{"jwt rsa with hmac secret", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], hmac_secret_file: s, algorithms: [RS256]}]}\n", "accepts only HS256, HS384, HS512"},
		{"jwt dup name", base + "authn: {jwt: [{name: a, issuer: i, audiences: [x], keys_file: k}, {name: a, issuer: j, audiences: [x], keys_file: k}]}\n", "duplicate authenticator name"},
		{"bad pattern", strings.Replace(base, "path: /a", "path: '/a/{id'", 1), `a parameter must be a whole segment`},
		{"catch-all not last", strings.Replace(base, "path: /a", "path: '/a/{x...}/b'", 1), `must be the last segment`},
		{"dup param", strings.Replace(base, "path: /a", "path: '/a/{x}/{x}'", 1), `appears twice`},
		{"lower method", strings.Replace(base, "[GET]", "[get]", 1), `upper-case method`},
		{"trace", strings.Replace(base, "[GET]", "[TRACE]", 1), `TRACE is never proxied`},
		{"no methods", strings.Replace(base, "methods: [GET], ", "", 1), `methods: required`},
		{"duplicate key", base + "version: 1\n", "version: duplicate key"},
		{"octal-looking int", strings.Replace(base, "tls: {}", "redirect_to_https: true, https_port: 0443", 1), "without a leading zero"},
		{"tagged yes", base + "access_log: {disabled: !!bool yes}\n", `expected true or false, got "yes"`},
		{"second document", base + "---\nversion: 1\n", "more than one YAML document"},
		{"merge key", base + "server: {<<: {}}\n", "merge keys"},
		{"waf unknown field", base + "waf: {rules: {}}\n", "waf.rules: unknown field"},
		{"waf paranoia", base + "waf: {paranoia: 5}\n", "waf.paranoia: must be 1, 2, 3 or 4, not 5"},
		{"waf mode", base + "waf: {mode: log}\n", `waf.mode: must be block or detect, not "log"`},
		{"waf threshold", strings.Replace(base, "public: true", "public: true, waf: {inbound_threshold: -1}", 1), "routes[0].waf.inbound_threshold: must be between 1 and 10000, not -1"},
		{"waf profile", strings.Replace(base, "public: true", "public: true, waf: {profiles: [wordpress]}", 1), `routes[0].waf.profiles[0]: unknown profile "wordpress"`},
		{"waf no rules", base + "waf: {exclude: [{target: ARGS:q}]}\n", "waf.exclude[0].rules: required"},
		{"waf bad rule", base + "waf: {exclude: [{rules: [\"94210x\"]}]}\n", `waf.exclude[0].rules[0]: rule "94210x" must be a rule id`},
		{"waf reversed range", base + "waf: {exclude: [{rules: [\"942999-942000\"]}]}\n", `ends before it starts`},
		{"waf zero rule", base + "waf: {exclude: [{rules: [\"0\"]}]}\n", `rule "0" must be a rule id`},
		{"waf target injection", base + "waf: {exclude: [{rules: [\"942100\"], target: \"ARGS:q\\\",ctl:ruleEngine=Off\"}]}\n", "waf.exclude[0].target"},
		{"waf target collection", base + "waf: {exclude: [{rules: [\"942100\"], target: \"TX:x\"}]}\n", "must be COLLECTION or COLLECTION:key"},
		{"waf body limit", base + "server: {max_body_bytes: 1KiB}\nwaf: {body_limit: 2KiB}\n", "waf.body_limit: must be at most server.max_body_bytes"},
		{"openapi no spec", strings.Replace(base, "public: true", "public: true, openapi: {request: block}", 1), "routes[0].openapi.spec: required"},
		{"openapi request", strings.Replace(base, "public: true", "public: true, openapi: {spec: a.yaml, request: drop}", 1), `routes[0].openapi.request: must be block or report, not "drop"`},
		{"openapi response", strings.Replace(base, "public: true", "public: true, openapi: {spec: a.yaml, response: on}", 1), `routes[0].openapi.response: must be off, report or block, not "on"`},
		{"openapi operation", strings.Replace(base, "public: true", "public: true, openapi: {spec: a.yaml, operation: \"get user\"}", 1), `routes[0].openapi.operation: "get user" must be an operationId or auto`},
		{"protect public", strings.Replace(base, "public: true", "public: true, protect: {fields: [{path: $.ssn}]}", 1), "routes[0].protect.fields: field encryption needs an identity"},
		{"protect subject", strings.Replace(base, "public: true", "public: true, protect: {subject: param:id, dlp: {}}", 1), `routes[0].protect.subject: route path "/a" has no parameter {id}`},
		{"dlp kind", strings.Replace(base, "public: true", "public: true, protect: {dlp: {kinds: [passport]}}", 1), `routes[0].protect.dlp.kinds[0]: unknown detector "passport"`},
		{"dlp action", strings.Replace(base, "public: true", "public: true, protect: {dlp: {action: drop}}", 1), `routes[0].protect.dlp.action: must be report, mask or block`},
		{"kek both", base + "protect: {keys: {kek_file: a, kek_env: B}}\n", "protect.keys.kek_env: set kek_file or kek_env, not both"},
		{"kek messages", base + "protect: {keys: {max_messages_per_key: 5000000000}}\n", "protect.keys.max_messages_per_key: must be between 1024 and 2^32"},
		{"limit typo", strings.Replace(base, "public: true", "public: true, limits: {rate: 10}", 1), `routes[0].limits.rate: unknown field; did you mean "rates"?`},
		{"limit key", strings.Replace(base, "public: true", "public: true, limits: {rates: [{requests: 1, per: 1s, key: [user]}]}", 1), `routes[0].limits.rates[0].key[0]: "user" must be one of`},
		{"bad cidr", strings.Replace(base, "public: true", "public: true, firewall: {deny: [10.0.0.0/33]}", 1), `routes[0].firewall.deny[0]: "10.0.0.0/33" is not a CIDR`},
		{"store timeout too short", base + "store: {timeout: 10ms}\n", "store.timeout: must be from 100ms to 1m, got 10ms"},
		{"store timeout too long", base + "store: {timeout: 5m}\n", "store.timeout: must be from 100ms to 1m, got 5m0s"},
		{"bans redis", base + "firewall: {bans: {backend: redis}}\n", "firewall.bans.backend: backend redis needs the redis section"},
		{"acme terms", strings.Replace(base, "tls: {}", "tls: {acme: {email: a@b.c, domains: [a.example]}}", 1), "listeners[0].tls.acme.accept_terms: must be true"},
		{"acme domains", strings.Replace(base, "tls: {}", "tls: {acme: {email: a@b.c, accept_terms: true}}", 1), "listeners[0].tls.acme.domains: required"},
		{"acme and cert", strings.Replace(base, "tls: {}", "tls: {cert_file: a, key_file: b, acme: {email: a@b.c, domains: [x.example], accept_terms: true}}", 1), "set either cert_file or acme"},
		{"acme directory", strings.Replace(base, "tls: {}", "tls: {acme: {directory: \"http://x\", email: a@b.c, domains: [x.example], accept_terms: true}}", 1), "must be an https URL"},
		{"admin remote", base + "admin: {address: \"0.0.0.0:9443\"}\n", "not a loopback address"},
		{"hsts preload", base + "headers: {hsts: {preload: true}}\n", "needs include_subdomains"},
		{"header injection", base + "headers: {set: {X-A: \"a\\r\\nb\"}}\n", "control characters"},
		{"bad header name", base + "headers: {remove: [\"Bad Header\"]}\n", "not a valid header name"},
		{"reserved request id header", base + "client: {request_id_header: Content-Length}\n", "a header Rampart or HTTP itself controls"},
		{"bad ip header", base + "client: {ip_header: Forwarded}\n", "must be X-Forwarded-For or X-Real-IP"},
		{"zone", base + "client: {trusted_proxies: [\"fe80::1%eth0\"]}\n", "zones are not allowed"},
		{"wrong kind", base + "routes: {a: 1}\n", "duplicate key"},
		{"list for struct", strings.Replace(base, "upstreams: {api: {url: \"http://127.0.0.1:9000\"}}", "upstreams: {api: [1]}", 1), "upstreams.api: expected a mapping, got a list"},
		{"int overflow", base + "listeners: [{address: \"127.0.0.1:1\", tls: {}, https_port: 99999999999999999999}]\n", "duplicate key"},
		{"overflow alone", strings.Replace(base, "tls: {}", "redirect_to_https: true, https_port: 99999999999999999999", 1), "https_port: expected an integer, got the number"},
		{"https_port without redirect", strings.Replace(base, "tls: {}", "tls: {}, https_port: 443", 1), "only applies with redirect_to_https"},
		{"wildcard host", strings.Replace(base, "public: true", "public: true, host: \"a.*.com\"", 1), "must be a host name or *.domain"},
		{"http upstream tls", strings.Replace(base, "{url: \"http://127.0.0.1:9000\"}", "{url: \"http://127.0.0.1:9000\", tls: {ca_file: ca.pem}}", 1), "only applies to an https url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("t.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("want error containing %q, got none", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error does not contain %q:\n%v", tt.want, err)
			}
		})
	}
}

// TestWitnessKeyWithPlus is a regression test: a verifier key's base64
// part may hold '+', which the key check once split on.
func TestWitnessKeyWithPlus(t *testing.T) {
	yaml := `version: 1
listeners: [{address: "127.0.0.1:8443", tls: {}}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
routes: [{path: /a, methods: [GET], upstream: api, public: true}]
audit: {enabled: true, witnesses: [{url: "https://w.example", public_key: "w.example+8a1c3b2e+BM0x+abc/defGHI="}]}
`
	if _, _, err := Parse("t.yaml", []byte(yaml)); err != nil {
		t.Fatal(err)
	}
}

func TestAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString("version: 1\nroutes: [{methods: *a8}]\n")
	done := make(chan error, 1)
	go func() { _, _, err := Parse("bomb.yaml", []byte(b.String())); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("alias bomb accepted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("alias bomb hangs the decoder")
	}
}

func TestWarnings(t *testing.T) {
	_, warnings, err := Parse("t.yaml", []byte(`version: 1
listeners: [{address: "127.0.0.1:8443", tls: {}}, {address: "127.0.0.1:8080", plaintext: true}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
routes: [{path: /a, methods: [GET], upstream: api, public: true}]
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Path)
	}
	want := []string{"listeners[0].tls", "listeners[1].plaintext", "routes[0].public"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

// TestSchemaGolden keeps docs/rampart.schema.json in step with the types.
func TestSchemaGolden(t *testing.T) {
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("..", "..", "docs", "rampart.schema.json"), b)
	if !strings.Contains(string(b), `"description": "Routes map requests to upstreams.`) {
		t.Error("schema lacks field docs")
	}
}

func TestEveryFieldDocumented(t *testing.T) {
	d, err := docs()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range d {
		if v == "" {
			t.Errorf("%s has no doc comment", k)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, p := range []string{"testdata/valid.yaml", "testdata/three-problems.yaml"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("version: 1\nroutes: [{path: '/{a...}', methods: [GET]}]\n"))
	f.Add([]byte("a: &a [*a]\n"))
	if b, err := os.ReadFile("../../examples/rampart.yaml"); err == nil { // every section, limits and firewall included
		f.Add(b)
	}
	f.Add([]byte("version: 1\nlimits: {plans: [{name: p, rates: [{requests: 3, per: 7us, burst: 9223372036854775807}]}]}\n"))
	f.Add([]byte("version: 1\ntoken_server: {enabled: true, issuer: 'https://x'}\nidentity_token: {enabled: true, ttl: 1ns}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, err := Parse("fuzz.yaml", data)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
		if err != nil {
			if _, ok := AsError(err); !ok {
				t.Fatalf("error is not *Error: %v", err)
			}
			if err.Error() == "" {
				t.Fatal("empty error")
			}
		}
	})
}

// TestReferenceGolden keeps docs/config.md in step with the types.
func TestReferenceGolden(t *testing.T) {
	b, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, filepath.Join("..", "..", "docs", "config.md"), b)
	for _, want := range []string{"`routes[].path`", "`upstreams.NAME.tls.ca_file`", "`listeners[].tls.acme.domains`"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("reference lacks %s", want)
		}
	}
}

// TestEveryFieldDecodable walks the config types: every field must be of a
// kind the decoder reads from YAML (a float64 once slipped in, usable
// only from Go).
func TestEveryFieldDecodable(t *testing.T) {
	seen := map[reflect.Type]bool{}
	var walk func(path string, ty reflect.Type)
	walk = func(path string, ty reflect.Type) {
		if seen[ty] {
			return
		}
		seen[ty] = true
		if reflect.PointerTo(ty).Implements(reflect.TypeFor[interface{ parseScalar(string) error }]()) {
			return // Duration, ByteSize: scalars with their own parser
		}
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice:
			walk(path+"[]", ty.Elem())
		case reflect.Map:
			if ty.Key().Kind() != reflect.String {
				t.Errorf("%s: map keys must be strings", path)
			}
			walk(path+"{}", ty.Elem())
		case reflect.Struct:
			for i := range ty.NumField() {
				f := ty.Field(i)
				if f.Tag.Get("yaml") == "-" {
					continue
				}
				walk(path+"."+f.Name, f.Type)
			}
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		default:
			t.Errorf("%s: %s cannot be written in rampart.yaml", path, ty.Kind())
		}
	}
	walk("Config", reflect.TypeFor[Config]())
}

// TestProtectFieldPaths: paths are parsed, and one field listed twice
// (in any spelling) is an error.
func TestProtectFieldPaths(t *testing.T) {
	c, _, err := Parse("t.yaml", []byte(`version: 1
listeners: [{address: "127.0.0.1:8443", tls: {}}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
authn: {apikey: [{name: k}]}
routes: [{path: "/u/{id}", methods: [GET], upstream: api, auth: [k], authz: {authenticated: true},
  protect: {subject: "param:id", fields: [{path: $.ssn}, {path: "$['ssn']"}, {path: "$.a["}]}}]
`))
	if err == nil {
		t.Fatalf("no error for %+v", c.Routes[0].Protect)
	}
	for _, want := range []string{"routes[0].protect.fields[1].path: $.ssn is listed twice", "routes[0].protect.fields[2].path: jsonpath"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not contain %q:\n%v", want, err)
		}
	}
}
