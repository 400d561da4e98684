package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	tnote "github.com/transparency-dev/formats/note"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/witness"
)

func TestExitCodes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"version", []string{"version"}, exitOK, "rampart dev", ""},
		{"no command", nil, exitUsage, "", "a command is required"},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"serve", "--nope"}, exitUsage, "", "unknown flag: --nope"},
		{"extra argument", []string{"version", "x"}, exitUsage, "", "takes 0 argument"},
		{"validate without file", []string{"config", "validate"}, exitUsage, "", "needs -c FILE"},
		{"serve without file", []string{"serve"}, exitUsage, "", "needs -c FILE"},
		{"bad port flag", []string{"demo", "--unprotected-port", "70000"}, exitUsage, "", "--unprotected-port"},
		{"validate good", []string{"config", "validate", "-c", "testdata/good.yaml"}, exitOK, "testdata/good.yaml: valid", ""},
		{"validate warns", []string{"config", "validate", "-c", "testdata/good.yaml"}, exitOK, "warning: routes[0].public", ""},
		{"validate bad", []string{"config", "validate", "-c", "testdata/bad.yaml"}, exitFailure, "", "testdata/bad.yaml:6:3: client.trusted_proxys: unknown field"},
		{"validate missing", []string{"config", "validate", "-c", "testdata/none.yaml"}, exitFailure, "", "no such file"},
		{"schema", []string{"config", "schema"}, exitOK, `"$schema"`, ""},
		{"validate compares routes with their specs", []string{"config", "validate", "-c", "testdata/routespec.yaml"}, exitOK, `not-in-spec: route "shadow" answers POST /v1/orders, which no operation of its spec`, ""},
		{"validate a route spec that does not load", []string{"config", "validate", "-c", "testdata/routespec-broken.yaml"}, exitFailure, "", `routes[0].openapi.spec: loading the spec of route "missing-spec"`},
		{"validate an operation the spec lacks", []string{"config", "validate", "-c", "testdata/routespec-broken.yaml"}, exitFailure, "", `has no operation with operationId "nope"`},
		{"validate broken policy", []string{"config", "validate", "-c", "testdata/policy.yaml"}, exitFailure, "", "testdata/broken.cedar:2:"},
		{"example config", []string{"config", "validate", "-c", "../../examples/rampart.yaml"}, exitOK, "valid", ""},
		{"middleware example config", []string{"config", "validate", "-c", "../../examples/middleware/rampart.yaml"}, exitOK, "valid (middleware mode", ""},
		{"serve a middleware config", []string{"serve", "-c", "../../examples/middleware/rampart.yaml"}, exitFailure, "", "listeners: at least one listener is required"},
		{"serve bad config", []string{"serve", "-c", "testdata/bad.yaml"}, exitFailure, "", "3 error(s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"demo", "--help"}, {"config", "validate", "--help"}, {"config", "schema", "--help"}, {"config", "import-openapi", "--help"}, {"version", "--help"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "Usage:") {
			t.Errorf("%v: code %d, out %q", args, code, out.String())
		}
	}
}

func TestAPIKeyCommands(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run([]string{"apikey", "create", "--data", dir, "--subject", "bob", "--role", "reader", "--expires-in", "1h"}, &out, &errOut); code != exitOK {
		t.Fatalf("create: %d %s", code, errOut.String())
	}
	var key, id string
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "rpk_") {
			key = line
		}
		if v, ok := strings.CutPrefix(line, "id:"); ok {
			id = strings.TrimSpace(v)
		}
	}
	if key == "" || id == "" || !strings.Contains(key, id) {
		t.Fatalf("create printed no key: %s", out.String())
	}
	out.Reset()
	if code := run([]string{"apikey", "list", "--data", dir, "--format", "json"}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), id) || strings.Contains(out.String(), key) {
		t.Fatalf("list: %d %s", code, out.String())
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"apikey", "revoke", id, "--data", dir}, exitOK},
		{[]string{"apikey", "rotate", id, "--data", dir}, exitFailure}, // revoked keys are not rotated
		{[]string{"apikey", "revoke", "nope", "--data", dir}, exitFailure},
		{[]string{"apikey", "create", "--data", dir}, exitUsage},
		{[]string{"apikey", "list", "--addr", ""}, exitUsage},
		{[]string{"apikey", "list", "--data", dir, "--format", "xml"}, exitUsage},
	} {
		if code := run(tc.args, &out, &errOut); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut.String())
		}
	}
	out.Reset()
	run([]string{"apikey", "list", "--data", dir}, &out, &errOut)
	if !strings.Contains(out.String(), "revoked") {
		t.Errorf("list after revoke:\n%s", out.String())
	}
}

