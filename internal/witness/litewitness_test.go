package witness

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
)

// TestLitewitness publishes an audit log's checkpoints to litewitness
// (filippo.io/torchwood/cmd/litewitness, a C2SP tlog-witness used in the
// public witness network): a standard witness reads our checkpoints,
// checks our consistency proofs and cosigns, and Verify accepts its
// cosignature. RAMPART_TEST_LITEWITNESS names the directory with
// litewitness and witnessctl (.ci/run installs them); ssh-agent and
// ssh-keygen come from openssh-client.
func TestLitewitness(t *testing.T) {
	bin := os.Getenv("RAMPART_TEST_LITEWITNESS")
	if bin == "" {
		t.Skip("RAMPART_TEST_LITEWITNESS is not set (the directory holding litewitness and witnessctl; .ci/run sets it)")
	}
	for _, tool := range []string{"ssh-agent", "ssh-keygen", "ssh-add"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v (install openssh-client)", tool, err)
		}
	}
	work := t.TempDir()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...) // #nosec G204 -- the test's own tools
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}

	// The audit log, whose key is named after its origin (litewitness
	// requires it).
	dir := filepath.Join(work, "audit")
	l, err := audit.Open(audit.Options{Dir: dir, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	vkey, err := audit.ReadPublicKey(filepath.Join(dir, audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}

	// The witness: an Ed25519 key in a dedicated ssh-agent, the log
	// registered with witnessctl, litewitness on a loopback port.
	keyFile := filepath.Join(work, "witness")
	run(nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", keyFile)
	fp := strings.Fields(run(nil, "ssh-keygen", "-l", "-E", "sha256", "-f", keyFile+".pub"))[1]
	sock := filepath.Join(work, "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock) // #nosec G204 -- the test's own tools
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	run([]string{"SSH_AUTH_SOCK=" + sock}, "ssh-add", keyFile)
	db := filepath.Join(work, "litewitness.db")
	run(nil, filepath.Join(bin, "witnessctl"), "add-log", "-db", db, "-origin", origin)
	run(nil, filepath.Join(bin, "witnessctl"), "add-key", "-db", db, "-origin", origin, "-key", vkey)
	port := freePort(t)
	lw := exec.Command(filepath.Join(bin, "litewitness"), "-name", "witness.test/lite", "-db", db, // #nosec G204 -- the test's own tools
		"-ssh-agent", sock, "-key", fp, "-listen", "127.0.0.1:"+port)
	stderr, _ := lw.StderrPipe()
	if err := lw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = lw.Process.Kill(); _ = lw.Wait() })
	wvkey := readVKey(t, stderr)
	wv, err := tnote.NewVerifierForCosignatureV1(wvkey)
	if err != nil {
		t.Fatalf("litewitness's key %q: %v", wvkey, err)
	}
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	})

	c, err := NewClient("lite", "http://127.0.0.1:"+port, wv, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err = audit.Open(audit.Options{Dir: dir, Origin: origin, Sync: true, Publishers: []audit.Publisher{c}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 40 {
		if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"time":"t","request_id":"r%d","status":200}`, i))); err != nil {
			t.Fatal(err)
		}
		if i%7 == 6 {
			_ = l.Checkpoint() // each after the first needs a consistency proof from the one before
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	latest := c.Latest()
	if latest == nil {
		t.Fatal("litewitness cosigned nothing")
	}
	rep, err := audit.Verify(dir, audit.VerifyOptions{PublicKey: vkey, Strict: true,
		Witnessed: []audit.Witnessed{{Name: "lite", Note: latest, Verifier: wv}}})
	if err != nil || !rep.OK() || rep.Anchored != rep.Records {
		t.Fatalf("verify with litewitness's cosignature: %+v %v", rep, err)
	}
	// It refuses a fork: a checkpoint of the newest size with another
	// root, even signed by the log's key.
	skey, _ := os.ReadFile(filepath.Join(dir, audit.KeyFile))
	signer, _ := note.NewSigner(strings.TrimSpace(string(skey)))
	forked, _ := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", origin, rep.Records, b64([32]byte{7}))}, signer)
	if _, err := c.add(context.Background(), encodeRequest(rep.Records, nil, forked)); err == nil {
		t.Fatal("litewitness cosigned a fork")
	}
	t.Logf("litewitness cosigned size %d; refused a fork", rep.Records)
}

var vkeyLine = regexp.MustCompile(`vkey=(\S+)`)

// readVKey reads the verifier key litewitness logs when it starts.
func readVKey(t *testing.T, stderr interface{ Read([]byte) (int, error) }) string {
	t.Helper()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := vkeyLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- strings.Trim(m[1], `"`)
			}
		}
	}()
	select {
	case v := <-found:
		return v
	case <-time.After(20 * time.Second):
		t.Fatal("litewitness did not print its verifier key")
		return ""
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// waitFor polls the litewitness process, which no clock of ours drives.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	backgroundtest.Eventually(t, "litewitness", 10*time.Second, ok)
}
