package scan

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/scan/scantest"
)

func TestStaticIdentity(t *testing.T) {
	tests := []struct {
		header, err, subject string
	}{
		{"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2ln", "", "bob"},
		{"X-API-Key: rk_abc", "", ""},
		{"Bearer abc", "must look like", ""},
		{"Authorization:", "must look like", ""},
		{"Bad Header: x", "must look like", ""},
		{"X: a\r\nInjected: b", "must look like", ""},
	}
	for _, tt := range tests {
		id, err := StaticIdentity("bob", tt.header)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: error %v, want %q", tt.header, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.header, err)
		case id.Subject != tt.subject:
			t.Errorf("%q: subject %q, want %q", tt.header, id.Subject, tt.subject)
		}
	}
	if _, err := ParseIdentityFlag("bob:Authorization: Bearer sekrit-token"); err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("a malformed flag's error must not hold the credential: %v", err)
	}
}

func TestParseFile(t *testing.T) {
	t.Setenv("CAROL_SECRET", "s3")
	f, err := ParseFile("scan.yaml", []byte(`spec: openapi.yaml
target: http://127.0.0.1:8080
identities:
  alice: {privileged: true, header: "Authorization: Bearer a.b.c"}
  carol:
    client_credentials: {token_url: "http://127.0.0.1:8080/oauth/token", client_id: c, client_secret: "${CAROL_SECRET}"}
  dave:
    login: {path: /login, body: '{"username":"dave","password":"p"}', token_path: $.access_token}
  erin:
    command: [sh, -c, "echo token"]
`))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := f.BuildIdentities()
	if err != nil || len(ids) != 4 || !ids[0].Privileged {
		t.Fatalf("identities %v, %v", ids, err)
	}
	bad := []struct{ doc, err string }{
		{"target: x\nrat: 3\n", "line 2: field rat not found"},
		{"identities:\n  bob: {header: 'X-A: 1', command: [x]}\n", "set exactly one of"},
		{"identities:\n  bob: {header: '${NOPE_NOT_SET}'}\n", "NOPE_NOT_SET is not set"},
		{"identities:\n  bob: {login: {path: login}}\n", "must be a path"},
		{"identities:\n  bob: {login: {path: /login, token_path: '$.a['}}\n", "login.token_path"},
		{"", ""},
		{"identities:\n  bob: {client_credentials: {token_url: 'ftp://x', client_id: a, client_secret: b}}\n", "token_url"},
		{"identities:\n  'b b': {header: 'X-A: 1'}\n", "use letters"},
	}
	for _, b := range bad {
		if b.doc == "" {
			// An empty file is an empty config, not an error.
			if f, err := ParseFile("scan.yaml", nil); err != nil || f == nil {
				t.Errorf("empty file: %v", err)
			}
			continue
		}
		f, err := ParseFile("scan.yaml", []byte(b.doc))
		if err == nil {
			_, err = f.BuildIdentities()
		}
		if err == nil || !strings.Contains(err.Error(), b.err) {
			t.Errorf("%q: error %v, want %q", b.doc, err, b.err)
		}
	}
}

// Dynamic identities fetch their tokens through the scan's own client (a
// login request on the target, a command), and the pre-flight proves them.
func TestDynamicIdentitiesAndPreflight(t *testing.T) {
	api := scantest.New(true)
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	f, err := ParseFile("scan.yaml", []byte(`identities:
  bob:
    login: {path: /login, body: '{"username":"bob","password":"`+scantest.Passwords["bob"]+`"}', token_path: $.access_token}
  carol:
    command: [sh, -c, "printf %s `+api.Token("carol")+`"]
  mallory:
    header: "Authorization: Bearer not-a-token"
`))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := f.BuildIdentities()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := openapi.LoadData(context.Background(), scantest.Spec, "", openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(srv.URL)
	run := func(ids []*Identity) error {
		s, err := New(Options{Spec: spec, Target: target, Identities: ids, Rate: 500})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Run(context.Background())
		return err
	}
	if err := run(ids[:2]); err != nil {
		t.Fatalf("login and command identities: %v", err)
	}
	if ids[0].Subject != "bob" || ids[1].Subject != "carol" {
		t.Errorf("subjects from fetched tokens: %q %q", ids[0].Subject, ids[1].Subject)
	}
	err = run(ids[2:])
	if !errors.Is(err, ErrNotAuthenticated) || !strings.Contains(err.Error(), "mallory") || strings.Contains(err.Error(), "not-a-token") {
		t.Errorf("a bad credential must stop the scan naming the identity, not the secret: %v", err)
	}
}

// The client refuses every address but the target's and the canary's.
func TestClientStaysOnTarget(t *testing.T) {
	srv := httptest.NewServer(nil)
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	c := newClient(target, 0, 10, 0, nil)
	c.base, _ = url.Parse("http://127.0.0.1:1") // a check gone wrong
	_, err := c.do(context.Background(), &Request{Method: "GET", Path: "/"}, nil, false)
	if !errors.Is(err, ErrOffTarget) {
		t.Fatalf("off-target request: %v", err)
	}
	c.base = target
	for i := 0; i < 9; i++ {
		if _, err := c.do(context.Background(), &Request{Method: "GET", Path: "/"}, nil, false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.do(context.Background(), &Request{Method: "GET", Path: "/"}, nil, false); !errors.Is(err, ErrBudget) {
		t.Fatalf("request past the budget: %v", err)
	}
}