func TestAuthzExplain(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"--as", "bob", "--scope", "profile", "GET", "/api/users/bob"}, exitOK, []string{"ALLOW", "params:   id=bob", "route rule"}},
		{[]string{"--as", "bob", "--scope", "profile", "GET", "/api/users/carol"}, exitFailure, []string{"DENY by authz: authz.not_owner", "{id} equal to the identity's subject", "[admin] may read any"}},
		{[]string{"--as", "alice", "--role", "admin", "--scope", "profile", "GET", "/api/users/carol"}, exitOK, []string{"ALLOW"}},
		{[]string{"--as", "alice", "--role", "admin", "--scope", "profile", "PUT", "/api/users/carol"}, exitFailure, []string{"PUT rule", "authz.not_owner"}},
		{[]string{"--as", "bob", "--scope", "profile", "--body", `{"role":"admin"}`, "PUT", "/api/users/bob"}, exitFailure, []string{"authz.field_not_writable", "only [email, name]"}},
		{[]string{"--as", "bob", "GET", "/api/%61dmin/stats"}, exitFailure, []string{"path:     /api/admin/stats", "authz.missing_role"}},
		{[]string{"--as", "bob", "GET", "/api/admin%2fstats"}, exitFailure, []string{"DENY by route: route.bad_path"}},
		{[]string{"GET", "/api/admin/stats"}, exitFailure, []string{"nobody", "DENY by authn: authn.missing_credentials"}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		args := append([]string{"authz", "explain", "-c", "testdata/authz.yaml"}, tt.args...)
		code := run(args, &out, &errOut)
		if code != tt.code {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.code, out.String(), errOut.String())
		}
		for _, w := range tt.want {
			if !strings.Contains(out.String(), w) {
				t.Errorf("%v: output lacks %q:\n%s", tt.args, w, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"authz", "explain", "GET", "/"}, &out, &errOut); code != exitUsage {
		t.Errorf("explain without -c: %d", code)
	}
	if code := run([]string{"authz", "explain", "-c", "testdata/authz.yaml", "--role", "admin", "GET", "/"}, &out, &errOut); code != exitUsage {
		t.Errorf("explain --role without --as: %d", code)
	}
}

