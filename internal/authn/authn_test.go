package authn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// fake answers with a fixed outcome.
type fake struct {
	name  string
	id    *pipeline.Identity
	err   error
	calls *int
}

func (f fake) Name() string      { return f.name }
func (f fake) Challenge() string { return `Bearer realm="` + f.name + `"` }
func (f fake) Authenticate(context.Context, *pipeline.Exchange) (*pipeline.Identity, error) {
	if f.calls != nil {
		*f.calls++
	}
	return f.id, f.err
}

func run(t *testing.T, list ...Authenticator) (*pipeline.Exchange, error) {
	t.Helper()
	m := map[string]Authenticator{}
	var names []string
	for _, a := range list {
		m[a.Name()] = a
		names = append(names, a.Name())
	}
	routes := []config.Route{{Name: "public", Public: true}, {Name: "private", Auth: names}}
	s, err := New(config.Permissions{}, Deps{Routes: routes, Authenticators: m})
	if err != nil {
		t.Fatal(err)
	}
	x := &pipeline.Exchange{}
	x.Reset()
	x.Route = &pipeline.Route{Index: 1, Name: "private"}
	return x, s.Request(context.Background(), x)
}

func TestStage(t *testing.T) {
	bob := &pipeline.Identity{Subject: "bob\r\nX-Evil: 1", Method: "jwt", Issuer: "https://idp", Roles: []string{"reader", "a,b"}, Scopes: []string{"orders:read"}, Tenant: "acme"}
	expired := &pipeline.Denial{Status: 401, Reason: "authn.token_expired", Message: "expired"}

	t.Run("first recognizing authenticator wins", func(t *testing.T) {
		calls := 0
		x, err := run(t, fake{name: "a", err: ErrNoCredentials}, fake{name: "b", id: bob}, fake{name: "c", id: &pipeline.Identity{Subject: "x"}, calls: &calls})
		if err != nil || x.Identity != bob || calls != 0 {
			t.Fatalf("identity %v err %v calls %d", x.Identity, err, calls)
		}
		got := map[string]string{}
		for _, e := range x.UpstreamEdits {
			got[e.Name] = e.Value
		}
		want := map[string]string{
			HeaderSubject: "bob%0D%0AX-Evil:%201", HeaderMethod: "jwt", HeaderIssuer: "https://idp",
			HeaderRoles: "reader,a%2Cb", HeaderScopes: "orders:read", HeaderTenant: "acme",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s = %q, want %q", k, got[k], v)
			}
		}
	})
	t.Run("a bad credential does not fall through", func(t *testing.T) {
		calls := 0
		_, err := run(t, fake{name: "a", err: expired}, fake{name: "b", id: bob, calls: &calls})
		d, ok := pipeline.AsDenial(err)
		if !ok || d.Reason != "authn.token_expired" || calls != 0 {
			t.Fatalf("err %v calls %d", err, calls)
		}
		if d.Header.Get("WWW-Authenticate") != `Bearer realm="a", error="invalid_token"` {
			t.Errorf("challenge %q", d.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := run(t, fake{name: "a", err: ErrNoCredentials}, fake{name: "b", err: ErrNoCredentials})
		d, ok := pipeline.AsDenial(err)
		if !ok || d.Status != 401 || d.Reason != "authn.missing_credentials" || len(d.Header.Values("WWW-Authenticate")) != 2 {
			t.Fatalf("err %v header %v", err, d.Header)
		}
	})
	t.Run("other issuer", func(t *testing.T) {
		_, err := run(t, fake{name: "a", err: ErrOtherIssuer})
		if d, ok := pipeline.AsDenial(err); !ok || d.Reason != "authn.wrong_issuer" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("unreadable token tries the next authenticator", func(t *testing.T) {
		unreadable := &NotMine{Reason: "authn.malformed", Message: "malformed"}
		x, err := run(t, fake{name: "jwt", err: unreadable}, fake{name: "opaque", id: bob})
		if err != nil || x.Identity != bob {
			t.Fatalf("identity %v err %v", x.Identity, err)
		}
		_, err = run(t, fake{name: "jwt", err: unreadable}, fake{name: "keys", err: ErrNoCredentials})
		if d, ok := pipeline.AsDenial(err); !ok || d.Reason != "authn.malformed" {
			t.Fatalf("nobody took it: %v", err)
		}
	})
	t.Run("broken authenticator", func(t *testing.T) {
		boom := errors.New("boom")
		if _, err := run(t, fake{name: "a", err: boom}); !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestPublicRouteSkipped(t *testing.T) {
	calls := 0
	s, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "public", Public: true}}, Authenticators: map[string]Authenticator{"a": fake{name: "a", calls: &calls}}})
	if err != nil {
		t.Fatal(err)
	}
	x := &pipeline.Exchange{}
	x.Reset()
	x.Route = &pipeline.Route{Index: 0}
	x.In.Header = http.Header{"Authorization": {"Bearer x"}}
	if err := s.Request(context.Background(), x); err != nil || x.Identity != nil || calls != 0 {
		t.Errorf("err %v identity %v calls %d", err, x.Identity, calls)
	}
}

func TestUnknownAuthenticator(t *testing.T) {
	if _, err := New(config.Permissions{}, Deps{Routes: []config.Route{{Name: "r", Auth: []string{"nope"}}}}); err == nil {
		t.Fatal("unknown authenticator accepted")
	}
}

func TestScopeCap(t *testing.T) {
	c := NewScopeCap(map[string][]string{"reader": {"products:read", "profile"}, "admin": {"stats:read"}})
	for _, tc := range []struct {
		roles, scopes, want []string
		same                bool
	}{
		{[]string{"reader"}, []string{"products:read"}, []string{"products:read"}, true},
		{[]string{"reader"}, []string{"products:read", "stats:read", "orders:write"}, []string{"products:read"}, false},
		{[]string{"reader", "admin"}, []string{"stats:read", "profile"}, []string{"stats:read", "profile"}, true},
		{nil, []string{"profile"}, []string{}, false}, // no listed role: no scopes
		{[]string{"reader"}, nil, nil, true},
	} {
		id := &pipeline.Identity{Subject: "bob", Roles: tc.roles, Scopes: tc.scopes}
		got := c.Apply(id)
		if (got == id) != tc.same || fmt.Sprint(got.Scopes) != fmt.Sprint(tc.want) {
			t.Errorf("roles %v scopes %v: got %v (same %v), want %v", tc.roles, tc.scopes, got.Scopes, got == id, tc.want)
		}
		if fmt.Sprint(id.Scopes) != fmt.Sprint(tc.scopes) {
			t.Errorf("the authenticator's identity was changed: %v", id.Scopes)
		}
	}
	if NewScopeCap(nil).Apply(&pipeline.Identity{Scopes: []string{"x"}}).Scopes[0] != "x" {
		t.Error("no cap removed a scope")
	}
}
