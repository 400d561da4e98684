package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	tnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/rampart-gw/rampart/internal/audit"
)

const origin = "test.rampart/gw1"

// keys makes a log key named after the origin and a witness key.
type keys struct {
	logSigner  note.Signer
	logVerify  note.Verifier
	logVKey    string
	witSigner  note.Signer
	witVerify  note.Verifier
	witnessKey string
}

func newKeys(t *testing.T) keys {
	t.Helper()
	lsk, lvk, _ := note.GenerateKey(nil, origin)
	ls, _ := note.NewSigner(lsk)
	lv, _ := note.NewVerifier(lvk)
	wsk, wvk, _ := note.GenerateKey(nil, "witness.test/w1")
	ws, err := tnote.NewSignerForCosignatureV1(wsk)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := tnote.NewVerifierForCosignatureV1(wvk)
	if err != nil {
		t.Fatal(err)
	}
	return keys{ls, lv, lvk, ws, wv, wvk}
}

func newServer(t *testing.T, k keys, dir string) (*Server, *httptest.Server) {
	t.Helper()
	s, err := NewServer(ServerOptions{Signer: k.witSigner, Logs: []Log{{Origin: origin, Verifier: k.logVerify}}, StateDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return s, hs
}

// tree is a log for the protocol tests: leaves, stored hashes, signed
// checkpoints.
type tree struct {
	stored []tlog.Hash
	n      int64
}

func (tr *tree) add(t *testing.T, k int) {
	for range k {
		hs, err := tlog.StoredHashes(tr.n, []byte(fmt.Sprint("leaf ", tr.n)), tr)
		if err != nil {
			t.Fatal(err)
		}
		tr.stored = append(tr.stored, hs...)
		tr.n++
	}
}

func (tr *tree) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		out[i] = tr.stored[x]
	}
	return out, nil
}

