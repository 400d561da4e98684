package admin

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

func TestAuth(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "rampart_test_total", Help: "t"})
	reg.MustRegister(c)
	c.Inc()
	h, err := New(Options{Token: "rpa_0123456789abcdef", Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, auth string
		status           int
	}{
		{"health needs no token", "/healthz", "", 200},
		{"ready", "/readyz", "", 200},
		{"metrics without token", "/metrics", "", 401},
		{"metrics wrong token", "/metrics", "Bearer rpa_0123456789abcdeX", 401},
		{"metrics token prefix", "/metrics", "Bearer rpa_0123456789abcde", 401},
		{"metrics basic", "/metrics", "Basic cnBhXzAxMjM0NTY3ODlhYmNkZWY=", 401},
		{"metrics", "/metrics", "Bearer rpa_0123456789abcdef", 200},
		{"unknown", "/nope", "Bearer rpa_0123456789abcdef", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d", w.Code, tt.status)
			}
			if tt.status == 200 && tt.path == "/metrics" && !strings.Contains(w.Body.String(), "rampart_test_total 1") {
				t.Error("metrics body lacks the counter")
			}
			if tt.status == 401 && (w.Header().Get("WWW-Authenticate") == "" || strings.Contains(w.Body.String(), "rpa_")) {
				t.Errorf("401 without challenge, or token echoed: %v %s", w.Header(), w.Body)
			}
			if w.Header().Get("Cache-Control") != "no-store" {
				t.Error("admin response cacheable")
			}
		})
	}
}

func TestShortTokenRefused(t *testing.T) {
	if _, err := New(Options{Token: "short", Registry: prometheus.NewRegistry()}); err == nil {
		t.Fatal("short token accepted")
	}
}

func TestLoadOrCreateToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "admin-token")
	tok, err := LoadOrCreateToken(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "rpa_") || len(tok) < 40 {
		t.Errorf("token %q", tok)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file mode %v, %v", fi.Mode(), err)
	}
	again, err := LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("reload = %q, %v", again, err)
	}
	if err := os.WriteFile(path, []byte("tiny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(path); err == nil || !strings.Contains(err.Error(), path) || strings.Contains(err.Error(), "tiny") {
		t.Errorf("short token file: err = %v, want an error naming the file and not the token", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "tiny\n" {
		t.Error("the short token file was replaced")
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(path); !errors.Is(err, secretfile.ErrPermissions) || strings.Contains(err.Error(), tok) {
		t.Errorf("world-readable token file: err = %v, want ErrPermissions without the token", err)
	}
}

// FuzzParseToken: any file content is a token or an error; a token is
// trimmed, at least 16 characters, and the error never quotes the content.
func FuzzParseToken(f *testing.F) {
	f.Add([]byte("rpa_" + strings.Repeat("A", 43) + "\n"))
	f.Add([]byte("tiny\n"))
	f.Add([]byte(" \t\r\n"))
	f.Add([]byte("  sixteen-chars-ok  \r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := parseToken(b)
		if err != nil {
			if len(b) >= 8 && strings.Contains(err.Error(), string(b)) {
				t.Fatalf("error quotes the content: %v", err)
			}
			return
		}
		if len(tok) < 16 || tok != strings.TrimSpace(tok) || !strings.Contains(string(b), tok) {
			t.Fatalf("parseToken(%q) = %q", b, tok)
		}
	})
}

func TestJWKSWithoutToken(t *testing.T) {
	h, err := New(Options{Token: strings.Repeat("t", 32), JWKS: func() []byte { return []byte(`{"keys":[]}`) }})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/.well-known/jwks.json", nil))
	if rec.Code != 200 || rec.Body.String() != `{"keys":[]}` || rec.Header().Get("Content-Type") != "application/jwk-set+json" {
		t.Fatalf("%d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
}
