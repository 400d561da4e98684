package apikey

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/secretfile"
	"github.com/rampart-gw/rampart/internal/store"
)

func TestFormat(t *testing.T) {
	key, id, secret, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if len(key) != Len || !strings.HasPrefix(key, "rpk_") {
		t.Fatalf("key %q", key)
	}
	gotID, gotSecret, err := Parse(key)
	if err != nil || gotID != id || gotSecret != secret {
		t.Fatalf("parse: %q %q %v", gotID, gotSecret, err)
	}
	// Any single-character change breaks the checksum or the shape.
	for i := len(Prefix); i < len(key); i++ {
		b := []byte(key)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		if _, _, err := Parse(string(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("changed byte %d accepted: %s", i, b)
		}
	}
	for _, bad := range []string{"", "rpk_", key + "x", key[:len(key)-1], "ghp_" + key[4:], strings.Replace(key, "_", "-", 2)} {
		if _, _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	key, _, _, _ := Generate()
	f.Add(key)
	f.Add("rpk_")
	f.Add(strings.Repeat("a", Len))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := Parse(s)
		if err != nil {
			return
		}
		body := Prefix + id + "_" + secret
		if body+checksum(body) != s || len(id) != idLen || len(secret) != secretLen {
			t.Fatalf("accepted %q as %q/%q", s, id, secret)
		}
	})
}

func TestCheck(t *testing.T) {
	h, err := LoadOrCreatePepper(filepath.Join(t.TempDir(), "pepper"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	ip := netip.MustParseAddr("10.1.2.3")
	k := store.APIKey{Hash: h.Hash("secret"), PrevHash: h.Hash("old"), PrevValidUntil: now.Add(time.Hour)}
	tests := []struct {
		name   string
		k      store.APIKey
		found  bool
		secret string
		ip     netip.Addr
		now    time.Time
		want   Outcome
	}{
		{"valid", k, true, "secret", ip, now, Valid},
		{"wrong secret", k, true, "guess", ip, now, BadCredentials},
		{"unknown id", store.APIKey{}, false, "secret", ip, now, BadCredentials},
		{"old secret in grace", k, true, "old", ip, now, Valid},
		{"old secret after grace", k, true, "old", ip, now.Add(2 * time.Hour), BadCredentials},
		{"revoked", func() store.APIKey { r := k; r.RevokedAt = now; return r }(), true, "secret", ip, now, Revoked},
		{"revoked, old secret", func() store.APIKey { r := k; r.RevokedAt = now; return r }(), true, "old", ip, now, Revoked},
		{"expired", func() store.APIKey { r := k; r.ExpiresAt = now; return r }(), true, "secret", ip, now, Expired},
		{"not expired yet", func() store.APIKey { r := k; r.ExpiresAt = now.Add(time.Second); return r }(), true, "secret", ip, now, Valid},
		{"bound, inside", func() store.APIKey { r := k; r.CIDRs = []string{"10.0.0.0/8"}; return r }(), true, "secret", ip, now, Valid},
		{"bound, outside", func() store.APIKey { r := k; r.CIDRs = []string{"192.168.0.0/16"}; return r }(), true, "secret", ip, now, AddressNotAllowed},
		{"bad secret never reveals revocation", func() store.APIKey { r := k; r.RevokedAt = now; return r }(), true, "guess", ip, now, BadCredentials},
	}
	for _, tt := range tests {
		if got := h.Check(tt.k, tt.found, tt.secret, tt.ip, tt.now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPepper(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pepper")
	a, err := LoadOrCreatePepper(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadOrCreatePepper(path)
	if err != nil || string(a.Hash("x")) != string(b.Hash("x")) {
		t.Fatalf("pepper not reused: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("pepper mode %v", fi.Mode())
	}
	other, _ := LoadOrCreatePepper(filepath.Join(t.TempDir(), "pepper"))
	if string(other.Hash("x")) == string(a.Hash("x")) {
		t.Error("two peppers hash alike")
	}
}

// TestPepperFileRefused: an existing pepper file that is unusable is an
// error naming the file, never silently replaced by a new pepper (which
// would orphan every stored key hash).
func TestPepperFileRefused(t *testing.T) {
	good := strings.Repeat("p", 32)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		link    bool
		want    error
	}{
		{name: "short", content: "qqqqqqqq", mode: 0o600},
		{name: "group readable", content: good, mode: 0o640, want: secretfile.ErrPermissions},
		{name: "symlink", content: good, mode: 0o600, link: true, want: secretfile.ErrSymlink},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, file := filepath.Join(dir, "pepper"), filepath.Join(dir, "pepper")
			if tt.link {
				file = filepath.Join(dir, "real")
				if err := os.Symlink(file, path); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(file, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := LoadOrCreatePepper(path)
			if err == nil || !strings.Contains(err.Error(), path) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err = %v, want %v naming %s", err, tt.want, path)
			}
			if strings.Contains(err.Error(), tt.content) {
				t.Errorf("error quotes the pepper: %v", err)
			}
			if b, _ := os.ReadFile(file); string(b) != tt.content {
				t.Error("the pepper file was changed")
			}
		})
	}
}

func TestCreateAndRotate(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, config.Store{Driver: "sqlite", Path: filepath.Join(t.TempDir(), "r.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, _ := LoadOrCreatePepper(filepath.Join(t.TempDir(), "pepper"))
	now := time.Now()
	key, rec, err := Create(ctx, s, h, Spec{Name: "ci", Subject: "bob", Roles: []string{"reader"}, TTL: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	id, secret, _ := Parse(key)
	stored, err := s.APIKey(ctx, id)
	if err != nil || stored.ID != rec.ID || h.Check(stored, true, secret, netip.Addr{}, now) != Valid {
		t.Fatalf("stored %+v %v", stored, err)
	}
	if strings.Contains(string(stored.Hash), secret) {
		t.Error("secret stored")
	}
	newKey, err := Rotate(ctx, s, h, id, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	_, newSecret, _ := Parse(newKey)
	stored, _ = s.APIKey(ctx, id)
	if h.Check(stored, true, newSecret, netip.Addr{}, now) != Valid || h.Check(stored, true, secret, netip.Addr{}, now) != Valid {
		t.Error("new and old secrets should both work in the grace window")
	}
	if h.Check(stored, true, secret, netip.Addr{}, now.Add(2*time.Minute)) != BadCredentials {
		t.Error("old secret outlived the grace window")
	}
	if _, _, err := Create(ctx, s, h, Spec{Subject: "bob", CIDRs: []string{"10.0.0.1/8"}}, now); err == nil {
		t.Error("unmasked CIDR accepted")
	}
	if _, _, err := Create(ctx, s, h, Spec{}, now); err == nil {
		t.Error("key without subject created")
	}
}
