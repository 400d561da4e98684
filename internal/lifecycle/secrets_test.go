package lifecycle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/tlsconf"
)

// The tests here start gateways, or the functions that load their
// secrets, in several processes at once on one data dir, and check that
// every process ends up with the same secrets and that the files hold
// them (issue 12 item 5: each used to write its own pepper, token, KEK or
// CA over the others').
const (
	secretsHelperEnv   = "RAMPART_GATEWAY_SECRETS_HELPER" // "loaders" or "serve"
	secretsDirEnv      = "RAMPART_GATEWAY_SECRETS_DIR"
	secretsUpstreamEnv = "RAMPART_GATEWAY_SECRETS_UPSTREAM"
)

// Fixed inputs the processes apply their secrets to, so the parent can
// tell whether they hold the same ones.
var (
	probeSecret = "probe-secret"
	probeDEK    = bytes.Repeat([]byte{7}, 32)
	probeAD     = []byte("secrets-test")
)

// loaded is what a "loaders" process reports: no secret itself, only what
// it computed with each.
type loaded struct {
	PepperHash string // hex HMAC(pepper, probeSecret)
	TokenHash  string // hex SHA-256 of the admin token
	Wrapped    string // hex of probeDEK wrapped with the keyring KEK's version 1
	CALeaf     string // hex DER of a certificate the CA issued
}

// The signing keys have no secret file of their own: the keyring's KEK
// (data-kek) seals them, and an earlier release's signing-kek is only
// read, never created.
func secretPaths(dir string) (pepper, token, dataKEK string) {
	return filepath.Join(dir, "apikey-pepper"), filepath.Join(dir, "admin-token"), filepath.Join(dir, "data-kek")
}

func loadAll(dir string) (loaded, error) {
	pepperFile, tokenFile, dataFile := secretPaths(dir)
	var l loaded
	h, err := apikey.LoadOrCreatePepper(pepperFile)
	if err != nil {
		return l, err
	}
	tok, err := admin.LoadOrCreateToken(tokenFile)
	if err != nil {
		return l, err
	}
	kek, err := keyring.LoadKEKFile(dataFile, true)
	if err != nil {
		return l, err
	}
	wrapped, err := kek.Wrap(context.Background(), 1, probeDEK, probeAD)
	if err != nil {
		return l, err
	}
	ca, err := tlsconf.LoadOrCreateCA(dir)
	if err != nil {
		return l, err
	}
	leaf, err := ca.Issue([]string{"localhost"})
	if err != nil {
		return l, err
	}
	ts := sha256.Sum256([]byte(tok))
	return loaded{hex.EncodeToString(h.Hash(probeSecret)), hex.EncodeToString(ts[:]),
		hex.EncodeToString(wrapped), hex.EncodeToString(leaf.Leaf.Raw)}, nil
}

// serveConfig is the gateway every "serve" process runs: TLS with the
// development CA, the admin listener, and a route behind API keys, all
// on one data dir and one SQLite store.
func serveConfig(dir, upstreamURL string) *config.Config {
	c := gatewaytest.Config(upstreamURL)
	pepper, token, _ := secretPaths(dir)
	c.DataDir = dir
	c.Listeners = []config.Listener{{Name: "https", Address: "127.0.0.1:0", TLS: &config.TLS{}}}
	c.Admin.Address = "127.0.0.1:0"
	c.Admin.TokenFile = token
	c.Store = config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")}
	c.AccessLog.Disabled = true
	c.Authn.APIKey = []config.APIKeyAuth{{Name: "keys", Header: "X-API-Key", PepperFile: pepper}}
	c.Routes = append(c.Routes, config.Route{Name: "keyed", Path: "/keyed", Methods: []string{"GET"}, Upstream: "api",
		Auth: []string{"keys"}, Authz: &config.Authz{Authenticated: true}})
	config.SetDefaults(c)
	return c
}

// TestSecretsHelperProcess is not a test: it is the body of each process
// the tests below start. It prints "ready", waits for "go" on stdin, then
// loads the secrets (or serves) and reports on stdout.
func TestSecretsHelperProcess(t *testing.T) {
	mode, dir := os.Getenv(secretsHelperEnv), os.Getenv(secretsDirEnv)
	if mode == "" {
		t.Skip("run by TestSecretsAgreeAcrossProcesses and TestGatewaysShareSecrets")
	}
	in := bufio.NewReader(os.Stdin)
	fmt.Println("ready")
	if line, _ := in.ReadString('\n'); line != "go\n" {
		os.Exit(2)
	}
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	switch mode {
	case "loaders":
		l, err := loadAll(dir)
		if err != nil {
			fail(err)
		}
		b, _ := json.Marshal(l)
		fmt.Println(string(b))
	case "serve":
		cfg := serveConfig(dir, os.Getenv(secretsUpstreamEnv))
		for _, p := range config.Validate(cfg) {
			if !p.Warning {
				fail(fmt.Errorf("config: %v", p))
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // stdin closed: stop
			_, _ = io.Copy(io.Discard, in)
			cancel()
		}()
		err := Serve(ctx, ServeOptions{Config: cfg, Started: func(r Running) {
			fmt.Printf("started %s %s\n", r.Listeners[0], r.Admin)
		}})
		if err != nil {
			fail(err)
		}
		fmt.Println("stopped")
	}
	os.Exit(0)
}

// helper is one started helper process.
type helper struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	err *bytes.Buffer
}

