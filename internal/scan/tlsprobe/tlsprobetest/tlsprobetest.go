// Package tlsprobetest runs real TLS servers with legacy settings for
// tests of the TLS probes: OpenSSL's s_server, which at security level 0
// still offers NULL and anonymous suites that no Go server can. It is
// imported only by tests.
package tlsprobetest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

// Server is a running openssl s_server.
type Server struct {
	// Addr is its 127.0.0.1:port.
	Addr string
	// Roots trust its self-signed certificate.
	Roots *x509.CertPool
}

// OpenSSLServer starts `openssl s_server -www` (it answers any GET with a
// status page) on a loopback port with the given cipher list and extra
// arguments, and stops it when the test ends. It skips the test when
// openssl is not installed (.ci/run installs it).
func OpenSSLServer(t testing.TB, ciphers string, extra ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed (apt-get install openssl; .ci/run does)")
	}
	dir := t.TempDir()
	certFile, keyFile, roots := writeCert(t, dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	args := append([]string{"s_server", "-quiet", "-www", "-accept", addr,
		"-cert", certFile, "-key", keyFile, "-cipher", ciphers}, extra...)
	cmd := exec.Command(bin, args...) // #nosec G204 -- the test's own arguments
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("openssl s_server on %s: %s", addr, stderr.String())
		}
	})
	backgroundtest.Eventually(t, "openssl s_server listening on "+addr, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
	return &Server{Addr: addr, Roots: roots}
}

// writeCert writes a self-signed RSA certificate and key for 127.0.0.1.
func writeCert(t testing.TB, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, roots
}
