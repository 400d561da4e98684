// Package exampletest gives the middleware examples' tests what they
// share: the examples' rampart.yaml rewritten to a temporary directory,
// and tokens its JWT authenticator accepts.
package exampletest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart"
)

const secret = "the examples' shared secret, at least 32 bytes long"

// Middleware builds the examples' rampart.yaml (found at ../rampart.yaml
// from an example's directory) with its data directory in a temporary
// one, and closes it when the test ends.
func Middleware(t testing.TB) *rampart.Middleware {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "rampart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hmac-secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(string(b), "rampart-data", dir)
	cfg, err := rampart.ParseConfig("rampart.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	mw, err := rampart.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mw.Close() })
	return mw
}

// Token is an HS256 token for subject that the examples' authenticator
// accepts for an hour.
func Token(subject string) string {
	enc := base64.RawURLEncoding
	claims, _ := json.Marshal(map[string]any{"iss": "https://id.example.com", "aud": "items-api", "sub": subject,
		"exp": time.Now().Add(time.Hour).Unix()})
	msg := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(msg))
	return msg + "." + enc.EncodeToString(mac.Sum(nil))
}

// Check runs the requests every example must answer alike: the public
// health check, a refusal without a token (the application never sees
// it), the item with a token (the application sees the verified subject),
// and default deny for a path no route names.
func Check(t testing.TB, srv *httptest.Server) {
	t.Helper()
	get := func(path, token string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), strings.TrimSpace(string(b))
	}
	if code, _, body := get("/health", ""); code != 200 || body != `{"status":"ok"}` {
		t.Errorf("health: %d %s", code, body)
	}
	if code, ct, body := get("/api/items/7", ""); code != 401 || ct != "application/problem+json" {
		t.Errorf("no token: %d %s %s", code, ct, body)
	}
	if code, _, body := get("/api/items/7", Token("ann")); code != 200 || body != `{"for":"ann","id":"7"}` {
		t.Errorf("with a token: %d %s", code, body)
	}
	if code, _, body := get("/admin", Token("ann")); code != 404 {
		t.Errorf("a path no route names: %d %s", code, body)
	}
}
