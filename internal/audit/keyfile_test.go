package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

// pubVerifier reads a verifier key file as `rampart audit verify` does.
func pubVerifier(path string) (note.Verifier, error) {
	k, err := ReadPublicKey(path)
	if err != nil {
		return nil, err
	}
	return note.NewVerifier(k)
}

// TestKeyFiles: audit-key is made once, audit-key.pub follows it.
func TestKeyFiles(t *testing.T) {
	t.Run("created", testKeyFilesCreated)
	t.Run("verifier key missing: derived from the signing key", testKeyFilesPubMissing)
	t.Run("verifier key of another key: refused", testKeyFilesForeignPub)
	t.Run("signing key readable by others: refused", testKeyFilesKeyReadable)
	t.Run("signing key malformed: refused without quoting it", testKeyFilesKeyMalformed)
	t.Run("goroutines agree", testKeyFilesGoroutines)
}

// testKeyFilesCreated: a new key pair: both files 0600, the verifier key is the signer's.
func testKeyFilesCreated(t *testing.T) {
	dir := t.TempDir()
	s, _, err := loadOrCreateKey(dir, "rampart.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{KeyFile, PublicKeyFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, fi, err)
		}
	}
	v, err := pubVerifier(filepath.Join(dir, PublicKeyFile))
	if err != nil || v.Name() != s.Name() || v.KeyHash() != s.KeyHash() {
		t.Fatalf("audit-key.pub is not the signer's: %v", err)
	}
	msg, _ := note.Sign(&note.Note{Text: "x\n"}, s)
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatalf("a note signed with audit-key does not verify with audit-key.pub: %v", err)
	}
}

// testKeyFilesPubMissing: a lost audit-key.pub is derived again from audit-key.
func testKeyFilesPubMissing(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, err := note.GenerateKey(nil, "rampart.example/audit")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateKey(dir, "ignored"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if string(got) != vkey+"\n" {
		t.Fatalf("audit-key.pub = %q, want GenerateKey's %q", got, vkey)
	}
}

// testKeyFilesForeignPub: an audit-key.pub of another key is refused and left as it is.
func testKeyFilesForeignPub(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := loadOrCreateKey(dir, "a"); err != nil {
		t.Fatal(err)
	}
	_, other, _ := note.GenerateKey(nil, "a")
	pub := filepath.Join(dir, PublicKeyFile)
	if err := os.WriteFile(pub, []byte(other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadOrCreateKey(dir, "a")
	if err == nil || !strings.Contains(err.Error(), pub) {
		t.Fatalf("err = %v, want an error naming %s", err, pub)
	}
	if got, _ := os.ReadFile(pub); string(got) != other+"\n" {
		t.Error("audit-key.pub was rewritten")
	}
}

// testKeyFilesKeyReadable: an audit-key others can read is refused.
func testKeyFilesKeyReadable(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := loadOrCreateKey(dir, "a"); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, KeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := loadOrCreateKey(dir, "a"); !errors.Is(err, secretfile.ErrPermissions) {
		t.Fatalf("err = %v, want ErrPermissions", err)
	}
}

// testKeyFilesKeyMalformed: a malformed audit-key is refused with an error that names the file, not its content.
func testKeyFilesKeyMalformed(t *testing.T) {
	dir := t.TempDir()
	bad := "PRIVATE+KEY+a+00000000+AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte(bad+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := loadOrCreateKey(dir, "a")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, KeyFile)) || strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v", err)
	}
}

// testKeyFilesGoroutines: goroutines creating one key at once all sign with the one on disk.
func testKeyFilesGoroutines(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	hashes := make([]uint32, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			var s note.Signer
			if s, _, errs[i] = loadOrCreateKey(dir, "a"); errs[i] == nil {
				hashes[i] = s.KeyHash()
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || hashes[i] != hashes[0] {
			t.Fatalf("goroutine %d: %v, key %08x, goroutine 0's %08x", i, errs[i], hashes[i], hashes[0])
		}
	}
	if v, err := pubVerifier(filepath.Join(dir, PublicKeyFile)); err != nil || v.KeyHash() != hashes[0] {
		t.Fatalf("audit-key.pub is not the key every goroutine signs with: %v", err)
	}
}

const keyHelperEnv = "RAMPART_AUDIT_KEY_HELPER_DIR"

// TestKeyHelperProcess is the body of each process TestKeyProcesses
// starts: ready, wait for stdin to close, load or create, print the key.
func TestKeyHelperProcess(t *testing.T) {
	dir := os.Getenv(keyHelperEnv)
	if dir == "" {
		t.Skip("run by TestKeyProcesses")
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	s, _, err := loadOrCreateKey(dir, "rampart.example/audit")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Printf("key %s %08x\n", s.Name(), s.KeyHash())
	os.Exit(0)
}

// TestKeyProcesses: 8 processes opening one audit dir at once sign with
// one key, and audit-key.pub is its verifier key.
func TestKeyProcesses(t *testing.T) {
	const procs, rounds = 8, 5
	for round := range rounds {
		dir := t.TempDir()
		cmds := make([]*exec.Cmd, procs)
		ins := make([]io.WriteCloser, procs)
		outs := make([]*bufio.Reader, procs)
		for i := range cmds {
			c := exec.Command(os.Args[0], "-test.run=^TestKeyHelperProcess$", "-test.count=1") // #nosec G204 -- the test binary itself
			c.Env = append(os.Environ(), keyHelperEnv+"="+dir)
			c.Stderr = os.Stderr
			in, _ := c.StdinPipe()
			out, _ := c.StdoutPipe()
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
			cmds[i], ins[i], outs[i] = c, in, bufio.NewReader(out)
		}
		for i, r := range outs {
			if line, err := r.ReadString('\n'); line != "ready\n" {
				t.Fatalf("process %d: %q %v", i, line, err)
			}
		}
		for _, in := range ins {
			_ = in.Close()
		}
		var keys []string
		for i, r := range outs {
			rest, _ := io.ReadAll(r)
			if err := cmds[i].Wait(); err != nil {
				t.Fatalf("round %d, process %d: %v %s", round, i, err, rest)
			}
			lines := strings.Split(strings.TrimSpace(string(rest)), "\n")
			keys = append(keys, lines[len(lines)-1])
		}
		for i, k := range keys {
			if !strings.HasPrefix(k, "key ") || k != keys[0] {
				t.Fatalf("round %d: process %d has %q, process 0 %q", round, i, k, keys[0])
			}
		}
		v, err := pubVerifier(filepath.Join(dir, PublicKeyFile))
		if err != nil || fmt.Sprintf("key %s %08x", v.Name(), v.KeyHash()) != keys[0] {
			t.Fatalf("round %d: audit-key.pub is not the key the processes sign with: %v", round, err)
		}
	}
	if !t.Failed() {
		t.Logf("%d rounds of %d processes: one signing key each", rounds, procs)
	}
}
