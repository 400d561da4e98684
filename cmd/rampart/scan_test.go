package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/demo"
)

func TestScanUsage(t *testing.T) {
	spec := filepath.Join("..", "..", "internal", "demo", "openapi.yaml")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths:\n  /a:\n    get:\n      responses: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no spec", []string{"scan", "--target", "http://127.0.0.1:1"}, exitUsage, "needs --spec and --target"},
		{"bad target", []string{"scan", "--spec", spec, "--target", "ftp://x"}, exitUsage, "must be an http(s) URL"},
		{"bad format", []string{"scan", "--spec", spec, "--target", "http://127.0.0.1:1", "--format", "pdf"}, exitUsage, "unknown format"},
		{"bad fail-on", []string{"scan", "--spec", spec, "--target", "http://127.0.0.1:1", "--fail-on", "severe"}, exitUsage, "--fail-on"},
		{"bad output", []string{"scan", "--spec", spec, "--target", "http://127.0.0.1:1", "--output", "report.pdf"}, exitUsage, "FORMAT=FILE"},
		{"identity without header", []string{"scan", "--spec", spec, "--target", "http://127.0.0.1:1", "--identity", "bob=sekrit-token-value"}, exitUsage, "'Authorization: Bearer TOKEN'"},
		{"unknown admin", []string{"scan", "--spec", spec, "--target", "http://127.0.0.1:1", "--admin", "mallory"}, exitUsage, "--admin mallory"},
		{"bad spec", []string{"scan", "--spec", bad, "--target", "http://127.0.0.1:1"}, exitFailure, "bad.yaml:6:7: /paths/~1a/get/responses"},
		{"bad config", []string{"scan", "--config", "testdata/scan-bad.yaml"}, exitUsage, "line 3: field tarrget not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.stderr)
			}
			if strings.Contains(errOut.String(), "sekrit") {
				t.Errorf("the credential leaked into the error: %q", errOut.String())
			}
		})
	}
}

func TestScanListAndDryRun(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"scan", "--list-checks"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "rampart.scan.api1.bola") {
		t.Fatalf("--list-checks: %d %s %s", code, out.String(), errOut.String())
	}
	out.Reset()
	spec := filepath.Join("..", "..", "internal", "demo", "openapi.yaml")
	// Nothing listens on the target: a dry run must not need it.
	code := run([]string{"scan", "--dry-run", "--spec", spec, "--target", "http://127.0.0.1:9", "--identity", "bob=X-API-Key: k"}, &out, &errOut)
	if code != exitOK || !strings.Contains(out.String(), "GET     http://127.0.0.1:9/api/users/bob") || !strings.Contains(out.String(), "check bola") {
		t.Fatalf("--dry-run: %d\n%s\n%s", code, out.String(), errOut.String())
	}
}

