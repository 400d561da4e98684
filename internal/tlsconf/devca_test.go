package tlsconf

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDevCAPair: the key is the truth and the certificate follows it.
func TestDevCAPair(t *testing.T) {
	t.Run("modes", testDevCAModes)
	t.Run("certificate missing: made from the existing key", testDevCACertMissing)
	t.Run("key missing: new key, old certificate replaced", testDevCAKeyMissing)
	t.Run("certificate of another key: refused, nothing replaced", testDevCAForeignCert)
	t.Run("key readable by others: refused", testDevCAKeyReadable)
	t.Run("goroutines agree", testDevCAGoroutines)
}

// testDevCAModes: a new CA's key is 0600, its certificate 0644.
func testDevCAModes(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]os.FileMode{CAKeyFile: 0o600, CACertFile: 0o644} {
		if fi, _ := os.Stat(filepath.Join(dir, file)); fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", file, fi.Mode().Perm(), want)
		}
	}
}

// testDevCACertMissing: a lost certificate is made again from the key.
func testDevCACertMissing(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := readFile(t, filepath.Join(dir, CAKeyFile))
	if err := os.Remove(filepath.Join(dir, CACertFile)); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, CAKeyFile)), key) || !again.key.Equal(first.key) {
		t.Fatal("the key was replaced")
	}
	c, err := first.Issue([]string{"localhost"}) // signed by the key, verified under the new certificate
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509Opts(again, "localhost")); err != nil {
		t.Errorf("a certificate of the key does not verify under the remade CA certificate: %v", err)
	}
}

// testDevCAKeyMissing: a lost key means a new CA, certificate included.
func testDevCAKeyMissing(t *testing.T) {
	dir := t.TempDir()
	first, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.key.Equal(first.key) || again.cert.Equal(first.cert) {
		t.Fatal("the old CA is still used")
	}
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatalf("the new pair does not load: %v", err)
	}
}

// testDevCAForeignCert: a certificate of another key is refused, and neither file is replaced.
func testDevCAForeignCert(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(other); err != nil {
		t.Fatal(err)
	}
	foreign := readFile(t, filepath.Join(other, CACertFile))
	key := readFile(t, filepath.Join(dir, CAKeyFile))
	if err := os.WriteFile(filepath.Join(dir, CACertFile), foreign, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreateCA(dir)
	if !errors.Is(err, errNotKeysCert) || !strings.Contains(err.Error(), filepath.Join(dir, CACertFile)) {
		t.Fatalf("err = %v, want a mismatch naming ca.pem", err)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, CACertFile)), foreign) || !bytes.Equal(readFile(t, filepath.Join(dir, CAKeyFile)), key) {
		t.Error("a file was replaced")
	}
}

// testDevCAKeyReadable: a key file others can read is refused.
func testDevCAKeyReadable(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, CAKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); !errors.Is(err, secretfile.ErrPermissions) {
		t.Fatalf("err = %v, want ErrPermissions", err)
	}
}

// testDevCAGoroutines: goroutines creating one CA at once all get the one on disk.
func testDevCAGoroutines(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	cas := make([]*CA, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			cas[i], errs[i] = LoadOrCreateCA(dir)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !cas[i].cert.Equal(cas[0].cert) || !cas[i].key.Equal(cas[0].key) {
			t.Fatalf("goroutine %d has another CA than goroutine 0", i)
		}
	}
	block, _ := pem.Decode(readFile(t, filepath.Join(dir, CACertFile)))
	if onDisk, err := x509.ParseCertificate(block.Bytes); err != nil || !onDisk.Equal(cas[0].cert) {
		t.Fatal("ca.pem is not the certificate every goroutine uses")
	}
}

// FuzzParseCAKey: any key file is an ECDSA key or an error, never a panic,
// and the error never quotes the file.
func FuzzParseCAKey(f *testing.F) {
	good, _ := newCAKey()
	f.Add(good)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("junk"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := parseCAKey(b)
		if err != nil {
			if len(b) >= 8 && strings.Contains(err.Error(), string(b)) {
				t.Fatalf("error quotes the file: %v", err)
			}
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
