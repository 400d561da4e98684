package server

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sslscanReport is the part of sslscan's XML report the test reads.
type sslscanReport struct {
	Tests []struct {
		Protocols []struct {
			Type    string `xml:"type,attr"`
			Version string `xml:"version,attr"`
			Enabled string `xml:"enabled,attr"`
		} `xml:"protocol"`
		Ciphers []struct {
			Version string `xml:"sslversion,attr"`
			Cipher  string `xml:"cipher,attr"`
		} `xml:"cipher"`
	} `xml:"ssltest"`
}

// TestSSLScan points the sslscan tool (Debian package sslscan; .ci/run
// installs it) at a real listener: it must find TLS 1.2 and 1.3 only, and
// AEAD cipher suites only.
func TestSSLScan(t *testing.T) {
	bin, err := exec.LookPath("sslscan")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sslscan not installed; .ci/run installs it")
		}
		t.Skip("sslscan not installed (apt-get install sslscan); CI runs this test")
	}
	addr, _ := startTLS(t, "1.2", true)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--no-colour", "--xml=-", addr).Output() // #nosec G204 -- fixed tool, test address
	if err != nil {
		t.Fatalf("sslscan: %v\n%s", err, out)
	}
	var r sslscanReport
	if err := xml.Unmarshal(out[strings.Index(string(out), "<?xml"):], &r); err != nil {
		t.Fatalf("parsing sslscan report: %v\n%s", err, out)
	}
	if len(r.Tests) != 1 || len(r.Tests[0].Ciphers) == 0 {
		t.Fatalf("sslscan found nothing:\n%s", out)
	}
	for _, p := range r.Tests[0].Protocols {
		enabled := p.Enabled == "1"
		want := p.Type == "tls" && (p.Version == "1.2" || p.Version == "1.3")
		if enabled != want {
			t.Errorf("%s %s enabled=%v", p.Type, p.Version, enabled)
		}
	}
	for _, c := range r.Tests[0].Ciphers {
		if !strings.Contains(c.Cipher, "GCM") && !strings.Contains(c.Cipher, "CHACHA20") {
			t.Errorf("non-AEAD cipher accepted: %s %s", c.Version, c.Cipher)
		}
		if c.Version == "TLSv1.2" && !strings.HasPrefix(c.Cipher, "ECDHE-") {
			t.Errorf("cipher without forward secrecy: %s", c.Cipher)
		}
	}
	t.Logf("sslscan: %d protocols, %d ciphers checked", len(r.Tests[0].Protocols), len(r.Tests[0].Ciphers))
}
