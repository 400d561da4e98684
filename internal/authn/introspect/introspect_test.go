package introspect

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/authn"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

var testNow = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// server is an RFC 7662 endpoint that knows a few tokens.
type server struct {
	*httptest.Server
	calls atomic.Int64
	down  atomic.Bool
}

func newServer(t *testing.T) (*server, config.Introspection) {
	t.Helper()
	s := &server{}
	answers := map[string]map[string]any{
		"tok-bob":      {"active": true, "sub": "bob", "scope": "orders:read", "exp": testNow.Add(time.Hour).Unix(), "iss": "https://as.test", "aud": []string{"orders-api"}, "roles": []string{"reader"}},
		"tok-service":  {"active": true, "client_id": "billing", "exp": testNow.Add(time.Hour).Unix(), "iss": "https://as.test", "aud": "orders-api"},
		"tok-expired":  {"active": true, "sub": "bob", "exp": testNow.Add(-time.Minute).Unix(), "iss": "https://as.test", "aud": "orders-api"},
		"tok-otheraud": {"active": true, "sub": "bob", "exp": testNow.Add(time.Hour).Unix(), "iss": "https://as.test", "aud": "billing-api"},
		"tok-otheriss": {"active": true, "sub": "bob", "exp": testNow.Add(time.Hour).Unix(), "iss": "https://evil.test", "aud": "orders-api"},
		"tok-short":    {"active": true, "sub": "bob", "exp": testNow.Add(10 * time.Second).Unix(), "iss": "https://as.test", "aud": "orders-api"},
	}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		if s.down.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		id, secret, ok := r.BasicAuth()
		if !ok || id != "rampart" || secret != "s3cret%2Bwith+plus" || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		a, ok := answers[r.PostForm.Get("token")]
		if !ok {
			a = map[string]any{"active": false}
		}
		_ = json.NewEncoder(w).Encode(a)
	}))
	t.Cleanup(s.Close)
	dir := t.TempDir()
	caFile, secretFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "secret")
	_ = os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw}), 0o600)
	_ = os.WriteFile(secretFile, []byte("s3cret+with plus\n"), 0o600)
	c := config.Config{Authn: config.Authn{Introspection: []config.Introspection{{Name: "as", URL: s.URL + "/introspect",
		ClientID: "rampart", ClientSecretFile: secretFile, CAFile: caFile, Issuer: "https://as.test", Audiences: []string{"orders-api"}}}}}
	config.SetDefaults(&c)
	return s, c.Authn.Introspection[0]
}

func exchange(tok string) *pipeline.Exchange {
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.Header = http.Header{"Authorization": {"Bearer " + tok}}
	return x
}

