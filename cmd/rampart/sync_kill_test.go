package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/audit"
)

// TestSyncSurvivesKill9 builds rampart, serves with audit.sync under load
// from 16 clients (256 KiB bodies, some small), and kills the process with
// SIGKILL mid-load, five times: every request whose response a client
// received in full must have its event in the reopened log, and the log
// must verify.
func TestSyncSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds rampart and kills it under load")
	}
	bin := filepath.Join(t.TempDir(), "rampart")
	build := exec.Command("go", "build", "-o", bin, ".") // #nosec G204 -- the go tool on this package
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 256<<10/16)
	small := []byte(`{"ok":true}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := small
		if r.URL.Path == "/big" {
			b = big
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	}))
	defer up.Close()
	for run := 1; run <= 5; run++ {
		acked, found, events := killUnderLoad(t, bin, up.URL, big, small)
		lost := 0
		for id := range acked {
			if !found[id] {
				lost++
				if lost <= 5 {
					t.Errorf("run %d: request %s was answered in full but its event is not in the log", run, id)
				}
			}
		}
		t.Logf("run %d: %d acknowledged, %d of them found, %d lost (%d request events in the log)", run, len(acked), len(acked)-lost, lost, events)
	}
}

// killUnderLoad runs one gateway until its clients have 3,000 complete
// responses, kills it, and returns the request ids the clients got in
// full, those the log holds, and how many request events it holds.
func killUnderLoad(t *testing.T, bin, upstream string, big, small []byte) (acked, found map[string]bool, events int) {
	t.Helper()
	dir := t.TempDir()
	const origin = "rampart.test/kill"
	cfgPath := filepath.Join(dir, "rampart.yaml")
	cfg := fmt.Sprintf(`version: 1
data_dir: %s
listeners: [{address: "127.0.0.1:0", plaintext: true}]
admin: {disabled: true}
access_log: {disabled: true}
audit: {enabled: true, sync: true, origin: %s}
upstreams: {api: {url: "%s"}}
routes:
  - {name: big, path: /big, methods: [GET], upstream: api, public: true}
  - {name: small, path: /small, methods: [GET], upstream: api, public: true}
`, dir, origin, upstream)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "-c", cfgPath) // #nosec G204 -- the binary this test built
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr, logs := startedAddr(t, stderr)

	const clients, enough = 16, 3000
	var (
		mu     sync.Mutex
		killed bool
		wg     sync.WaitGroup
	)
	acked = map[string]bool{}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	for g := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, len(big)+1) // one buffer: the race detector makes allocating each body slow
			for i := 0; ; i++ {
				path, want := "/big", big
				if (g+i)%4 == 0 {
					path, want = "/small", small
				}
				resp, err := c.Get("http://" + addr + path)
				if err != nil {
					return // killed
				}
				// A whole body is shorter than buf: ReadFull says
				// ErrUnexpectedEOF after the body's EOF; one cut off by
				// the kill is shorter than want.
				n, err := io.ReadFull(resp.Body, buf)
				_ = resp.Body.Close()
				if err != io.ErrUnexpectedEOF || resp.StatusCode != 200 || !bytes.Equal(buf[:n], want) {
					return // cut off by the kill: not acknowledged
				}
				mu.Lock()
				acked[resp.Header.Get("X-Request-Id")] = true
				if len(acked) >= enough && !killed {
					killed = true
					_ = cmd.Process.Kill() // SIGKILL, with the other clients' requests in flight
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	_ = cmd.Wait()
	mu.Lock()
	wasKilled := killed
	mu.Unlock()
	if !wasKilled {
		t.Fatalf("the gateway stopped before it was killed:\n%s", logs())
	}
	delete(acked, "")

	auditDir := filepath.Join(dir, "audit")
	l, err := audit.Open(audit.Options{Dir: auditDir, Origin: origin}) // recovers a torn tail, signs the rest
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	found = map[string]bool{}
	if err := audit.Each(auditDir, func(_ int64, ev audit.Event, _ []byte) error {
		if ev.Kind == "" {
			events++
			found[ev.RequestID] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	key, err := audit.ReadPublicKey(filepath.Join(auditDir, audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := audit.Verify(auditDir, audit.VerifyOptions{PublicKey: key, Strict: true}); err != nil || !rep.OK() {
		t.Errorf("the log does not verify after the kill: %+v %v", rep, err)
	}
	return acked, found, events
}

// startedAddr reads the gateway's log until it says where it listens; the
// rest of the log is kept for failure messages.
func startedAddr(t *testing.T, stderr io.Reader) (string, func() string) {
	t.Helper()
	var mu sync.Mutex
	var seen strings.Builder
	logs := func() string { mu.Lock(); defer mu.Unlock(); return seen.String() }
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			seen.WriteString(sc.Text() + "\n")
			mu.Unlock()
			var rec struct {
				Msg       string `json:"msg"`
				Listeners string `json:"listeners"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "rampart started" {
				addr <- strings.Trim(rec.Listeners, "[]")
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if !ok || a == "" {
			t.Fatalf("rampart did not start:\n%s", logs())
		}
		return a, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("rampart did not start within 30s:\n%s", logs())
		panic("unreachable")
	}
}