func (tr *tree) root(t *testing.T, n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, tr)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (tr *tree) signed(t *testing.T, s note.Signer, n int64, root tlog.Hash) []byte {
	text := fmt.Sprintf("%s\n%d\n%s\n", origin, n, b64(root))
	m, err := note.Sign(&note.Note{Text: text}, s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (tr *tree) proof(t *testing.T, old, n int64) tlog.TreeProof {
	p, err := tlog.ProveTree(n, old, tr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func post(t *testing.T, url string, body []byte) (int, string, []byte) {
	t.Helper()
	resp, err := http.Post(url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestServerProtocol walks the tlog-witness add-checkpoint rules.
func TestServerProtocol(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	_, hs := newServer(t, k, dir)
	var tr tree
	tr.add(t, 10)
	cp10 := tr.signed(t, k.logSigner, 10, tr.root(t, 10))

	// The first submission: old 0, no proof.
	code, _, body := post(t, hs.URL, encodeRequest(0, nil, cp10))
	if code != 200 {
		t.Fatalf("first: %d %s", code, body)
	}
	n, err := note.Open(cosigned(cp10, body), note.VerifierList(k.witVerify))
	if err != nil || !hasSignature(n, k.witVerify) {
		t.Fatalf("the cosignature: %v", err)
	}
	tr.add(t, 7)
	cp17 := tr.signed(t, k.logSigner, 17, tr.root(t, 17))
	otherLog := newKeys(t)
	forked := tr.signed(t, k.logSigner, 17, tlog.Hash{1})

	for _, c := range []struct {
		name   string
		body   []byte
		code   int
		inBody string
	}{
		{"unknown origin", encodeRequest(10, tr.proof(t, 10, 17), bytes.Replace(cp17, []byte(origin), []byte("other.log/x"), 1)), 404, ""},
		{"signed by another key", encodeRequest(10, tr.proof(t, 10, 17), tr.signed(t, otherLog.logSigner, 17, tr.root(t, 17))), 403, ""},
		{"old size with a leading zero", []byte("old 010\n\n" + string(cp17)), 400, ""},
		{"no old line", cp17, 400, ""},
		{"a proof from 0", encodeRequest(0, tr.proof(t, 10, 17), cp17), 400, ""},
		{"old larger than the size", encodeRequest(20, nil, cp17), 400, ""},
		{"64 proof lines", encodeRequest(10, make(tlog.TreeProof, 64), cp17), 400, ""},
		{"a proof line that is not a hash", []byte("old 10\nAAAA\n\n" + string(cp17)), 400, ""},
		{"the wrong old size", encodeRequest(5, tr.proof(t, 5, 17), cp17), 409, "10\n"},
		{"old 0 once it has a state", encodeRequest(0, nil, cp17), 409, "10\n"},
		{"a bad consistency proof", encodeRequest(10, tr.proof(t, 9, 17), cp17), 422, ""},
		{"a fork: another root at the cosigned size", encodeRequest(10, nil, tr.signed(t, k.logSigner, 10, tlog.Hash{2})), 409, ""},
		{"a proof to a forked root", encodeRequest(10, tr.proof(t, 10, 17), forked), 422, ""},
		{"a good one", encodeRequest(10, tr.proof(t, 10, 17), cp17), 200, "— witness.test/w1 "},
		{"the same again", encodeRequest(17, nil, cp17), 200, "— witness.test/w1 "},
	} {
		code, ctype, body := post(t, hs.URL, c.body)
		if code != c.code || !strings.Contains(string(body), c.inBody) {
			t.Errorf("%s: %d %q, want %d with %q", c.name, code, body, c.code, c.inBody)
		}
		if code == 409 && c.inBody != "" && ctype != SizeType {
			t.Errorf("%s: content type %q", c.name, ctype)
		}
	}
	// The state survives a restart, and GET /checkpoint serves it.
	_, hs2 := newServer(t, k, dir)
	latest, err := Fetch(context.Background(), nil, hs2.URL, origin)
	if err != nil {
		t.Fatal(err)
	}
	n, err = note.Open(latest, note.VerifierList(k.logVerify, k.witVerify))
	if err != nil || !hasSignature(n, k.logVerify) || !hasSignature(n, k.witVerify) || !strings.HasPrefix(n.Text, origin+"\n17\n") {
		t.Fatalf("latest: %q %v", latest, err)
	}
	if _, err := Fetch(context.Background(), nil, hs2.URL, "other.log/x"); err == nil {
		t.Fatal("fetched an unknown log")
	}
}

// TestServerNoRollbackRace: concurrent submissions never move the state
// back (the old-size check and the write are one step).
func TestServerNoRollbackRace(t *testing.T) {
	k := newKeys(t)
	s, hs := newServer(t, k, t.TempDir())
	var tr tree
	tr.add(t, 40)
	cps := map[int64][]byte{}
	for n := int64(1); n <= 40; n++ {
		cps[n] = tr.signed(t, k.logSigner, n, tr.root(t, n))
	}
	if code, _, b := post(t, hs.URL, encodeRequest(0, nil, cps[1])); code != 200 {
		t.Fatal(code, string(b))
	}
	var wg sync.WaitGroup
	for n := int64(2); n <= 40; n++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for old := int64(1); old < n; old++ { // every old size: only the current one is accepted
				_, _, _ = post(t, hs.URL, encodeRequest(old, tr.proof(t, old, n), cps[n]))
			}
		}()
	}
	wg.Wait()
	cur, _, err := s.load(origin)
	if err != nil {
		t.Fatal(err)
	}
	// Whatever order they came in, the state is one of the checkpoints
	// and a later submission from it still works.
	if cur.root != tr.root(t, cur.size) {
		t.Fatalf("state %d does not match the tree", cur.size)
	}
}

// TestRFC6962Interop: consistency proofs cross between
// golang.org/x/mod/sumdb/tlog (ours) and github.com/transparency-dev/merkle
// (what the Go witnesses of the transparency-dev ecosystem use), both
// ways, for every pair of sizes up to 70.
func TestRFC6962Interop(t *testing.T) {
	var tr tree
	tr.add(t, 70)
	h := rfc6962.DefaultHasher
	for n := int64(1); n <= 70; n++ {
		rn := tr.root(t, n)
		for m := int64(1); m < n; m++ {
			rm := tr.root(t, m)
			ours := tr.proof(t, m, n)
			var raw [][]byte
			for _, x := range ours {
				raw = append(raw, bytes.Clone(x[:]))
			}
			if err := proof.VerifyConsistency(h, uint64(m), uint64(n), raw, rm[:], rn[:]); err != nil {
				t.Fatalf("%d to %d: merkle rejects tlog's proof: %v", m, n, err)
			}
			nodes, err := proof.Consistency(uint64(m), uint64(n))
			if err != nil {
				t.Fatal(err)
			}
			var hashes [][]byte
			for _, id := range nodes.IDs {
				hashes = append(hashes, nodeHash(t, &tr, id))
			}
			theirs, err := nodes.Rehash(hashes, h.HashChildren)
			if err != nil {
				t.Fatal(err)
			}
			var p tlog.TreeProof
			for _, x := range theirs {
				var hh tlog.Hash
				copy(hh[:], x)
				p = append(p, hh)
			}
			if err := tlog.CheckTree(p, n, rn, m, rm); err != nil {
				t.Fatalf("%d to %d: tlog rejects merkle's proof: %v", m, n, err)
			}
		}
	}
}

func nodeHash(t *testing.T, tr *tree, id compact.NodeID) []byte {
	hs, err := tr.ReadHashes([]int64{tlog.StoredHashIndex(int(id.Level), int64(id.Index))})
	if err != nil {
		t.Fatal(err)
	}
	return hs[0][:]
}

// TestPublishToWitness: an audit log publishes every checkpoint to the
// witness with proofs from its hash file, and Verify checks the log
// against what the witness holds: a rollback that passes alone fails.
func TestPublishToWitness(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	// The log's key, named after its origin (as a new log names it).
	l0, err := audit.Open(audit.Options{Dir: dir, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	_ = l0.Close()
	vkey, err := audit.ReadPublicKey(filepath.Join(dir, audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	lv, _ := note.NewVerifier(vkey)
	s, err := NewServer(ServerOptions{Signer: k.witSigner, Logs: []Log{{Origin: origin, Verifier: lv}}, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	c, err := NewClient("w1", hs.URL, k.witVerify, nil)
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(audit.Options{Dir: dir, Origin: origin, Sync: true, Publishers: []audit.Publisher{c}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"time":"t","request_id":"r%d","status":200}`, i))); err != nil {
			t.Fatal(err)
		}
		if i%6 == 5 {
			_ = l.Checkpoint()
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c.Latest() == nil {
		t.Fatal("nothing was cosigned")
	}
	latest, err := Fetch(context.Background(), nil, hs.URL, origin)
	if err != nil {
		t.Fatal(err)
	}
	w := []audit.Witnessed{{Name: "w1", Note: latest, Verifier: k.witVerify}}
	rep, err := audit.Verify(dir, audit.VerifyOptions{PublicKey: vkey, Strict: true, Witnessed: w})
	if err != nil || !rep.OK() || rep.Anchored != rep.Records {
		t.Fatalf("with the witness: %+v %v", rep, err)
	}
	// A new client (a restarted gateway) learns the witness's size from
	// its 409 and goes on.
	c2, _ := NewClient("w1", hs.URL, k.witVerify, nil)
	l, err = audit.Open(audit.Options{Dir: dir, Origin: origin, Sync: true, Publishers: []audit.Publisher{c2}})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Append([]byte(`{"v":1,"time":"t","request_id":"after","status":200}`))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if c2.Latest() == nil {
		t.Fatal("the restarted client did not publish")
	}
	// Roll the log back to an earlier checkpoint: alone it passes, the
	// witness catches it.
	rollBack(t, dir)
	alone, _ := audit.Verify(dir, audit.VerifyOptions{PublicKey: vkey, Strict: true})
	latest, _ = Fetch(context.Background(), nil, hs.URL, origin)
	w[0].Note = latest
	with, _ := audit.Verify(dir, audit.VerifyOptions{PublicKey: vkey, Strict: true, Witnessed: w})
	if !alone.OK() || alone.Anchored != 0 || with.OK() {
		t.Fatalf("rollback: alone %+v, with the witness %+v", alone, with)
	}
	t.Logf("caught: %q", with.Problems)
}

// rollBack removes the newest checkpoint and every record after the one
// before it, as an attacker with the disk would.
func rollBack(t *testing.T, dir string) {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(dir, audit.CheckpointsFile))
	var frames [][]byte
	for off := 0; off < len(b); {
		n := int(b[off])<<24 | int(b[off+1])<<16 | int(b[off+2])<<8 | int(b[off+3])
		frames = append(frames, b[off:off+4+n])
		off += 4 + n
	}
	keep := bytes.Join(frames[:len(frames)-1], nil)
	prev := frames[len(frames)-2][4:]
	size := 0
	_, _ = fmt.Sscanf(strings.SplitN(string(prev), "\n", 3)[1], "%d", &size)
	_ = os.WriteFile(filepath.Join(dir, audit.CheckpointsFile), keep, 0o600)
	// Cut events.log (one segment here) after record size-1.
	lb, _ := os.ReadFile(filepath.Join(dir, audit.LogFile))
	off := 0
	for range size {
		n := int(lb[off])<<24 | int(lb[off+1])<<16 | int(lb[off+2])<<8 | int(lb[off+3])
		off += 36 + n
	}
	_ = os.WriteFile(filepath.Join(dir, audit.LogFile), lb[:off], 0o600)
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// FuzzParseRequest: any add-checkpoint body parses or is refused, never
// panics, and what parses re-encodes to itself.
func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("old 0\n\nx\n4\nAAAA\n\n— x sig\n"))
	f.Add([]byte("old 12\nPlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\nbody"))
	f.Add([]byte("old 010\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := parseRequest(b)
		if err != nil {
			return
		}
		if again := encodeRequest(r.old, r.proof, r.note); !bytes.Equal(again, b) {
			t.Fatalf("%q re-encodes to %q", b, again)
		}
	})
}
