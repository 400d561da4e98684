package demo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

// TestIssuerKey: demos starting at once on one dir share one issuer key;
// an unusable key file is an error naming it, never replaced.
func TestIssuerKey(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	iss := make([]*issuer, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			iss[i], errs[i] = loadOrCreateIssuer(dir)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !iss[i].key.Equal(iss[0].key) {
			t.Fatalf("goroutine %d: %v, or another key than goroutine 0", i, errs[i])
		}
	}
	path := filepath.Join(dir, "demo-issuer-key.pem")
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", fi.Mode().Perm())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateIssuer(dir); !errors.Is(err, secretfile.ErrPermissions) {
		t.Errorf("world-readable key: err = %v", err)
	}
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateIssuer(dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("garbage key: err = %v, want an error naming %s", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Error("the key file was replaced")
	}
}

// FuzzParseIssuerKey: any key file is an ECDSA key or an error, never a
// panic.
func FuzzParseIssuerKey(f *testing.F) {
	good, _ := newIssuerKey()
	f.Add(good)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseIssuerKey(b)
		if err != nil {
			return
		}
		if k == nil {
			t.Fatal("nil key without an error")
		}
		if _, err := k.Bytes(); err != nil {
			t.Fatalf("an unusable key without an error: %v", err)
		}
	})
}
