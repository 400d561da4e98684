package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// RFC 6962 test vectors (the certificate-transparency reference tests):
// the tree heads of the first n of these eight leaves.
var rfc6962Leaves = []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"}
var rfc6962Roots = []string{
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}

func TestMerkleKnownAnswers(t *testing.T) {
	var leaves []tlog.Hash
	l := &Log{}
	for i, hx := range rfc6962Leaves {
		b, _ := hex.DecodeString(hx)
		leaf := tlog.RecordHash(b)
		leaves = append(leaves, leaf)
		l.add([32]byte{}, leaf, nil)
		want := rfc6962Roots[i]
		if got := treeHash(leaves); hex.EncodeToString(got[:]) != want {
			t.Errorf("tree of %d: %x, want %s", i+1, got, want)
		}
		if got := l.root(); hex.EncodeToString(got[:]) != want {
			t.Errorf("frontier of %d: %x, want %s", i+1, got, want)
		}
	}
	if got := treeHash(nil); hex.EncodeToString(got[:]) != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Errorf("empty tree %x", got)
	}
	// And against golang.org/x/mod/sumdb/tlog for every size up to 70.
	var stored []tlog.Hash
	leaves, l = nil, &Log{}
	for n := int64(0); n < 70; n++ {
		data := []byte(fmt.Sprint("record ", n))
		hs, err := tlog.StoredHashes(n, data, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
		l.add([32]byte{}, tlog.RecordHash(data), nil)
		want, err := tlog.TreeHash(n+1, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if l.root() != want {
			t.Fatalf("size %d: frontier %x, tlog %x", n+1, l.root(), want)
		}
	}
}

func openLog(t *testing.T, dir string, sync bool) *Log {
	t.Helper()
	l, err := Open(Options{Dir: dir, Origin: "test.rampart", Sync: sync})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func fill(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"request_id":"r%d","status":200}`, i))); err != nil {
			t.Fatal(err)
		}
	}
}

// verifyDir verifies dir against its own public key.
func verifyDir(t *testing.T, dir string, strict bool) Report {
	t.Helper()
	rep, err := Verify(dir, VerifyOptions{PublicKey: pub(t, dir), Strict: strict})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// events counts the events (not the log's own records) in dir.
func events(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	if err := Each(dir, func(int64, Event, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func pub(t *testing.T, dir string) string {
	t.Helper()
	k, err := ReadPublicKey(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAppendVerify(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, true)
	fill(t, l, 0, 50)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 50, 25)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, true) // reopened: the chain goes on
	fill(t, l, 75, 5)
	if events(t, dir) != 80 {
		t.Fatalf("%d events", events(t, dir))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyDir(t, dir, true)
	if !rep.OK() || rep.Unsigned != 0 || rep.Signed != rep.Records || rep.Checkpoints < 3 || events(t, dir) != 80 {
		t.Fatalf("verify: %+v", rep)
	}
}

// records splits a log file into its records' byte ranges.
func records(t *testing.T, b []byte) [][2]int {
	var out [][2]int
	for off := 0; off < len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		out = append(out, [2]int{off, off + 36 + n})
		off += 36 + n
	}
	return out
}

// TestTamper makes 1,000 random single edits to a copy of a good log:
// verify must fail every time, naming the first bad record for edits to
// records, and pass on the untouched log.
func TestTamper(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, false)
	fill(t, l, 0, 30)
	_ = l.Checkpoint()
	fill(t, l, 30, 30)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key := pub(t, dir)
	logBytes, _ := os.ReadFile(filepath.Join(dir, LogFile))
	cpBytes, _ := os.ReadFile(filepath.Join(dir, CheckpointsFile))
	recs := records(t, logBytes)
	otherKey, _, _ := note.GenerateKey(nil, keyName)
	otherSigner, _ := note.NewSigner(otherKey)
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := map[string]int{}
	for trial := range 1000 {
		lb, cb := bytes.Clone(logBytes), bytes.Clone(cpBytes)
		wantRecord := int64(-1)
		kind := []string{"flip", "delete", "insert", "swap", "truncate", "checkpoint-flip", "resign", "rechain"}[rng.IntN(8)]
		kinds[kind]++
		i := rng.IntN(len(recs))
		r := recs[i]
		switch kind {
		case "flip": // a byte of record i: header, chain or event
			lb[r[0]+4+rng.IntN(r[1]-r[0]-4)] ^= byte(1 + rng.IntN(255))
			wantRecord = int64(i)
		case "delete":
			lb = append(lb[:r[0]:r[0]], lb[r[1]:]...)
			wantRecord = int64(i)
			if i == len(recs)-1 {
				wantRecord = -1 // the end was cut: the checkpoint says so
			}
		case "insert": // a copy of record j before record i
			ji := rng.IntN(len(recs))
			j := recs[ji]
			lb = append(lb[:r[0]:r[0]], append(bytes.Clone(logBytes[j[0]:j[1]]), lb[r[0]:]...)...)
			wantRecord = int64(i)
			if ji == i { // a record doubled in place: the second copy is the stranger
				wantRecord = int64(i + 1)
			}
		case "swap":
			k := (i + 1 + rng.IntN(len(recs)-1)) % len(recs)
			a, b := recs[min(i, k)], recs[max(i, k)]
			lb = append(append(append(append(lb[:a[0]:a[0]], logBytes[b[0]:b[1]]...), logBytes[a[1]:b[0]]...), logBytes[a[0]:a[1]]...), logBytes[b[1]:]...)
			wantRecord = int64(min(i, k))
		case "truncate":
			lb = lb[:rng.IntN(len(lb))]
		case "checkpoint-flip":
			cb[rng.IntN(len(cb))] ^= byte(1 + rng.IntN(255))
		case "resign": // a newer checkpoint signed by another key
			var root tlog.Hash
			msg, _ := note.Sign(&note.Note{Text: formatCheckpoint("test.rampart", int64(len(recs)), root)}, otherSigner)
			cb = append(cb, frame(msg)...)
		case "rechain": // an event edited and every chain link recomputed: only the checkpoints can tell
			lb = rechained(t, logBytes, i)
		}
		if kind != "truncate" && kind != "checkpoint-flip" && kind != "resign" && kind != "rechain" && bytes.Equal(lb, logBytes) {
			continue
		}
		d := t.TempDir()
		_ = os.WriteFile(filepath.Join(d, LogFile), lb, 0o600)
		_ = os.WriteFile(filepath.Join(d, CheckpointsFile), cb, 0o600)
		rep, err := Verify(d, VerifyOptions{PublicKey: key, Strict: true})
		if err != nil {
			t.Fatalf("trial %d (%s): %v", trial, kind, err)
		}
		if bytes.Equal(lb, logBytes) && bytes.Equal(cb, cpBytes) {
			if !rep.OK() {
				t.Fatalf("trial %d: an untouched log failed: %v", trial, rep.Problems)
			}
			continue
		}
		if rep.OK() {
			t.Fatalf("trial %d (%s, record %d): the edit went unnoticed", trial, kind, i)
		}
		if wantRecord >= 0 && rep.FirstBadRecord != wantRecord {
			t.Fatalf("trial %d (%s): first bad record %d, want %d: %v", trial, kind, rep.FirstBadRecord, wantRecord, rep.Problems)
		}
	}
	t.Logf("edits tried: %v", kinds)
	if rep := verifyDir(t, dir, true); !rep.OK() {
		t.Fatalf("the original: %+v", rep)
	}
}

// rechained edits record i's event and recomputes every chain link after
// it, as a forger who knows the format would.
func rechained(t *testing.T, b []byte, edit int) []byte {
	var out []byte
	var prev [32]byte
	i := 0
	_, err := scan(bytes.NewReader(b), func(_ int64, _ [32]byte, payload []byte) error {
		if i == edit {
			payload = bytes.Replace(payload, []byte(`"status":200`), []byte(`"status":201`), 1)
		}
		leaf := tlog.RecordHash(payload)
		c := chainNext(prev, leaf)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(payload)))
		out = append(append(append(out, hdr[:]...), c[:]...), payload...)
		prev = c
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, true)
	fill(t, l, 0, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(filepath.Join(dir, LogFile), os.O_WRONLY|os.O_APPEND, 0)
	_, _ = f.Write([]byte{0, 0, 0, 50, 1, 2, 3}) // a record cut short by a crash
	_ = f.Close()
	rep := verifyDir(t, dir, false)
	if rep.OK() || rep.FirstBadRecord != rep.Records || !strings.Contains(rep.Problems[0], "torn") {
		t.Fatalf("verify of a torn log: %+v", rep)
	}
	l = openLog(t, dir, true) // reopening moves the torn bytes aside and goes on
	fill(t, l, 10, 1)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	aside, _ := filepath.Glob(filepath.Join(dir, LogFile+".torn-*"))
	if len(aside) != 1 {
		t.Fatalf("torn bytes kept in %v", aside)
	}
	if rep := verifyDir(t, dir, true); !rep.OK() || events(t, dir) != 11 {
		t.Fatalf("after recovery: %+v", rep)
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(fmt.Sprintf("sync=%v", sync), func(b *testing.B) {
			l, err := Open(Options{Dir: b.TempDir(), Sync: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ev := []byte(`{"v":1,"time":"2026-11-27T12:00:00Z","request_id":"abc","client_ip":"192.0.2.1","subject":"bob","route":"user","method":"GET","path":"/api/users/bob","status":200,"decisions":[{"stage":"authn","outcome":"allow"}]}`)
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Append(ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func TestProve(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, false)
	fill(t, l, 0, 37)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key := pub(t, dir)
	for _, id := range []string{"r0", "r17", "r36"} {
		p, err := Prove(dir, key, id)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if err := CheckProof(p, key); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		// A third party rejects an altered event, index or path.
		forged := p
		forged.Event = []byte(strings.Replace(string(p.Event), `"status":200`, `"status":500`, 1))
		if CheckProof(forged, key) == nil {
			t.Fatalf("%s: an altered event passed", id)
		}
		forged = p
		forged.Index = (p.Index + 1) % p.TreeSize
		if CheckProof(forged, key) == nil {
			t.Fatalf("%s: another index passed", id)
		}
		if len(p.Path) > 0 {
			forged = p
			forged.Path = append([]string{}, p.Path...)
			forged.Path[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
			if CheckProof(forged, key) == nil {
				t.Fatalf("%s: a forged path passed", id)
			}
		}
	}
	otherSkey, otherVkey, _ := note.GenerateKey(nil, keyName)
	_ = otherSkey
	p, _ := Prove(dir, key, "r5")
	if CheckProof(p, otherVkey) == nil {
		t.Fatal("a proof checked with another key")
	}
	if _, err := Prove(dir, key, "nope"); err != ErrNoSuchEvent {
		t.Fatalf("unknown id: %v", err)
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                        "",
		"page=2&sort=name":        "page=2&sort=name",
		"access_token=abc&page=2": "access_token=redacted&page=2",
		"API_KEY=rpk_x&Password=hunter2&sig=ff&q=a": "API_KEY=redacted&Password=redacted&sig=redacted&q=a",
		"note=" + strings.Repeat("x", 100):          "note=" + strings.Repeat("x", 64) + "...",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// treeHash is the RFC 6962 Merkle tree head of leaves, computed from the
// definition (a reference for the incremental frontier).
func treeHash(leaves []tlog.Hash) tlog.Hash {
	switch len(leaves) {
	case 0:
		return emptyRoot
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return tlog.NodeHash(treeHash(leaves[:k]), treeHash(leaves[k:]))
}

// TestEventDLP: DLP findings reach the event as counts by kind and the
// action, never as values; events without findings keep the v1 shape.
func TestEventDLP(t *testing.T) {
	var x pipeline.Exchange
	x.Reset()
	x.In.Method, x.Path, x.Response.Status = "GET", "/customers", 200
	plain, _ := json.Marshal(EventFrom(&x))
	if strings.Contains(string(plain), "dlp") {
		t.Errorf("an event without findings mentions dlp: %s", plain)
	}
	x.Response.Findings = []pipeline.Finding{{Kind: "card", Count: 2}, {Kind: "email", Count: 1}}
	x.Response.FindingsAction = "mask"
	b, _ := json.Marshal(EventFrom(&x))
	if want := `"dlp":{"action":"mask","findings":[{"kind":"card","count":2},{"kind":"email","count":1}]}`; !strings.Contains(string(b), want) {
		t.Errorf("event %s\nlacks %s", b, want)
	}
}

// TestEventInputs: the inputs stage's findings reach the event as rule
// ids, a score and the broken rules, never as values; events without them
// keep the v1 shape.
func TestEventInputs(t *testing.T) {
	var x pipeline.Exchange
	x.Reset()
	x.In.Method, x.Path, x.Response.Status = "POST", "/notes", 403
	plain, _ := json.Marshal(EventFrom(&x))
	if strings.Contains(string(plain), "inputs") {
		t.Errorf("an event without findings mentions inputs: %s", plain)
	}
	x.Inputs = pipeline.Inspection{WAFRules: []int{942100, 949110}, WAFScore: 5,
		Contract: []pipeline.FieldError{{In: "query", Name: "limit", Detail: "maximum 100"}, {In: "body", Pointer: "/name", Detail: "maxLength 64"}, {In: "body", Detail: "not JSON"}}}
	b, _ := json.Marshal(EventFrom(&x))
	if want := `"inputs":{"waf_rules":[942100,949110],"waf_score":5,"contract":["query limit: maximum 100","body /name: maxLength 64","body: not JSON"]}`; !strings.Contains(string(b), want) {
		t.Errorf("event %s\nlacks %s", b, want)
	}
}

// TestAppendDuringClose: Appends racing Close either land in the log or
// say it is closed; none waits forever (a Sync Append used to be able to
// queue after the writer's last drain and hang), and every acknowledged
// event verifies.
func TestAppendDuringClose(t *testing.T) {
	for _, syncMode := range []bool{true, false} {
		dir := t.TempDir()
		l := openLog(t, dir, syncMode)
		var acked atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					if err := l.Append([]byte(fmt.Sprintf(`{"v":1,"request_id":"g%d-%d","status":200}`, g, i))); err != nil {
						return
					}
					acked.Add(1)
				}
			}()
		}
		backgroundtest.Eventually(t, "the appenders running", 10*time.Second, func() bool { return acked.Load() >= 64 })
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("sync=%v: an Append still waits after Close", syncMode)
		}
		if n := events(t, dir); int64(n) < acked.Load() {
			t.Fatalf("sync=%v: %d events in the log, %d acknowledged", syncMode, n, acked.Load())
		}
		verifyDir(t, dir, false)
	}
}
