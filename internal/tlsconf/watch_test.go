package tlsconf

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

// TestWatchReloadsOnItsInterval: Watch picks up new files at its interval,
// not before, and a broken file keeps the last good certificate.
func TestWatchReloadsOnItsInterval(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(host string) {
		t.Helper()
		c, err := ca.Issue([]string{host})
		if err != nil {
			t.Fatal(err)
		}
		if err := WritePEM(certFile, keyFile, c); err != nil {
			t.Fatal(err)
		}
	}
	served := func(fs *FileSource) string {
		c, err := fs.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.DNSNames[0]
	}
	write("one.test")
	fs, err := NewFileSource(certFile, keyFile, 10*time.Second, nil)
	if err != nil {
		t.Fatal(err)
	}
	bg, clock := backgroundtest.Runner(t)
	fs.Watch(bg)
	write("two.test")
	backgroundtest.Tick(t, clock, 9*time.Second, 1)
	if got := served(fs); got != "one.test" {
		t.Fatalf("reloaded before the interval: %s", got)
	}
	backgroundtest.Tick(t, clock, time.Second, 1)
	if got := served(fs); got != "two.test" {
		t.Fatalf("not reloaded at the interval: %s", got)
	}
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	backgroundtest.Tick(t, clock, 10*time.Second, 1)
	if got := served(fs); got != "two.test" {
		t.Errorf("a broken file replaced the certificate: %s", got)
	}
}
