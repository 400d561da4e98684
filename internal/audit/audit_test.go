package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
		l.add([32]byte{}, leaf)
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
		l.add([32]byte{}, tlog.RecordHash(data))
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
	if l.Size() != 80 {
		t.Fatalf("size %d", l.Size())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := Verify(dir, pub(t, dir))
	if err != nil || !rep.OK() || rep.Records != 80 || rep.Checkpoints != 3 {
		t.Fatalf("verify: %+v %v", rep, err)
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
		case "resign": // the last checkpoint signed by another key
			text := fmt.Sprintf("%s\ntest.rampart\n%d\n%s\n2026-11-27T00:00:00Z\n", checkpointHeader, 60, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
			msg, _ := note.Sign(&note.Note{Text: text}, otherSigner)
			var hdr [4]byte
			binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
			cb = append(cb, append(hdr[:], msg...)...)
		case "rechain": // an event edited and every chain link recomputed: only the checkpoints can tell
			lb = rechained(t, logBytes, i)
		}
		if kind != "truncate" && kind != "checkpoint-flip" && kind != "resign" && kind != "rechain" && bytes.Equal(lb, logBytes) {
			continue
		}
		d := t.TempDir()
		_ = os.WriteFile(filepath.Join(d, LogFile), lb, 0o600)
		_ = os.WriteFile(filepath.Join(d, CheckpointsFile), cb, 0o600)
		rep, err := Verify(d, key)
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
	rep, err := Verify(dir, key)
	if err != nil || !rep.OK() {
		t.Fatalf("the original: %+v %v", rep, err)
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
	rep, err := Verify(dir, pub(t, dir))
	if err != nil || rep.OK() || rep.FirstBadRecord != 10 || !strings.Contains(rep.Problems[0], "torn") {
		t.Fatalf("verify of a torn log: %+v %v", rep, err)
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
	if rep, err := Verify(dir, pub(t, dir)); err != nil || !rep.OK() || rep.Records != 11 {
		t.Fatalf("after recovery: %+v %v", rep, err)
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

// TestSegments: the log rotates into segments, verifies across them,
// names bad records by their global index, refuses a missing middle
// segment, and, once retention deletes old segments, still verifies from
// the oldest kept one against the later checkpoints.
func TestSegments(t *testing.T) {
	dir := t.TempDir()
	c := &struct{ t time.Time }{time.Unix(1_800_000_000, 0)}
	now := func() time.Time { return c.t }
	open := func(retention time.Duration) *Log {
		l, err := Open(Options{Dir: dir, Sync: true, MaxSegmentBytes: 1000, Now: now, Retention: retention})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(0)
	fill(t, l, 0, 40) // ~75 bytes a record: several segments
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 40, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ks, _ := segments(dir)
	if len(ks) < 4 {
		t.Fatalf("segments %v", ks)
	}
	key := pub(t, dir)
	rep, err := Verify(dir, key)
	if err != nil || !rep.OK() || rep.Records != 80 {
		t.Fatalf("verify across segments: %+v %v", rep, err)
	}
	n := 0
	_ = Each(dir, func(int64, Event, []byte) error { n++; return nil })
	if n != 80 {
		t.Fatalf("Each read %d events", n)
	}
	if p, err := Prove(dir, key, "r55"); err != nil || CheckProof(p, key) != nil || p.Index != 55 {
		t.Fatalf("prove across segments: %+v %v", p.Index, err)
	}

	// An edit in the third segment is named by its global index.
	seg2 := filepath.Join(dir, segName(ks[2]))
	orig, _ := os.ReadFile(seg2)
	bad := bytes.Clone(orig)
	bad[40] ^= 1 // the first record's event
	_ = os.WriteFile(seg2, bad, 0o600)
	st, _ := readStart(dir, ks[2])
	if rep, _ := Verify(dir, key); rep.OK() || rep.FirstBadRecord != st.size {
		t.Fatalf("edit in segment %d: %+v, want record %d", ks[2], rep, st.size)
	}
	_ = os.WriteFile(seg2, orig, 0o600)
	// A missing middle segment is refused.
	_ = os.Rename(seg2, seg2+".away")
	if rep, _ := Verify(dir, key); rep.OK() || !strings.Contains(strings.Join(rep.Problems, " "), "is missing") {
		t.Fatalf("missing segment: %+v", rep)
	}
	_ = os.Rename(seg2+".away", seg2)

	// Retention: segments older than a day go at the next rotation.
	old := c.t.Add(-48 * time.Hour)
	for _, k := range ks[:2] {
		_ = os.Chtimes(filepath.Join(dir, segName(k)), old, old)
	}
	l = open(24 * time.Hour)
	fill(t, l, 80, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err = Verify(dir, key)
	if err != nil || !rep.OK() || rep.Pruned == 0 || rep.Records != 100 {
		t.Fatalf("after retention: %+v %v", rep, err)
	}
	if _, err := Prove(dir, key, "r90"); err == nil {
		t.Fatal("a proof from a pruned log")
	}
	// A forged start file for the oldest kept segment cannot match the
	// signed checkpoints.
	ks, _ = segments(dir)
	sp := filepath.Join(dir, startName(ks[0]))
	b, _ := os.ReadFile(sp)
	var s segStart
	_ = json.Unmarshal(b, &s)
	s.Frontier[0] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	b, _ = json.Marshal(s)
	_ = os.WriteFile(sp, b, 0o600)
	if rep, _ := Verify(dir, key); rep.OK() {
		t.Fatal("a forged start verified")
	}
}

type memRemote struct{ notes [][]byte }

func (m *memRemote) SaveAuditCheckpoint(_ context.Context, _ string, _ int64, note []byte, _ time.Time) error {
	m.notes = append(m.notes, bytes.Clone(note))
	return nil
}

// TestRemoteCheckpoints: copies of the checkpoints kept away from the
// gateway catch a log rewritten together with its local checkpoints.
func TestRemoteCheckpoints(t *testing.T) {
	dir := t.TempDir()
	remote := &memRemote{}
	l, err := Open(Options{Dir: dir, Remote: remote})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 0, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key := pub(t, dir)
	if rep, err := VerifyWith(dir, key, remote.notes); err != nil || !rep.OK() || len(remote.notes) != 1 {
		t.Fatalf("intact: %+v %v (%d copies)", rep, err, len(remote.notes))
	}
	// Someone with the disk and the signing key rewrites an event, the
	// chain and the local checkpoint.
	skey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	b, _ := os.ReadFile(filepath.Join(dir, LogFile))
	forged := rechained(t, b, 5)
	_ = os.WriteFile(filepath.Join(dir, LogFile), forged, 0o600)
	var leaves []tlog.Hash
	_, _ = scan(bytes.NewReader(forged), func(_ int64, _ [32]byte, p []byte) error { leaves = append(leaves, tlog.RecordHash(p)); return nil })
	root := treeHash(leaves)
	signer, _ := note.NewSigner(strings.TrimSpace(string(skey)))
	text := fmt.Sprintf("%s\nrampart\n%d\n%s\n2026-11-27T00:00:00Z\n", checkpointHeader, len(leaves), base64.StdEncoding.EncodeToString(root[:]))
	msg, _ := note.Sign(&note.Note{Text: text}, signer)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(msg)))
	_ = os.WriteFile(filepath.Join(dir, CheckpointsFile), append(hdr[:], msg...), 0o600)
	if rep, _ := Verify(dir, key); !rep.OK() {
		t.Fatalf("the local forgery should pass alone (the key was stolen): %v", rep.Problems)
	}
	if rep, _ := VerifyWith(dir, key, remote.notes); rep.OK() {
		t.Fatal("the store's copy did not catch the rewrite")
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