// startHelpers starts n helper processes in mode on dir and, once every
// one is ready, tells them all to go.
func startHelpers(t *testing.T, n int, mode, dir string, env ...string) []*helper {
	t.Helper()
	hs := make([]*helper, n)
	for i := range hs {
		c := exec.Command(os.Args[0], "-test.run=^TestSecretsHelperProcess$", "-test.count=1") // #nosec G204 -- the test binary itself
		c.Env = append(os.Environ(), append([]string{secretsHelperEnv + "=" + mode, secretsDirEnv + "=" + dir}, env...)...)
		h := &helper{cmd: c, err: &bytes.Buffer{}}
		c.Stderr = h.err
		var err error
		if h.in, err = c.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		h.out = bufio.NewReader(out)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		hs[i] = h
		t.Cleanup(func() {
			_ = h.in.Close()
			_ = c.Wait()
		})
	}
	for i, h := range hs {
		if line, err := h.out.ReadString('\n'); line != "ready\n" {
			t.Fatalf("process %d: %q %v %s", i, line, err, h.err)
		}
	}
	for _, h := range hs {
		_, _ = io.WriteString(h.in, "go\n")
	}
	return hs
}

// line reads the process's next output line; an "error" line fails.
func (h *helper) line(t *testing.T, i int) string {
	t.Helper()
	s, err := h.out.ReadString('\n')
	if err != nil || strings.HasPrefix(s, "error") {
		t.Fatalf("process %d: %q %v\n%s", i, s, err, h.err)
	}
	return strings.TrimSuffix(s, "\n")
}

// TestSecretsAgreeAcrossProcesses: 8 processes load or create every
// secret file of a data dir at the same moment (pepper, admin token,
// keyring KEK, development CA), and every one ends up with
// the secrets in the files.
func TestSecretsAgreeAcrossProcesses(t *testing.T) {
	const procs, rounds = 8, 3
	for round := range rounds {
		dir := t.TempDir()
		hs := startHelpers(t, procs, "loaders", dir)
		got := make([]loaded, procs)
		for i, h := range hs {
			if err := json.Unmarshal([]byte(h.line(t, i)), &got[i]); err != nil {
				t.Fatal(err)
			}
		}
		// What the files hold, loaded after the race.
		pepperFile, tokenFile, dataFile := secretPaths(dir)
		h, err := apikey.LoadOrCreatePepper(pepperFile)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := admin.LoadOrCreateToken(tokenFile)
		if err != nil {
			t.Fatal(err)
		}
		kek, err := keyring.LoadKEKFile(dataFile, false)
		if err != nil {
			t.Fatal(err)
		}
		caPEM, err := os.ReadFile(filepath.Join(dir, tlsconf.CACertFile))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(caPEM)
		ts := sha256.Sum256([]byte(tok))
		for i, l := range got {
			if l.PepperHash != hex.EncodeToString(h.Hash(probeSecret)) {
				t.Errorf("round %d, process %d: another pepper than the file's", round, i)
			}
			if l.TokenHash != hex.EncodeToString(ts[:]) {
				t.Errorf("round %d, process %d: another admin token than the file's", round, i)
			}
			w, _ := hex.DecodeString(l.Wrapped)
			if dek, err := kek.Unwrap(context.Background(), 1, w, probeAD); err != nil || !bytes.Equal(dek, probeDEK) {
				t.Errorf("round %d, process %d: another keyring KEK than the file's (%v)", round, i, err)
			}
			der, _ := hex.DecodeString(l.CALeaf)
			leaf, err := x509.ParseCertificate(der)
			if err == nil {
				_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
			}
			if err != nil {
				t.Errorf("round %d, process %d: its CA is not ca.pem's: %v", round, i, err)
			}
		}
	}
	if !t.Failed() {
		t.Logf("%d rounds of %d processes: all agreed on every secret", rounds, procs)
	}
}

// TestGatewaysShareSecrets: 8 gateways started at once on one data dir
// and one store accept the admin token in the file, serve TLS under the
// ca.pem in the dir, and accept an API key created through one of them
// (so they hash with one pepper). Opening the shared SQLite store spreads
// their starts out, so this is the end-to-end check; the race itself is
// what TestSecretsAgreeAcrossProcesses reproduces.
func TestGatewaysShareSecrets(t *testing.T) {
	up, _ := gatewaytest.Upstream(t)
	dir := t.TempDir()
	const procs = 8
	hs := startHelpers(t, procs, "serve", dir, secretsUpstreamEnv+"="+up.URL)
	type addrs struct{ gw, admin string }
	started := make([]addrs, procs)
	for i, h := range hs {
		var a addrs
		if _, err := fmt.Sscanf(h.line(t, i), "started %s %s", &a.gw, &a.admin); err != nil {
			t.Fatalf("process %d: %v", i, err)
		}
		started[i] = a
	}
	_, tokenFile, _ := secretPaths(dir)
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, tlsconf.CACertFile)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var key string
	for i, a := range started {
		c, err := admin.NewClient("https://"+a.admin, strings.TrimSpace(string(tok)), caFile)
		if err != nil {
			t.Fatal(err)
		}
		// TLS under ca.pem and the file's token, on every gateway.
		if _, err := c.ListKeys(ctx); err != nil {
			t.Fatalf("gateway %d's admin API with ca.pem and the token file: %v", i, err)
		}
		if i == 0 {
			k, err := c.CreateKey(ctx, admin.CreateKeyRequest{Subject: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			key = k.Key
		}
	}
	pem, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	for i, a := range started {
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+a.gw+"/keyed", nil)
		req.Header.Set("X-API-Key", key)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("gateway %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("gateway %d refused the key gateway 0 created: %d (another pepper?)", i, resp.StatusCode)
		}
	}
	for i, h := range hs {
		_ = h.in.Close()
		if line := h.line(t, i); line != "stopped" {
			t.Errorf("process %d: %q", i, line)
		}
	}
}
