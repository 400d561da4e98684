package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
)

func TestDevCA(t *testing.T) {
	dir := t.TempDir()
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v %v", fi.Mode(), err)
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil || !again.cert.Equal(ca.cert) {
		t.Fatalf("CA not reused: %v", err)
	}
	c, err := ca.Issue([]string{"localhost", "127.0.0.1", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509Opts(ca, "localhost")); err != nil {
		t.Errorf("leaf does not verify: %v", err)
	}
	if len(c.Leaf.IPAddresses) != 2 || c.Leaf.DNSNames[0] != "localhost" || c.Leaf.NotAfter.After(time.Now().AddDate(0, 0, 31)) {
		t.Errorf("leaf: %v %v %v", c.Leaf.DNSNames, c.Leaf.IPAddresses, c.Leaf.NotAfter)
	}
	if _, err := ca.Issue(nil); err == nil {
		t.Error("certificate without names issued")
	}
	if err := os.WriteFile(filepath.Join(dir, CACertFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil {
		t.Error("corrupt CA silently replaced")
	}
}

func TestBasePolicy(t *testing.T) {
	c := Base("1.2")
	if c.MinVersion != tls.VersionTLS12 || len(c.CipherSuites) != 6 {
		t.Fatalf("base: %v %v", c.MinVersion, c.CipherSuites)
	}
	for _, id := range c.CipherSuites {
		s := tls.CipherSuiteName(id)
		if !(strings.Contains(s, "_GCM_") || strings.Contains(s, "CHACHA20_POLY1305")) || !strings.Contains(s, "ECDHE") {
			t.Errorf("suite %s is not ECDHE+AEAD", s)
		}
	}
	if Base("1.3").MinVersion != tls.VersionTLS13 {
		t.Error("min 1.3 ignored")
	}
}

func TestServerConfigErrors(t *testing.T) {
	_, _, err := ServerConfig(&config.TLS{CertFile: "/nonexistent.crt", KeyFile: "/nonexistent.key", MinVersion: "1.2"}, t.TempDir(), nil)
	if err == nil {
		t.Error("missing certificate accepted")
	}
}

func x509Opts(ca *CA, name string) x509.VerifyOptions {
	return x509.VerifyOptions{Roots: ca.Pool(), DNSName: name}
}

func TestDevCertificateRenewal(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	d, err := newDevSource(ca, []string{"localhost"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	first, _ := d.GetCertificate(nil)
	if again, _ := d.GetCertificate(nil); again != first {
		t.Fatal("renewed a fresh certificate")
	}
	now = first.Leaf.NotAfter.Add(-24 * time.Hour) // a day before expiry
	renewed, _ := d.GetCertificate(nil)
	if renewed == first || renewed.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Errorf("not renewed: %v -> %v", first.Leaf.NotAfter, renewed.Leaf.NotAfter)
	}
}
