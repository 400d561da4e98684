package main

import (
	"bytes"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/firewall"
)

// TestBanCommands drives `rampart ban` against an admin API with an
// in-memory ban list, with flags and with the environment.
func TestBanCommands(t *testing.T) {
	const token = "rpa_0123456789abcdef0123"
	bans := firewall.NewMemoryBans(config.Bans{}, nil)
	h, err := admin.New(admin.Options{Token: token, Registry: prometheus.NewRegistry(), Bans: bans})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("RAMPART_ADDR", "")
	t.Setenv("RAMPART_TOKEN", "")
	t.Setenv("RAMPART_CACERT", "")
	online := []string{"--addr", srv.URL, "--token", token, "--cacert", ca}

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"add", append([]string{"ban", "add", "203.0.113.7", "--ttl", "2h", "--reason", "scanner"}, online...), exitOK, "banned 203.0.113.7/32 until", ""},
		{"add cidr with default ttl", append([]string{"ban", "add", "2001:db8::/48"}, online...), exitOK, "banned 2001:db8::/48", ""},
		{"list", append([]string{"ban", "list"}, online...), exitOK, "203.0.113.7/32", ""},
		{"list json", append([]string{"ban", "list", "--format", "json"}, online...), exitOK, `"reason": "scanner"`, ""},
		{"remove", append([]string{"ban", "remove", "203.0.113.7"}, online...), exitOK, "unbanned 203.0.113.7", ""},
		{"remove again", append([]string{"ban", "remove", "203.0.113.7"}, online...), exitFailure, "", "admin.not_found"},
		{"bad network", append([]string{"ban", "add", "nope"}, online...), exitFailure, "", "network must be an IP address"},
		{"ttl over max", append([]string{"ban", "add", "192.0.2.1", "--ttl", "10000h"}, online...), exitFailure, "", "at most 720h"},
		{"zero ttl", append([]string{"ban", "add", "192.0.2.1", "--ttl", "0s"}, online...), exitUsage, "", "--ttl must be positive"},
		{"no network", append([]string{"ban", "add"}, online...), exitUsage, "", "takes 1 argument"},
		{"no address", []string{"ban", "list"}, exitUsage, "", "give --addr"},
		{"plain http", []string{"ban", "list", "--addr", "http://127.0.0.1:1", "--token", token}, exitUsage, "", "https URL"},
		{"wrong token", []string{"ban", "list", "--addr", srv.URL, "--token", "rpa_wrong_wrong_wrong_wrong", "--cacert", ca}, exitFailure, "", "401"},
		{"bad format", append([]string{"ban", "list", "--format", "xml"}, online...), exitUsage, "", "--format"},
		{"help", []string{"ban", "--help"}, exitOK, "Usage:", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}

	// The environment stands in for the flags.
	t.Setenv("RAMPART_ADDR", srv.URL)
	t.Setenv("RAMPART_TOKEN", token)
	t.Setenv("RAMPART_CACERT", ca)
	var out, errOut bytes.Buffer
	if code := run([]string{"ban", "list"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "2001:db8::/48") || strings.Contains(out.String(), "203.0.113.7") {
		t.Errorf("list from the environment: %d %q %q", code, out.String(), errOut.String())
	}
}
