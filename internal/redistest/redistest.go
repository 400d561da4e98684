// Package redistest starts throwaway Redis Cluster nodes for tests, from
// the redis-server and redis-cli binaries on the machine, so that code that
// claims to work on a cluster is tested on one. It owns nothing else; tests
// against a single Redis use RAMPART_TEST_REDIS directly.
package redistest

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

// Cluster starts a three-node Redis Cluster (no replicas) on free loopback
// ports, stopped when t ends, and returns a redis:// URL of one node. It
// skips t when RAMPART_TEST_REDIS is unset (the environment has no Redis
// to offer) and fails it when the binaries are missing there.
func Cluster(t testing.TB) string {
	t.Helper()
	if os.Getenv("RAMPART_TEST_REDIS") == "" {
		t.Skip("RAMPART_TEST_REDIS is not set; .ci/run sets it and installs redis-server")
	}
	server, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is not installed: %v", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatalf("redis-cli is not installed: %v", err)
	}
	dir := t.TempDir()
	var addrs []string
	for i := range 3 {
		port := freePort(t)
		nodeDir := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(nodeDir, 0o700); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(server, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", // #nosec G204 -- test binary and fixed arguments
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(nodeDir, "nodes.conf"),
			"--dir", nodeDir, "--save", "", "--appendonly", "no", "--protected-mode", "no")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		waitListening(t, addr, &out)
		addrs = append(addrs, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil { // #nosec G204 -- test binary
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	host, port, _ := net.SplitHostPort(addrs[0])
	// The slots are assigned; wait until every node agrees.
	backgroundtest.Eventually(t, "the cluster reaching cluster_state:ok", 30*time.Second, func() bool {
		out, err := exec.CommandContext(ctx, cli, "-h", host, "-p", port, "cluster", "info").Output() // #nosec G204 -- test binary
		return err == nil && strings.Contains(string(out), "cluster_state:ok")
	})
	return "redis://" + addrs[0]
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitListening(t testing.TB, addr string, out *bytes.Buffer) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("redis-server on %s: %s", addr, out)
		}
	})
	backgroundtest.Eventually(t, "redis-server listening on "+addr, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	})
}