// The acceptance run: the scan finds the demo API's weaknesses on its
// unprotected port, and none of them behind the gateway.
func TestScanDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the demo")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan demo.Credentials, 1)
	done := make(chan error, 1)
	go func() {
		done <- demo.Run(ctx, demo.Options{Listen: "127.0.0.1:0", Admin: "127.0.0.1:0", DataDir: dir, UnprotectedPort: port,
			Started: func(c demo.Credentials) { started <- c }})
	}()
	t.Cleanup(func() { cancel(); <-done })
	var creds demo.Credentials
	select {
	case creds = <-started:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not start")
	}
	ids := []string{}
	for _, n := range []string{"alice", "bob", "carol"} {
		ids = append(ids, "--identity", n+"=Authorization: Bearer "+creds.Users[n].JWT)
	}
	scanOnce := func(target string, extra ...string) (int, map[string]any, string) {
		t.Helper()
		report := filepath.Join(dir, "report.json")
		args := append([]string{"scan", "--quiet", "--spec", creds.Spec, "--target", target, "--admin", "alice", "--allow-writes",
			"--output", report, "--output", filepath.Join(dir, "report.sarif"), "--output", filepath.Join(dir, "report.html")}, ids...)
		var out, errOut bytes.Buffer
		code := run(append(args, extra...), &out, &errOut)
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatalf("no report (code %d): %s", code, errOut.String())
		}
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return code, r, out.String()
	}
	code, bare, text := scanOnce(creds.Unprotected)
	if code != exitFailure {
		t.Errorf("scan of the unprotected API exited %d, want 1", code)
	}
	got := map[string]bool{}
	for _, f := range bare["findings"].([]any) {
		got[f.(map[string]any)["ruleId"].(string)] = true
	}
	for _, want := range []string{"rampart.scan.api1.bola", "rampart.scan.api5.bfla", "rampart.scan.api3.mass-assignment",
		"rampart.scan.api3.sensitive-data", "rampart.scan.api4.no-rate-limit", "rampart.scan.api2.unauthenticated"} {
		if !got[want] {
			t.Errorf("the unprotected demo API's %s was not found", want)
		}
	}
	stats := bare["stats"].(map[string]any)
	started1, _ := time.Parse(time.RFC3339Nano, bare["started"].(string))
	finished1, _ := time.Parse(time.RFC3339Nano, bare["finished"].(string))
	t.Logf("unprotected: %v requests in %s, %d rules fired", stats["requests"], finished1.Sub(started1).Round(time.Millisecond), len(got))
	if !strings.Contains(text, "reproduce: curl") {
		t.Error("text report lacks curl commands")
	}

	code, gw, text := scanOnce(creds.Gateway, "--cacert", creds.CACert)
	if code != exitOK {
		t.Errorf("scan through the gateway exited %d, want 0:\n%s", code, text)
	}
	for _, f := range gw["findings"].([]any) {
		m := f.(map[string]any)
		if sev := m["severity"].(string); sev != "info" && sev != "low" {
			t.Errorf("through the gateway: %s %s %s %s", sev, m["ruleId"], m["method"], m["pathTemplate"])
		}
	}
	stats = gw["stats"].(map[string]any)
	started2, _ := time.Parse(time.RFC3339Nano, gw["started"].(string))
	finished2, _ := time.Parse(time.RFC3339Nano, gw["finished"].(string))
	t.Logf("gateway: %v requests in %s, %d findings", stats["requests"], finished2.Sub(started2).Round(time.Millisecond), len(gw["findings"].([]any)))

	// An OAuth2 client-credentials identity from scan.yaml, against the
	// gateway's own token server, passes the pre-flight.
	cfg := filepath.Join(dir, "scan.yaml")
	doc := "spec: " + creds.Spec + "\ntarget: " + creds.Gateway + "\nidentities:\n  carol-svc:\n    client_credentials:\n" +
		"      token_url: " + creds.Gateway + "/oauth/token\n      client_id: " + creds.Users["carol"].ClientID + "\n      client_secret: ${CAROL_KEY}\n"
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CAROL_KEY", creds.Users["carol"].APIKey)
	var out, errOut bytes.Buffer
	code = run([]string{"scan", "--quiet", "--config", cfg, "--cacert", creds.CACert, "--checks", "rampart.scan.api2.unauthenticated", "--format", "json"}, &out, &errOut)
	if code != exitOK || strings.Contains(out.String(), "not proven") || strings.Contains(out.String(), "could not be proven") {
		t.Errorf("client-credentials identity: code %d\n%s\n%s", code, out.String(), errOut.String())
	}
	// A credential the gateway refuses stops the scan before it starts.
	out.Reset()
	errOut.Reset()
	code = run([]string{"scan", "--quiet", "--spec", creds.Spec, "--target", creds.Gateway, "--cacert", creds.CACert,
		"--identity", "mallory=Authorization: Bearer forged.token.value"}, &out, &errOut)
	if code != exitFailure || !strings.Contains(errOut.String(), "identity is not authenticated: mallory") || strings.Contains(errOut.String(), "forged.token") {
		t.Errorf("refused identity: code %d, stderr %q", code, errOut.String())
	}
}
