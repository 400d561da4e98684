package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeSignals runs `rampart serve` in this process and drives it with
// real signals: SIGHUP reloads the edited config file (and a broken edit
// keeps the running config), SIGTERM drains and exits 0.
func TestServeSignals(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, r.URL.Path) }))
	defer up.Close()
	dir := t.TempDir()
	addr := freeAddr(t)
	path := filepath.Join(dir, "rampart.yaml")
	write := func(extra string) {
		t.Helper()
		cfg := fmt.Sprintf(`version: 1
data_dir: %s
listeners: [{address: "%s", plaintext: true}]
admin: {disabled: true}
upstreams: {api: {url: "%s"}}
routes:
  - {name: a, path: /a, methods: [GET], upstream: api, public: true}
%s`, dir, addr, up.URL, extra)
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("")
	var stdout, stderr lockedBuffer
	code := make(chan int, 1)
	go func() { code <- run([]string{"serve", "-c", path}, &stdout, &stderr) }()

	status := func(p string) int {
		resp, err := http.Get("http://" + addr + p)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("stderr:\n%s", stderr.String())
			}
		})
		backgroundtest.Eventually(t, what, 15*time.Second, cond)
	}
	eventually("serving", func() bool { return status("/a") == 200 })
	if status("/b") != 404 {
		t.Fatal("/b routed before reload")
	}

	write("  - {name: b, path: /b, methods: [GET], upstream: api, public: true}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually("reload", func() bool { return status("/b") == 200 })

	write("  - {name: b, path: /b, methods: [GET], upstream: nope, public: true}\n")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually("failed reload logged", func() bool { return bytes.Contains([]byte(stderr.String()), []byte("config reload failed")) })
	if status("/b") != 200 {
		t.Error("a broken config replaced the running one")
	}

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != exitOK {
			t.Fatalf("exit %d\n%s", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no graceful exit on SIGTERM")
	}
	if !bytes.Contains([]byte(stdout.String()), []byte(`"route":"b"`)) {
		t.Errorf("access log on stdout lacks the reloaded route:\n%s", stdout.String())
	}
}