func TestAuditVerify(t *testing.T) {
	data := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: filepath.Join(data, "audit"), Sync: true, CheckpointEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"n":%d}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	// While the gateway runs, the records after its newest checkpoint are
	// unsigned: said, and a failure only under --strict.
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "verify", "--data", data}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "unsigned:    4 records") || !strings.Contains(out.String(), "WARN:") {
		t.Errorf("running log: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"audit", "verify", "--data", data, "--strict"}, &out, &errOut); code != exitFailure ||
		!strings.Contains(out.String(), "BAD:") || !strings.Contains(out.String(), "4 records") {
		t.Errorf("running log, --strict: exit %d\n%s", code, out.String())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"audit", "verify", "--data", data, "--strict"}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "5 events") || !strings.Contains(out.String(), "unsigned:    0 records") ||
		!strings.Contains(out.String(), "rollback:    cannot be ruled out") {
		t.Fatalf("intact log: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	logPath := filepath.Join(data, "audit", audit.LogFile)
	b, _ := os.ReadFile(logPath)
	i := bytes.Index(b, []byte(`"n":4`))
	b[i+4] ^= 1 // the last event
	_ = os.WriteFile(logPath, b, 0o600)
	out.Reset()
	if code := run([]string{"audit", "verify", "--data", data}, &out, &errOut); code != exitFailure || !strings.Contains(out.String(), "BAD: record ") {
		t.Fatalf("edited log: exit %d\n%s", code, out.String())
	}
	for _, bad := range [][]string{
		{"--witness", "http://127.0.0.1:1"},
		{"--witness", "http://127.0.0.1:1=not-a-key"},
		{"--witness-checkpoint", "nofile=nokey"},
		{"-c", "testdata/authz.yaml", "--dir", data},
	} {
		errOut.Reset()
		if code := run(append([]string{"audit", "verify", "--data", data}, bad...), &out, &errOut); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", bad, code, exitUsage, errOut.String())
		}
	}
}

// TestAuditWitness runs the witness commands: a key made with keygen, a
// witness served by `audit witness serve` that cosigns a log's
// checkpoints, and verify checking the log against it.
func TestAuditWitness(t *testing.T) {
	work := t.TempDir()
	var out, errOut bytes.Buffer
	prefix := filepath.Join(work, "w")
	if code := run([]string{"audit", "witness", "keygen", "--name", "witness.test", "--out", prefix}, &out, &errOut); code != exitOK {
		t.Fatalf("keygen: %d %s", code, errOut.String())
	}
	if fi, err := os.Stat(prefix + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if code := run([]string{"audit", "witness", "keygen", "--name", "witness.test", "--out", prefix}, &out, &errOut); code != exitFailure {
		t.Errorf("keygen over an existing key: exit %d", code)
	}
	const origin = "rampart/witness-cli-test"
	dir := filepath.Join(work, "audit")
	l, err := audit.Open(audit.Options{Dir: dir, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	// The log as it was before the witness saw it: rolling back to it
	// later is the forgery only a copy kept elsewhere catches.
	rolled := filepath.Join(work, "rolled")
	if err := os.CopyFS(rolled, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	var serveOut lockedBuffer
	go func() {
		root := newRoot(&serveOut, io.Discard)
		root.SetArgs([]string{"audit", "witness", "serve", "--listen", addr, "--state", filepath.Join(work, "state"),
			"--key", prefix + ".key", "--log", origin + "=" + filepath.Join(dir, audit.PublicKeyFile)})
		served <- root.ExecuteContext(ctx)
	}()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	backgroundtest.Eventually(t, "the witness listening", 5*time.Second, func() bool {
		return strings.Contains(serveOut.String(), "listening")
	})
	pub, _ := os.ReadFile(prefix + ".pub")
	v, err := tnote.NewVerifierForCosignatureV1(strings.TrimSpace(string(pub)))
	if err != nil {
		t.Fatal(err)
	}
	c, err := witness.NewClient("cli", "http://"+addr, v, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err = audit.Open(audit.Options{Dir: dir, Origin: origin, Publishers: []audit.Publisher{c}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		_ = l.Append([]byte(fmt.Sprintf(`{"v":1,"n":%d}`, i)))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	w := "http://" + addr + "=" + prefix + ".pub"
	if code := run([]string{"audit", "verify", "--dir", dir, "--strict", "--witness", w}, &out, &errOut); code != exitOK ||
		!strings.Contains(out.String(), "witnesses: 1") || !strings.Contains(out.String(), "rollback:    ruled out") {
		t.Fatalf("verify against the witness: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	// A saved cosigned checkpoint works offline, and a log rolled back
	// behind it fails.
	saved := filepath.Join(work, "witnessed.checkpoint")
	_ = os.WriteFile(saved, c.Latest(), 0o600)
	out.Reset()
	if code := run([]string{"audit", "verify", "--dir", dir, "--witness-checkpoint", saved + "=" + string(pub)}, &out, &errOut); code != exitOK {
		t.Fatalf("verify against a saved checkpoint: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	out.Reset()
	if code := run([]string{"audit", "verify", "--dir", rolled, "--witness-checkpoint", saved + "=" + prefix + ".pub"}, &out, &errOut); code != exitFailure ||
		!strings.Contains(out.String(), "BAD:") {
		t.Fatalf("a rolled-back log against the witness: exit %d\n%s", code, out.String())
	}
}

func TestAuditProveAndQuery(t *testing.T) {
	data := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: filepath.Join(data, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		ev := audit.Event{V: 1, Time: "2026-11-27T12:00:00Z", RequestID: fmt.Sprint("req-", i), Subject: []string{"alice", "bob"}[i%2],
			Route: "users", Method: "GET", Path: "/api/users", Status: 200, Decisions: []audit.Decision{{Stage: "authz", Outcome: "allow"}}}
		if i == 3 {
			ev.Status, ev.Decisions = 403, []audit.Decision{{Stage: "authz", Outcome: "deny", Reason: "authz.not_owner"}}
		}
		b, _ := json.Marshal(ev)
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "prove", "req-7", "--data", data}, &out, &errOut); code != exitOK {
		t.Fatalf("prove: %d %s", code, errOut.String())
	}
	var p audit.Proof
	if err := json.Unmarshal(out.Bytes(), &p); err != nil || !bytes.Contains(p.Event, []byte(`"request_id":"req-7"`)) {
		t.Fatalf("the proof is not of req-7: %v %s", err, out.String())
	}
	proof := filepath.Join(t.TempDir(), "proof.json")
	_ = os.WriteFile(proof, out.Bytes(), 0o600)
	out.Reset()
	pubkey := filepath.Join(data, "audit", audit.PublicKeyFile)
	// req-7's index depends on where the first batch's checkpoint record
	// fell, which depends on how many events the writer took at once.
	idx := int64(-1)
	if err := audit.Each(filepath.Join(data, "audit"), func(i int64, ev audit.Event, _ []byte) error {
		if ev.RequestID == "req-7" {
			idx = i
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"audit", "check-proof", proof, "--pubkey", pubkey}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), fmt.Sprintf("OK: event %d ", idx)) {
		t.Fatalf("check-proof: %d %s %s", code, out.String(), errOut.String())
	}
	if code := run([]string{"audit", "check-proof", proof}, &out, &errOut); code != exitUsage {
		t.Fatalf("check-proof without --pubkey: %d", code)
	}
	out.Reset()
	if code := run([]string{"audit", "query", "--data", data, "--subject", "bob", "--decision", "deny"}, &out, &errOut); code != exitOK ||
		strings.Count(out.String(), "\n") != 1 || !strings.Contains(out.String(), `"request_id":"req-3"`) {
		t.Fatalf("query: %d %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"audit", "tail", "--data", data}, &out, &errOut); code != exitOK || strings.Count(out.String(), "\n") != 10 ||
		!strings.Contains(out.String(), `"request_id":"req-11"`) {
		t.Fatalf("tail: %d %q", code, out.String())
	}
}

func TestAuditSummary(t *testing.T) {
	data := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: filepath.Join(data, "audit")})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	old := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339Nano)
	for _, ev := range []audit.Event{
		{V: 1, Time: now, Subject: "bob", Status: 200, Decisions: []audit.Decision{{Stage: "authz", Outcome: "allow"}}},
		{V: 1, Time: now, Subject: "bob", Status: 403, Decisions: []audit.Decision{{Stage: "authz", Outcome: "deny", Reason: "authz.not_owner"}}},
		{V: 1, Time: now, Subject: "carol", Status: 429, Decisions: []audit.Decision{{Stage: "limits", Outcome: "deny", Reason: "limits.rate_exceeded"}}},
		{V: 1, Time: old, Subject: "eve", Status: 200},
		{V: 1, Time: now, Kind: "alert", Action: "anomaly.auth_failures", ClientIP: "203.0.113.9"},
		{V: 1, Time: now, Kind: "admin", Action: "apikey.create", Subject: "bob"},
		{V: 1, Time: now, Subject: "bob", Status: 200, DLP: &audit.DLP{Action: "mask", Findings: []audit.DLPCount{{Kind: "card", Count: 2}, {Kind: "email", Count: 1}}}},
		{V: 1, Time: now, Subject: "carol", Status: 200, DLP: &audit.DLP{Action: "mask", Findings: []audit.DLPCount{{Kind: "card", Count: 3}}}},
		{V: 1, Time: now, Kind: "admin", Action: "transit.decrypt", Subject: "u1", Detail: `field "x" by apikey:k1: ok`},
		{V: 1, Time: now, Kind: "admin", Action: "transit.decrypt", Subject: "u2", Detail: `field "x" by apikey:k1: refused`},
	} {
		b, _ := json.Marshal(ev)
		if err := l.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"audit", "summary", "--data", data, "--format", "json"}, &out, &errOut); code != exitOK {
		t.Fatalf("summary: %d %s", code, errOut.String())
	}
	var s struct {
		Requests, Denied int
		TopSubjects      []struct {
			Key string
			N   int
		} `json:"top_subjects"`
		Denials []struct {
			Key string
			N   int
		} `json:"denials_by_reason"`
		Alerts    []audit.Event `json:"alerts"`
		Admin     []audit.Event `json:"admin_actions"`
		Sensitive []struct {
			Key string
			N   int
		} `json:"sensitive_data"`
		Transit []struct {
			Key string
			N   int
		} `json:"encryption_api"`
	}
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Requests != 5 || s.Denied != 2 || s.TopSubjects[0].Key != "bob" || s.TopSubjects[0].N != 3 || len(s.Denials) != 2 ||
		len(s.Alerts) != 1 || len(s.Admin) != 1 || len(s.Sensitive) != 2 || s.Sensitive[0].Key != "card mask" || s.Sensitive[0].N != 5 ||
		len(s.Transit) != 2 {
		t.Fatalf("summary %+v", s)
	}
	out.Reset()
	if code := run([]string{"audit", "summary", "--data", data}, &out, &errOut); code != exitOK || !strings.Contains(out.String(), "authz.not_owner") {
		t.Fatalf("text summary: %d %s", code, out.String())
	}
}

// TestKeysCommands runs rampart keys offline on a data directory: list,
// rotate, kek-add, rewrap, shred, with the usage errors around them.
func TestKeysCommands(t *testing.T) {
	dir := t.TempDir()
	runOK := func(want string, args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != exitOK || !strings.Contains(out.String(), want) {
			t.Fatalf("%v: code %d, out %q, err %q", args, code, out.String(), errOut.String())
		}
		return out.String()
	}
	runOK("version 1", "keys", "rotate", "bob", "--data", dir)
	runOK("version 2", "keys", "rotate", "bob", "--data", dir)
	runOK("added KEK version 2", "keys", "kek-add", "--data", dir)
	runOK("rewrapped 2 data keys; all 2 are wrapped by KEK version 2", "keys", "rewrap", "--data", dir)
	if out := runOK("bob", "keys", "list", "--data", dir, "--format", "json"); !strings.Contains(out, `"kek_version": 2`) || strings.Contains(out, "wrapped") {
		t.Errorf("list: %s", out)
	}
	runOK("2 data key versions destroyed", "keys", "shred", "bob", "--data", dir)
	if out := runOK("SUBJECT", "keys", "list", "bob", "--data", dir); strings.Contains(out, "bob ") {
		t.Errorf("bob's keys listed after the shred: %s", out)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"keys", "shred", "--data", dir}, "takes 1 argument"},
		{[]string{"keys", "list", "--format", "xml", "--data", dir}, "--format must be text or json"},
		{[]string{"keys", "list"}, "give --addr"},
		{[]string{"keys", "rotate", "bob", "--data", dir, "-c", "x.yaml"}, "not both"},
		{[]string{"keys", "kek-add"}, "give --kek-file"},
	} {
		var out, errOut bytes.Buffer
		if code := run(tc.args, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), tc.err) {
			t.Errorf("%v: code %d, stderr %q", tc.args, code, errOut.String())
		}
	}
}

// TestValidateLints checks that config validate prints the config
// checker's findings as warnings (file:line:col: severity rule-id:
// message) and still exits 0, and prints none for the example config.
func TestValidateLints(t *testing.T) {
	tests := []struct {
		file string
		want []string // the lint lines, in order
	}{
		{"testdata/good.yaml", []string{
			"testdata/good.yaml:1:1: medium rampart.lint.config.audit-off: the audit log is off: no tamper-evident record of requests, refusals or anomalies is kept.",
			`testdata/good.yaml:9:5: medium rampart.lint.config.no-rate-limit: route "health" has no rate limit, quota or concurrency limit of its own, no limits.pre_auth, and plans do not apply to anonymous requests.`,
		}},
		{"../../examples/rampart.yaml", nil},
		{"../../examples/middleware/rampart.yaml", []string{
			`../../examples/middleware/rampart.yaml:17:5: medium rampart.lint.config.no-rate-limit: route "health" has no rate limit, quota or concurrency limit of its own, no limits.pre_auth, and plans do not apply to anonymous requests.`,
			`../../examples/middleware/rampart.yaml:18:5: medium rampart.lint.config.no-rate-limit: route "items" has no rate limit, quota or concurrency limit of its own, no limits.pre_auth and no plan matches every identity.`,
		}},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run([]string{"config", "validate", "-c", tt.file}, &out, &errOut); code != exitOK {
			t.Errorf("%s: exit code %d, want 0 (stderr %q)", tt.file, code, errOut.String())
		}
		var got []string
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.Contains(line, " rampart.lint.config.") {
				got = append(got, line)
			}
		}
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("%s: lint lines\n%s\nwant\n%s", tt.file, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
		}
	}
}

// TestValidatePrintsEachProblemOnce is the regression test for config
// validate printing a plaintext listener (and a public route that writes)
// twice, as a config warning and as the lint finding that restates it:
// each problem is printed once, the finding where there is one.
func TestValidatePrintsEachProblemOnce(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"config", "validate", "-c", "testdata/plaintext.yaml"}, &out, &errOut); code != exitOK {
		t.Fatalf("exit code %d, want 0 (stderr %q)", code, errOut.String())
	}
	want := []string{
		"testdata/plaintext.yaml:12:5: warning: listeners[1].plaintext: serves HTTP without TLS; only safe behind a load balancer that terminates TLS",
		`testdata/plaintext.yaml:27:5: warning: routes[0].public: route "health" is open to anyone`,
		`testdata/plaintext.yaml:9:5: medium rampart.lint.config.plaintext-listener: listener "lan" serves plain HTTP on 0.0.0.0:8080, which is not a loopback address.`,
		`testdata/plaintext.yaml:32:5: high rampart.lint.config.public-write: route "signup" is public and accepts POST on /signup: anyone may write without a credential.`,
		"testdata/plaintext.yaml: valid",
	}
	if d := cmp.Diff(want, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); d != "" {
		t.Errorf("config validate output (-want +got):\n%s", d)
	}
}
