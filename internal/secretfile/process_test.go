package secretfile

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// helperEnv makes the test binary, re-executed by StartProcesses, act as
// one of the racing processes instead of running tests.
const helperEnv = "RAMPART_SECRETFILE_HELPER_PATH"

// TestHelperProcess is not a test: it is the body of each racing process.
// It says "ready", waits for its stdin to close (the barrier: the parent
// closes every child's stdin once all are ready), calls LoadOrCreate and
// prints what it got.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv(helperEnv)
	if path == "" {
		t.Skip("run by TestLoadOrCreateProcesses")
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	b, created, err := LoadOrCreate(path, random, valid16)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("result", created, hex.EncodeToString(b))
	os.Exit(0)
}

// TestLoadOrCreateProcesses starts 8 processes that call LoadOrCreate on
// one path at the same moment, over several rounds, and checks that all
// of them got the same secret, exactly one created it, and the file holds
// it. With a plain read-else-write, processes of one round disagree.
func TestLoadOrCreateProcesses(t *testing.T) {
	const procs, rounds = 8, 10
	for round := range rounds {
		path := filepath.Join(t.TempDir(), "secret")
		out := RunProcesses(t, procs, "TestHelperProcess", helperEnv+"="+path)
		creators := 0
		var first string
		for i, line := range out {
			var created bool
			var secret string
			if _, err := fmt.Sscanf(line, "result %t %s", &created, &secret); err != nil {
				t.Fatalf("round %d, process %d: %q", round, i, line)
			}
			if created {
				creators++
			}
			if i == 0 {
				first = secret
			} else if secret != first {
				t.Fatalf("round %d: process %d got another secret than process 0", round, i)
			}
		}
		onDisk, err := os.ReadFile(path)
		if err != nil || hex.EncodeToString(onDisk) != first {
			t.Fatalf("round %d: the file does not hold the secret every process got (%v)", round, err)
		}
		if creators != 1 {
			t.Fatalf("round %d: %d processes say they created the file, want 1", round, creators)
		}
		noTemps(t, filepath.Dir(path))
	}
	if !t.Failed() {
		t.Logf("%d rounds of %d processes: all agreed, one creator each", rounds, procs)
	}
}

// RunProcesses re-executes the test binary n times running only the test
// named run, with env added, releases them together once every one has
// printed "ready", and returns each one's last output line. It fails the
// test if a process fails.
func RunProcesses(t *testing.T, n int, run string, env ...string) []string {
	t.Helper()
	cmds := make([]*exec.Cmd, n)
	stdins := make([]io.WriteCloser, n)
	stdouts := make([]*bufio.Reader, n)
	var stderrs = make([]*bytes.Buffer, n)
	for i := range cmds {
		c := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1") // #nosec G204 -- the test binary itself
		c.Env = append(os.Environ(), env...)
		stderrs[i] = &bytes.Buffer{}
		c.Stderr = stderrs[i]
		in, err := c.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[i], stdins[i], stdouts[i] = c, in, bufio.NewReader(out)
	}
	for i, r := range stdouts {
		line, err := r.ReadString('\n')
		if err != nil || line != "ready\n" {
			t.Fatalf("process %d: %q %v %s", i, line, err, stderrs[i])
		}
	}
	for _, in := range stdins {
		_ = in.Close()
	}
	lines := make([]string, n)
	for i, r := range stdouts {
		rest, _ := io.ReadAll(r)
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("process %d: %v\n%s%s", i, err, rest, stderrs[i])
		}
		all := strings.Split(strings.TrimSpace(string(rest)), "\n")
		lines[i] = all[len(all)-1]
	}
	return lines
}