func newAuth(t *testing.T, c config.Introspection, now *atomic.Int64) *Authenticator {
	t.Helper()
	a, err := New(c, Options{Now: func() time.Time { return time.Unix(0, now.Load()) }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestIntrospection(t *testing.T) {
	s, c := newServer(t)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	ctx := context.Background()

	id, err := a.Authenticate(ctx, exchange("tok-bob"))
	if err != nil || id.Subject != "bob" || id.Scopes[0] != "orders:read" || id.Roles[0] != "reader" || id.Method != "introspection" || !id.ExpiresAt.Equal(testNow.Add(time.Hour)) {
		t.Fatalf("bob: %+v %v", id, err)
	}
	if id, err := a.Authenticate(ctx, exchange("tok-service")); err != nil || id.Subject != "billing" {
		t.Errorf("service token: %+v %v", id, err)
	}
	for tok, reason := range map[string]string{
		"tok-unknown":  "authn.token_inactive",
		"tok-expired":  "authn.token_expired",
		"tok-otheraud": "authn.wrong_audience",
		"tok-otheriss": "authn.wrong_issuer",
	} {
		_, err := a.Authenticate(ctx, exchange(tok))
		if d, ok := pipeline.AsDenial(err); !ok || d.Reason != reason || d.Status != 401 {
			t.Errorf("%s: %v, want %s", tok, err, reason)
		}
	}

	// Cached: active answers until cache_ttl (1m), inactive for 10s.
	calls := s.calls.Load()
	for range 5 {
		_, _ = a.Authenticate(ctx, exchange("tok-bob"))
		_, _ = a.Authenticate(ctx, exchange("tok-unknown"))
	}
	if s.calls.Load() != calls {
		t.Errorf("cached answers still called the endpoint: %d calls", s.calls.Load()-calls)
	}
	now.Store(testNow.Add(30 * time.Second).UnixNano())
	_, _ = a.Authenticate(ctx, exchange("tok-unknown"))
	if s.calls.Load() != calls+1 {
		t.Errorf("negative answer outlived negative_cache_ttl")
	}
	// A cached answer never outlives the token's exp.
	now.Store(testNow.UnixNano())
	if _, err := a.Authenticate(ctx, exchange("tok-short")); err != nil {
		t.Fatal(err)
	}
	now.Store(testNow.Add(20 * time.Second).UnixNano())
	calls = s.calls.Load()
	_, err = a.Authenticate(ctx, exchange("tok-short"))
	if d, ok := pipeline.AsDenial(err); !ok || d.Reason != "authn.token_expired" || s.calls.Load() != calls+1 {
		t.Errorf("expired cached token: %v (calls +%d)", err, s.calls.Load()-calls)
	}
}

func TestEndpointDownFailsClosed(t *testing.T) {
	s, c := newServer(t)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	s.down.Store(true)
	_, err := a.Authenticate(context.Background(), exchange("tok-bob"))
	if d, ok := pipeline.AsDenial(err); !ok || d.Status != 503 || d.Reason != "authn.introspection_unavailable" {
		t.Fatalf("endpoint down: %v", err)
	}
	s.down.Store(false)
	if _, err := a.Authenticate(context.Background(), exchange("tok-bob")); err != nil {
		t.Errorf("an outage was cached: %v", err)
	}
	s.Close()
	if _, err := a.Authenticate(context.Background(), exchange("tok-service")); err == nil {
		t.Error("unreachable endpoint granted access")
	}
}

func TestWrongClientSecretFailsClosed(t *testing.T) {
	_, c := newServer(t)
	if err := os.WriteFile(c.ClientSecretFile, []byte("wrong"), 0o600); err != nil {
		t.Fatal(err)
	}
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	_, err := a.Authenticate(context.Background(), exchange("tok-bob"))
	if d, ok := pipeline.AsDenial(err); !ok || d.Status != 503 {
		t.Fatalf("wrong client secret: %v", err)
	}
}

// TestConcurrentCallsShareOneRequest: a burst of requests with one new
// token makes one introspection call.
func TestConcurrentCallsShareOneRequest(t *testing.T) {
	s, c := newServer(t)
	c.CacheSize = 100
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := a.Authenticate(context.Background(), exchange("tok-bob")); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := s.calls.Load(); got > 2 {
		t.Errorf("%d introspection calls for one token", got)
	}
}

// TestSharedDenialNotMutated is the regression test for a shared refusal:
// concurrent requests with one unknown token go through the authn stage,
// which adds its challenge to a copy (the race detector watches).
func TestSharedDenialNotMutated(t *testing.T) {
	s, c := newServer(t)
	s.down.Store(true) // 503 answers carry headers
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	stage, err := authn.New(config.Permissions{}, authn.Deps{Routes: []config.Route{{Name: "r", Auth: []string{"as"}}}, Authenticators: map[string]authn.Authenticator{"as": a}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := exchange("tok-nobody-knows")
			x.Route = &pipeline.Route{Index: 0}
			err := stage.Request(context.Background(), x)
			if d, ok := pipeline.AsDenial(err); ok {
				_ = d.Header.Get("Retry-After") // the engine reads it
			}
		}()
	}
	wg.Wait()
	s.down.Store(false)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := exchange("tok-inactive-shared")
			x.Route = &pipeline.Route{Index: 0}
			if d, ok := pipeline.AsDenial(stage.Request(context.Background(), x)); ok {
				_ = d.Header.Get("WWW-Authenticate")
			}
		}()
	}
	wg.Wait()
}

func TestAPIKeysNotIntrospected(t *testing.T) {
	s, c := newServer(t)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	a := newAuth(t, c, &now)
	if _, err := a.Authenticate(context.Background(), exchange("rpk_abc")); !errors.Is(err, authn.ErrNoCredentials) {
		t.Errorf("API key: %v", err)
	}
	if s.calls.Load() != 0 {
		t.Error("an API key was sent to the authorization server")
	}
}
