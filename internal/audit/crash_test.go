package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashChild is the child of TestCrash: it appends events with Sync
// from 8 goroutines and prints the id of each acknowledged one.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv("RAMPART_AUDIT_CRASH_DIR")
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	l, err := Open(Options{Dir: dir, Sync: true, CheckpointEvery: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("%d-%d", g, i)
				if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"request_id":%q}`, id))); err != nil {
					return
				}
				mu.Lock()
				fmt.Fprintln(out, id) // acknowledged
				_ = out.Flush()
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestCrash kills a child that appends under load with SIGKILL: every event
// it acknowledged is in the log, and the log verifies once reopened.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$") // #nosec G204 -- the test binary itself
	cmd.Env = append(os.Environ(), "RAMPART_AUDIT_CRASH_DIR="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[string]bool{}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(acked) < 3000 {
		if line := sc.Text(); line != "" && line[0] >= '0' && line[0] <= '9' {
			acked[line] = true
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // what the child printed before dying was acknowledged too
		if line := sc.Text(); line != "" && line[0] >= '0' && line[0] <= '9' {
			acked[line] = true
		}
	}
	_ = cmd.Wait()
	if len(acked) < 100 {
		t.Fatalf("the child acknowledged only %d events", len(acked))
	}
	l, err := Open(Options{Dir: dir}) // recovers a torn tail, if any
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, LogFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	found := map[string]bool{}
	if _, err := scan(f, func(_ int64, _ [32]byte, payload []byte) error {
		var ev struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			return err
		}
		if !isLogRecord(payload) {
			found[ev.RequestID] = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for id := range acked {
		if !found[id] {
			t.Fatalf("acknowledged event %s is missing (%d acknowledged, %d in the log)", id, len(acked), len(found))
		}
	}
	key, _ := ReadPublicKey(filepath.Join(dir, PublicKeyFile))
	if rep, err := Verify(dir, VerifyOptions{PublicKey: key, Strict: true}); err != nil || !rep.OK() {
		t.Fatalf("after the crash: %+v %v", rep, err)
	}
	t.Logf("%d acknowledged, %d in the log", len(acked), len(found))
}
