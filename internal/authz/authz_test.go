package authz

import (
	"context"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// bodySource serves a fixed request body.
type bodySource string

func (b bodySource) ReadBody() ([]byte, error) { return []byte(b), nil }

var (
	alice = &pipeline.Identity{Subject: "alice", Roles: []string{"admin"}, Scopes: []string{"profile", "admin"}}
	bob   = &pipeline.Identity{Subject: "bob", Roles: []string{"reader"}, Scopes: []string{"profile"}, Tenant: "acme"}
	carol = &pipeline.Identity{Subject: "carol", Roles: []string{"reader", "support"}, Scopes: []string{"profile"}, Tenant: "globex"}
	svc   = &pipeline.Identity{Subject: "billing", Roles: []string{"service"}}
)

func routes() []config.Route {
	return []config.Route{
		{Name: "health", Public: true},
		{Name: "users", Methods: []string{"GET"}, Authz: &config.Authz{Roles: []string{"admin"}}},
		{Name: "user", Path: "/api/users/{id}", Methods: []string{"GET", "PUT", "DELETE"}, Authz: &config.Authz{
			Scopes: []string{"profile"},
			Owner:  &config.OwnerRule{Param: "id", Claim: "subject", ReadRoles: []string{"support"}, AllRoles: []string{"admin"}},
			Methods: map[string]config.Authz{
				"PUT": {Owner: &config.OwnerRule{Param: "id", Claim: "subject", AllRoles: []string{"admin"}},
					WritableFields: []string{"name", "email", "ssn", "card_number"}},
				"DELETE": {Roles: []string{"admin"}},
			}}},
		{Name: "tenant", Path: "/api/tenants/{t}/orders", Methods: []string{"GET"}, Authz: &config.Authz{
			Owner: &config.OwnerRule{Param: "t", Claim: "tenant"}}},
		{Name: "products", Methods: []string{"GET"}, Authz: &config.Authz{Authenticated: true}},
		{Name: "orders", Methods: []string{"GET"}, Authz: &config.Authz{Owner: &config.OwnerRule{Param: "user", In: "query", Claim: "subject"}}},
		{Name: "reports", Methods: []string{"GET"}, Authz: &config.Authz{Permissions: []string{"reports:read"}}},
		{Name: "transfers", Methods: []string{"POST"}, Authz: &config.Authz{Owner: &config.OwnerRule{Param: "from_account_owner", In: "body", Claim: "subject"}}},
	}
}

// grants are the role and group permissions of the tests.
var grants = config.Permissions{
	Roles:  map[string][]string{"admin": {"reports:read", "users:write"}},
	Groups: map[string][]string{"finance": {"reports:read"}},
}

func TestDecisions(t *testing.T) {
	cfg := routes()
	config.SetDefaults(&config.Config{Routes: cfg})
	s, err := New(grants, Deps{Routes: cfg})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		route  int
		method string
		id     *pipeline.Identity
		params []pipeline.Param
		body   string
		reason string // "" for allowed
	}{
		{"public route, no identity", 0, "GET", nil, nil, "", ""},
		{"admin route, admin", 1, "GET", alice, nil, "", ""},
		{"admin route, reader", 1, "GET", bob, nil, "", "authz.missing_role"},
		{"admin route, no identity", 1, "GET", nil, nil, "", "authz.no_identity"},
		{"own profile", 2, "GET", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, "", ""},
		{"own profile, HEAD", 2, "HEAD", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, "", ""},
		{"another's profile (BOLA)", 2, "GET", bob, []pipeline.Param{{Name: "id", Value: "carol"}}, "", "authz.not_owner"},
		{"support reads any", 2, "GET", carol, []pipeline.Param{{Name: "id", Value: "bob"}}, "", ""},
		{"support cannot write another's", 2, "PUT", carol, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"name":"x"}`, "authz.not_owner"},
		{"admin reads any", 2, "GET", alice, []pipeline.Param{{Name: "id", Value: "bob"}}, "", ""},
		{"missing scope", 2, "GET", svc, []pipeline.Param{{Name: "id", Value: "billing"}}, "", "authz.missing_scope"},
		{"own update, allowed fields", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"name":"Bob","email":"b@x"}`, ""},
		{"mass assignment", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"name":"Bob","role":"admin"}`, "authz.field_not_writable"},
		{"mass assignment, case variant", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"Role":"admin"}`, "authz.field_not_writable"},
		{"mass assignment, duplicate", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"name":"a","NAME":"b"}`, "authz.body_not_json_object"},
		// U+017F folds to s, as encoding/json matches names: a Go upstream
		// would take either copy for ssn.
		{"mass assignment, Unicode case duplicate", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, "{\"ssn\":\"1\",\"\u017fsn\":\"2\"}", "authz.body_not_json_object"},
		{"not a JSON object", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `["role"]`, "authz.body_not_json_object"},
		{"trailing data", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"name":"a"} {"role":"admin"}`, "authz.body_not_json_object"},
		{"admin may set any field? no: the allowlist holds for all", 2, "PUT", alice, []pipeline.Param{{Name: "id", Value: "bob"}}, `{"role":"admin"}`, "authz.field_not_writable"},
		{"delete needs admin (BFLA)", 2, "DELETE", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, "", "authz.missing_role"},
		{"delete as admin", 2, "DELETE", alice, []pipeline.Param{{Name: "id", Value: "bob"}}, "", ""},
		{"own tenant", 3, "GET", bob, []pipeline.Param{{Name: "t", Value: "acme"}}, "", ""},
		{"other tenant", 3, "GET", bob, []pipeline.Param{{Name: "t", Value: "globex"}}, "", "authz.not_owner"},
		{"no tenant claim never matches", 3, "GET", svc, []pipeline.Param{{Name: "t", Value: ""}}, "", "authz.not_owner"},
		{"any authenticated", 4, "GET", svc, nil, "", ""},
		{"owner by query", 5, "GET", bob, nil, "query:user=bob&limit=5", ""},
		{"another owner by query", 5, "GET", bob, nil, "query:user=carol", "authz.not_owner"},
		{"repeated owner parameter", 5, "GET", bob, nil, "query:user=bob&user=carol", "authz.not_owner"},
		{"missing owner parameter", 5, "GET", bob, nil, "query:limit=5", "authz.not_owner"},
		{"permission through a role", 6, "GET", alice, nil, "", ""},
		{"permission through a group", 6, "GET", &pipeline.Identity{Subject: "dan", Groups: []string{"finance"}}, nil, "", ""},
		{"no permission", 6, "GET", bob, nil, "", "authz.missing_permission"},
		{"owner by body field", 7, "POST", bob, nil, `{"from_account_owner":"bob","amount":5}`, ""},
		{"another owner by body field", 7, "POST", bob, nil, `{"from_account_owner":"carol","amount":5}`, "authz.not_owner"},
		{"owner field twice in other case", 7, "POST", bob, nil, `{"from_account_owner":"bob","From_Account_Owner":"carol"}`, "authz.not_owner"},
		{"owner field not a string", 7, "POST", bob, nil, `{"from_account_owner":["bob"]}`, "authz.not_owner"},
		{"owner field as a form", 7, "POST", bob, nil, "form:from_account_owner=bob", "authz.not_owner"},
		{"form body on a writable-fields route", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, "form:name=x&role=admin", "authz.body_not_json_object"},
		{"JSON sent as text/plain", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `text:{"name":"x"}`, "authz.body_not_json_object"},
		{"query parameter not writable", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `query:role=admin`, "authz.field_not_writable"},
		{"query parameter writable", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `query:name=x`, ""},
		{"+json media type", 2, "PUT", bob, []pipeline.Param{{Name: "id", Value: "bob"}}, `merge:{"name":"x"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &pipeline.Exchange{}
			x.Reset()
			x.In = pipeline.Request{Method: tt.method, Header: http.Header{"Content-Type": {"application/json"}}}
			x.Route = &pipeline.Route{Index: tt.route}
			x.Identity = tt.id
			x.Params = append(x.Params, tt.params...)
			body := tt.body
			for prefix, ct := range map[string]string{"form:": "application/x-www-form-urlencoded", "text:": "text/plain", "merge:": "application/merge-patch+json"} {
				if rest, ok := strings.CutPrefix(body, prefix); ok {
					body = rest
					x.In.Header.(http.Header).Set("Content-Type", ct)
				}
			}
			if q, ok := strings.CutPrefix(body, "query:"); ok {
				x.Query, body = q, ""
			}
			x.SetBodySource(bodySource(body))
			err := s.Request(context.Background(), x)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			d, ok := pipeline.AsDenial(err)
			if !ok || d.Reason != tt.reason {
				t.Fatalf("err %v, want %s", err, tt.reason)
			}
			if tt.reason == "authz.missing_scope" && !strings.Contains(d.Header.Get("WWW-Authenticate"), "insufficient_scope") {
				t.Errorf("no insufficient_scope challenge: %v", d.Header)
			}
		})
	}
}

func TestNoRuleIsRefused(t *testing.T) {
	if _, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "r", Auth: []string{"a"}}}}); err == nil {
		t.Fatal("a private route without a rule compiled")
	}
}

func TestResponseFields(t *testing.T) {
	cfg := []config.Route{{Name: "users", Methods: []string{"GET"}, Authz: &config.Authz{Authenticated: true,
		ResponseFields: map[string][]string{"admin": {"*"}, "support": {"id", "name", "email"}, "*": {"id", "name"}}}}}
	s, err := New(config.Permissions{}, Deps{Routes: cfg})
	if err != nil {
		t.Fatal(err)
	}
	user := `{"id":"bob","name":"Bob","email":"b@x","ssn":"219-09-9999","card_number":"5555555555554444"}`
	tests := []struct {
		name, body string
		status     int
		id         *pipeline.Identity
		want       string
		reason     string
	}{
		{"admin sees all", user, 200, alice, user, ""},
		{"support sees its fields", user, 200, carol, `{"email":"b@x","id":"bob","name":"Bob"}`, ""},
		{"others see the * fields", user, 200, svc, `{"id":"bob","name":"Bob"}`, ""},
		{"array of objects", `[` + user + `,` + user + `]`, 200, svc, `[{"id":"bob","name":"Bob"},{"id":"bob","name":"Bob"}]`, ""},
		{"big numbers survive", `{"id":12345678901234567890,"ssn":"x"}`, 200, svc, `{"id":12345678901234567890}`, ""},
		{"errors pass untouched", `{"error":"nope","detail":"x"}`, 404, svc, `{"error":"nope","detail":"x"}`, ""},
		{"not JSON is refused", `<html>ssn 219-09-9999</html>`, 200, svc, "", "authz.response_not_json"},
		{"array of scalars is refused", `["219-09-9999"]`, 200, svc, "", "authz.response_not_json"},
		{"trailing data is refused", user + `{"ssn":"1"}`, 200, svc, "", "authz.response_not_json"},
		{"compressed is refused", "gzip:" + user, 200, svc, "", "authz.response_encoded"},
		{"a range is refused", user[:20], 206, svc, "", "authz.response_partial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &pipeline.Exchange{}
			x.Reset()
			x.In = pipeline.Request{Method: "GET", Header: http.Header{}}
			x.Route = &pipeline.Route{Index: 0}
			x.Identity = tt.id
			if !s.WantsResponseBody(x) {
				t.Fatal("the stage does not ask for the body")
			}
			x.Response = pipeline.Response{Status: tt.status, Header: http.Header{}, Body: []byte(tt.body), Buffered: true}
			if rest, ok := strings.CutPrefix(tt.body, "gzip:"); ok {
				x.Response.Header.Set("Content-Encoding", "gzip")
				x.Response.Body = []byte(rest)
			}
			err := s.Response(context.Background(), x)
			if tt.reason != "" {
				if d, ok := pipeline.AsDenial(err); !ok || d.Reason != tt.reason || d.Status != 502 {
					t.Fatalf("err %v, want %s", err, tt.reason)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(x.Response.Body)); got != tt.want {
				t.Errorf("body %s, want %s", got, tt.want)
			}
		})
	}
	// HEAD: nothing to filter, but the unfiltered length and validators
	// must not reach the client.
	x := &pipeline.Exchange{}
	x.Reset()
	x.In = pipeline.Request{Method: "HEAD", Header: http.Header{}}
	x.Route, x.Identity = &pipeline.Route{Index: 0}, svc
	x.Response = pipeline.Response{Status: 200, Header: http.Header{"Content-Length": {"133"}, "Etag": {`"abc"`}}, Buffered: true}
	if err := s.Response(context.Background(), x); err != nil || x.Response.Header.Get("Content-Length") != "" || x.Response.Header.Get("Etag") != "" {
		t.Errorf("HEAD: %v %v", err, x.Response.Header)
	}
}

// TestMethodOnlyRuleRefusesOtherMethods is the regression test for a route
// rule with no condition and a rule for one method only: runtime refuses
// the other methods (and config validation refuses such a config).
func TestMethodOnlyRuleRefusesOtherMethods(t *testing.T) {
	s, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "r", Methods: []string{"GET", "PUT"}, Authz: &config.Authz{
		Methods: map[string]config.Authz{"PUT": {Roles: []string{"admin"}}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"GET", "HEAD"} {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In = pipeline.Request{Method: m, Header: http.Header{}}
		x.Route, x.Identity = &pipeline.Route{Index: 0}, bob
		if d, ok := pipeline.AsDenial(s.Request(context.Background(), x)); !ok || d.Reason != "authz.no_rule" {
			t.Errorf("%s allowed by an empty rule", m)
		}
	}
}

func BenchmarkRequest(b *testing.B) {
	cfg := routes()
	config.SetDefaults(&config.Config{Routes: cfg})
	s, err := New(config.Permissions{}, Deps{Routes: cfg})
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		route  int
		method string
		body   string
	}{
		{"roles", 1, "GET", ""},
		{"owner+scopes", 2, "GET", ""},
		{"owner+writable-fields", 2, "PUT", `{"name":"Bob","email":"bob@example.com"}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			x := &pipeline.Exchange{}
			h := http.Header{"Content-Type": {"application/json"}}
			b.ReportAllocs()
			for b.Loop() {
				x.Reset()
				x.In = pipeline.Request{Method: tc.method, Header: h}
				x.Route = &pipeline.Route{Index: tc.route}
				x.Identity = alice
				x.Params = append(x.Params, pipeline.Param{Name: "id", Value: "alice"})
				x.SetBodySource(bodySource(tc.body))
				if err := s.Request(context.Background(), x); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestCedarPolicies(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "users.cedar")
	if err := os.WriteFile(policy, []byte(`// Admins may do anything; others may read their own profile.
permit(principal in Role::"admin", action, resource);
permit(principal, action == Action::"GET", resource)
  when { resource.params.id == principal.subject };
// Nobody from the quarantine network.
forbid(principal, action, resource)
  when { context.ip.isInRange(ip("10.66.0.0/16")) };
// A forbid that cannot be evaluated must not let requests through.
forbid(principal, action == Action::"DELETE", resource)
  when { principal.no_such_attribute == "x" };
`), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "user", Path: "/api/users/{id}", Methods: []string{"GET", "PUT", "DELETE"},
		Authz: &config.Authz{PolicyFile: policy}}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, id, ip string
		who                  *pipeline.Identity
		reason               string
	}{
		{"admin writes any", "PUT", "bob", "192.0.2.1", alice, ""},
		{"owner reads own", "GET", "bob", "192.0.2.1", bob, ""},
		{"reader reads another's", "GET", "carol", "192.0.2.1", bob, "authz.policy_denied"},
		{"reader writes own", "PUT", "bob", "192.0.2.1", bob, "authz.policy_denied"},
		{"quarantined admin", "GET", "bob", "10.66.1.1", alice, "authz.policy_denied"},
		{"erroring forbid refuses", "DELETE", "bob", "192.0.2.1", alice, "authz.policy_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x := &pipeline.Exchange{}
			x.Reset()
			x.In = pipeline.Request{Method: tt.method, Header: http.Header{}}
			x.Route, x.Identity, x.Path = &pipeline.Route{Index: 0, Name: "user"}, tt.who, "/api/users/"+tt.id
			x.Params = append(x.Params, pipeline.Param{Name: "id", Value: tt.id})
			x.ClientIP = netip.MustParseAddr(tt.ip)
			err := s.Request(context.Background(), x)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if d, ok := pipeline.AsDenial(err); !ok || d.Reason != tt.reason {
				t.Fatalf("err %v, want %s", err, tt.reason)
			}
		})
	}

	bad := filepath.Join(dir, "bad.cedar")
	_ = os.WriteFile(bad, []byte("permit(principal, action, resource)\n  when { principal.subject == };\n"), 0o600)
	_, err = New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "r", Methods: []string{"GET"}, Authz: &config.Authz{PolicyFile: bad}}}})
	if err == nil || !strings.Contains(err.Error(), bad+":2:") || !strings.Contains(err.Error(), "routes[0].authz") {
		t.Errorf("syntax error: %v", err)
	}
}

func BenchmarkCedar(b *testing.B) {
	policy := filepath.Join(b.TempDir(), "p.cedar")
	_ = os.WriteFile(policy, []byte(`permit(principal in Role::"admin", action, resource);
permit(principal, action == Action::"GET", resource) when { resource.params.id == principal.subject };
forbid(principal, action, resource) when { context.ip.isInRange(ip("10.66.0.0/16")) };`), 0o600)
	s, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "user", Path: "/api/users/{id}", Methods: []string{"GET"}, Authz: &config.Authz{PolicyFile: policy}}}})
	if err != nil {
		b.Fatal(err)
	}
	x := &pipeline.Exchange{}
	b.ReportAllocs()
	for b.Loop() {
		x.Reset()
		x.In = pipeline.Request{Method: "GET"}
		x.Route, x.Identity, x.Path = &pipeline.Route{Index: 0, Name: "user"}, bob, "/api/users/bob"
		x.Params = append(x.Params, pipeline.Param{Name: "id", Value: "bob"})
		x.ClientIP = netip.MustParseAddr("192.0.2.1")
		if err := s.Request(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
}
