package rampart_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart"
	"github.com/rampart-gw/rampart/internal/audit"
)

const secret = "a shared secret of at least thirty-two bytes"

// middlewareConfig is a config for dir: JWT (HS256) on /api, a public
// health check, the audit log on.
func middlewareConfig(t *testing.T, dir string) []byte {
	t.Helper()
	secretFile := filepath.Join(dir, "hmac")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	return fmt.Appendf(nil, `version: 1
data_dir: %[1]s
access_log: {disabled: true}
audit: {enabled: true, dir: %[1]s/audit, sync: true, origin: example.org/items-api}
authn:
  jwt:
    - {name: users, issuer: "https://id.example.com", audiences: [api], hmac_secret_file: %[2]s}
routes:
  - {name: health, path: /health, methods: [GET], public: true}
  - {name: items, path: "/api/items/{id}", methods: [GET], auth: [users], authz: {authenticated: true}}
`, dir, secretFile)
}

// hs256 signs claims with the test secret.
func hs256(claims map[string]any) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, _ := json.Marshal(claims)
	msg := head + "." + enc.EncodeToString(body)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// newMiddleware builds the test config's middleware for dir.
func newMiddleware(t *testing.T, dir string) *rampart.Middleware {
	t.Helper()
	cfg, err := rampart.ParseConfig("mw.yaml", middlewareConfig(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := rampart.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

// verifiedEvents verifies dir's audit log against its key and returns how
// many events it holds.
func verifiedEvents(t *testing.T, dir string) int64 {
	t.Helper()
	key, err := audit.ReadPublicKey(filepath.Join(dir, "audit", audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(filepath.Join(dir, "audit"), audit.VerifyOptions{PublicKey: key, Strict: true})
	if err != nil || !rep.OK() {
		t.Fatalf("audit log: %+v, %v", rep, err)
	}
	return rep.Events
}

// seenByApp is what the wrapped handler saw.
type seenByApp struct {
	mu     sync.Mutex
	calls  int
	path   string
	header http.Header
	info   rampart.Info
	ok     bool
}

func TestMiddleware(t *testing.T) {
	dir := t.TempDir()
	mw := newMiddleware(t, dir)
	seen := &seenByApp{}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.mu.Lock()
		seen.calls++
		seen.path, seen.header = r.URL.Path, r.Header.Clone()
		seen.info, seen.ok = rampart.FromRequest(r)
		seen.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"1","owner":"ann"}`)
	})
	srv := httptest.NewServer(mw.Wrap(app))
	defer srv.Close()
	get := func(path, token string, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp, string(b)
	}

	if resp, body := get("/health", ""); resp.StatusCode != 200 || seen.calls != 1 || !seen.ok || seen.info.Route != "health" || seen.info.Identity != nil {
		t.Fatalf("public route: %d %s, app saw %+v", resp.StatusCode, body, seen)
	}
	resp, body := get("/api/items/1", "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") || seen.calls != 1 {
		t.Fatalf("no token: %d %s (app called %d times)", resp.StatusCode, body, seen.calls)
	}
	token := hs256(map[string]any{"iss": "https://id.example.com", "aud": "api", "sub": "ann", "exp": time.Now().Add(time.Hour).Unix(), "roles": []string{"reader"}})
	resp, body = get("/api//items/./1", token, "X-Rampart-Subject", "admin", "X-Forwarded-For", "203.0.113.9")
	if resp.StatusCode != 200 || body != `{"id":"1","owner":"ann"}` {
		t.Fatalf("with a token: %d %s", resp.StatusCode, body)
	}
	seen.mu.Lock()
	if seen.path != "/api/items/1" {
		t.Errorf("the app saw path %q, not the normalized one", seen.path)
	}
	if got := seen.header.Get("X-Rampart-Subject"); got != "ann" {
		t.Errorf("X-Rampart-Subject %q: the client's spoofed value must be replaced by the verified subject", got)
	}
	if got := seen.header.Get("X-Forwarded-For"); got != "127.0.0.1" {
		t.Errorf("X-Forwarded-For %q: the client's own value must be replaced by the real address", got)
	}
	if seen.header.Get("X-Request-Id") == "" || seen.header.Get("X-Request-Id") != seen.info.RequestID {
		t.Errorf("request id header %q, info %q", seen.header.Get("X-Request-Id"), seen.info.RequestID)
	}
	if id := seen.info.Identity; id == nil || id.Subject != "ann" || id.Method != "jwt" || !seen.info.ClientIP.IsLoopback() {
		t.Errorf("info %+v identity %+v", seen.info, seen.info.Identity)
	}
	seen.mu.Unlock()
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the app's answer lacks the security headers: %v", resp.Header)
	}
	if r, _ := get("/nowhere", token); r.StatusCode != 404 || seen.calls != 2 {
		t.Errorf("unrouted path: %d (app called %d times): default deny", r.StatusCode, seen.calls)
	}

	m := httptest.NewRecorder()
	mw.Metrics().ServeHTTP(m, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(m.Body.String(), "rampart_") {
		t.Errorf("metrics: %.200s", m.Body.String())
	}
	srv.Close()
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal("a second Close failed:", err)
	}
	if n := verifiedEvents(t, dir); n != 4 {
		t.Fatalf("audit log after Close: %d events, want 4", n)
	}
}

func TestMiddlewareConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct{ yaml, want string }{
		"listeners": {"version: 1\nlisteners: [{address: \"127.0.0.1:8080\", plaintext: true}]\nroutes: [{name: a, path: /a, methods: [GET], public: true}]\n",
			"c.yaml:2:1: listeners: middleware mode has no listeners"},
		"upstream": {"version: 1\nroutes: [{name: a, path: /a, methods: [GET], public: true, upstream: api}]\n",
			"routes[0].upstream: middleware mode has no upstreams"},
		"unknown field": {"version: 1\nroutes: [{name: a, path: /a, methods: [GET], pubic: true}]\n", `did you mean "public"`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := rampart.ParseConfig("c.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := rampart.New(context.Background(), nil); err == nil {
		t.Error("New(nil) gave no error")
	}
	if _, err := rampart.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing file gave no error")
	}
}

// TestMiddlewareLifecycle: FromRequest stays right after the request ends
// (the engine reuses exchanges), Close waits for requests in the pipeline
// and refuses new ones, and their audit events are all in.
func TestMiddlewareLifecycle(t *testing.T) {
	dir := t.TempDir()
	mw := newMiddleware(t, dir)
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Wrap(nil) did not panic")
			}
		}()
		mw.Wrap(nil)
	}()
	var kept []context.Context
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("hold") != "" {
			entered <- struct{}{}
			<-release
		}
		kept = append(kept, r.Context())
		_, _ = io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(mw.Wrap(app))
	defer srv.Close()
	get := func(path, sub string) int {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+hs256(map[string]any{"iss": "https://id.example.com", "aud": "api", "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}))
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Error(err)
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	for _, sub := range []string{"ann", "bob", "cid"} {
		if code := get("/api/items/1", sub); code != 200 {
			t.Fatalf("%s: %d", sub, code)
		}
	}
	for i, sub := range []string{"ann", "bob", "cid"} {
		info, ok := rampart.FromRequest(httptest.NewRequest("GET", "/", nil).WithContext(kept[i]))
		if !ok || info.Identity == nil || info.Identity.Subject != sub {
			t.Errorf("request %d's context, after the request: %+v", i, info.Identity)
		}
	}

	held := make(chan int, 1)
	go func() { held <- get("/api/items/1?hold=1", "ann") }()
	<-entered
	closed := make(chan struct{})
	go func() { _ = mw.Close(); close(closed) }()
	passed := int64(4) // three requests and the one held
	for code := 0; code != http.StatusServiceUnavailable; code = get("/api/items/1", "bob") {
		if code == 200 { // sent before Close began refusing
			passed++
		}
		select {
		case <-closed:
			t.Fatal("Close returned while a request was in the pipeline")
		default:
		}
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a request was in the pipeline")
	default:
	}
	close(release)
	if code := <-held; code != 200 {
		t.Errorf("the request in flight at Close got %d", code)
	}
	<-closed
	if n := verifiedEvents(t, dir); n != passed {
		t.Fatalf("audit log: %d events, want the %d requests that passed the pipeline", n, passed)
	}
}
