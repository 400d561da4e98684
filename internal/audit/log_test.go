package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// TestStoredHashes: the hashes a record adds to the tree, as the log
// writes them to its hash file, are tlog's stored hashes.
func TestStoredHashes(t *testing.T) {
	var want []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	})
	var st treeState
	var got []tlog.Hash
	for n := int64(0); n < 300; n++ {
		data := []byte(fmt.Sprint("record ", n))
		hs, err := tlog.StoredHashes(n, data, read)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
		st.add([32]byte{}, tlog.RecordHash(data), &got)
		if len(got) != len(want) || !bytes.Equal(hashBytes(got), hashBytes(want)) {
			t.Fatalf("record %d: stored hashes differ", n)
		}
		if int64(len(got)) != tlog.StoredHashCount(n+1) {
			t.Fatalf("record %d: %d stored hashes, want %d", n, len(got), tlog.StoredHashCount(n+1))
		}
	}
}

func hashBytes(hs []tlog.Hash) []byte {
	var b []byte
	for _, h := range hs {
		b = append(b, h[:]...)
	}
	return b
}

// TestHashFileRepair: a hash file cut short, altered or deleted is
// repaired when the log is opened, and proofs come out right again.
func TestHashFileRepair(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, false)
	fill(t, l, 0, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, HashesFile)
	good, _ := os.ReadFile(path)
	for _, c := range []struct {
		name   string
		break_ func()
	}{
		{"cut", func() { _ = os.WriteFile(path, good[:len(good)/2+7], 0o600) }},
		{"altered", func() { b := bytes.Clone(good); b[200] ^= 1; _ = os.WriteFile(path, b, 0o600) }},
		{"longer", func() { _ = os.WriteFile(path, append(bytes.Clone(good), make([]byte, 64)...), 0o600) }},
		{"deleted", func() { _ = os.Remove(path) }},
	} {
		c.break_()
		if c.name != "deleted" {
			// Proofs from a bad file are caught before they are returned.
			p, err := Prove(dir, pub(t, dir), "r20")
			if err != nil || CheckProof(p, pub(t, dir)) != nil {
				t.Fatalf("%s: prove: %v", c.name, err)
			}
		}
		l := openLog(t, dir, false)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(path); !bytes.Equal(b, good) {
			t.Fatalf("%s: the hash file was not repaired (%d bytes, want %d)", c.name, len(b), len(good))
		}
	}
}

// TestConsistencyProofs: ProveConsistency gives RFC 6962 consistency
// proofs that tlog checks, for every pair of sizes of a small log.
func TestConsistencyProofs(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, true)
	roots := map[int64]tlog.Hash{}
	for i := range 40 {
		fill(t, l, i, 1)
		if err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
		l.mu.Lock()
		roots[l.size] = l.root()
		l.mu.Unlock()
	}
	n := l.Size()
	for m := int64(1); m <= n; m++ {
		rm, ok := roots[m]
		if !ok {
			continue
		}
		p, err := l.ProveConsistency(m, n)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, n, roots[n], m, rm); err != nil {
			t.Fatalf("%d to %d: %v", m, n, err)
		}
		if m > 1 && tlog.CheckTree(p, n, roots[n], m, roots[m-1]) == nil {
			t.Fatalf("%d to %d: the proof checked against another root", m, n)
		}
	}
	if _, err := l.ProveConsistency(3, n+1); err == nil {
		t.Fatal("a proof beyond the newest checkpoint")
	}
	_ = l.Close()
}

// TestRetention: retention deletes old segments only after signing a
// retention record; the log still verifies, proofs of kept events still
// work from the hash file, and copies of checkpoints older than the kept
// records are checked by consistency proofs.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clock := time.Now() // segments' ages are their files' times
	now := func() time.Time { return clock }
	store := &memRemote{}
	open := func(retention time.Duration) *Log {
		l, err := Open(Options{Dir: dir, Sync: true, MaxSegmentBytes: 1000, Now: now, Retention: retention, Remote: store})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open(0)
	fill(t, l, 0, 40)
	if err := l.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 40, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	ks, _ := segments(dir)
	old := clock.Add(-48 * time.Hour)
	for _, k := range ks[:2] {
		_ = os.Chtimes(filepath.Join(dir, segName(k)), old, old)
	}
	l = open(24 * time.Hour)
	fill(t, l, 80, 20)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	key := pub(t, dir)
	rep, err := Verify(dir, VerifyOptions{PublicKey: key, Strict: true, Store: store.copies()})
	if err != nil || !rep.OK() || rep.Pruned == 0 || rep.Anchored != rep.Records {
		t.Fatalf("after retention: %+v %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(dir, LogFile)); !os.IsNotExist(err) {
		t.Fatalf("events.log kept: %v", err)
	}
	var retained bool
	_, _, _, _ = eachRecord(dir, nil, nil, func(_ int64, _ [32]byte, p []byte) error {
		retained = retained || bytes.Contains(p, []byte(kindRetention))
		return nil
	})
	if !retained {
		t.Fatal("no retention record")
	}
	if p, err := Prove(dir, key, "r90"); err != nil || CheckProof(p, key) != nil {
		t.Fatalf("a kept event's proof after retention: %v", err)
	}
	if _, err := Prove(dir, key, "r1"); !errors.Is(err, ErrNoSuchEvent) {
		t.Fatalf("a deleted event's proof: %v", err)
	}
	// Without the hash file, the store's copies from before the kept
	// records cannot be checked: a warning, not a pass on trust.
	d := copyDir(t, dir)
	_ = os.Remove(filepath.Join(d, HashesFile))
	rep, _ = Verify(d, VerifyOptions{PublicKey: key, Strict: true, Store: store.copies()})
	if !rep.OK() || !hasWarning(rep, "no hash file") {
		t.Fatalf("without the hash file: %+v", rep)
	}
	// A store copy from before the kept records that is not consistent
	// with the log (a fork signed with the key) is caught by the proof.
	skey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	signer, _ := note.NewSigner(strings.TrimSpace(string(skey)))
	forged, _ := note.Sign(&note.Note{Text: formatCheckpoint(rep.Origin, 2, tlog.Hash{9})}, signer)
	d = copyDir(t, dir)
	cps := loadCps(t, d)
	for i, m := range cps {
		if cpSize(t, m) == 2 {
			cps[i] = forged
		}
	}
	saveCps(t, d, cps)
	rep, _ = Verify(d, VerifyOptions{PublicKey: key, Strict: true, Store: [][]byte{forged}})
	if rep.OK() {
		t.Fatalf("a forked checkpoint before the kept records: %+v", rep)
	}
}

// TestPublishingOffTheLock: a publisher that hangs (a blackholed store)
// holds up neither appends nor checkpoints, is logged once per outage,
// and Close waits for it no longer than its timeout.
func TestPublishingOffTheLock(t *testing.T) {
	dir := t.TempDir()
	hang := &hangingStore{release: make(chan struct{})}
	var logs lockedBuffer
	l, err := Open(Options{Dir: dir, Remote: hang, PublishTimeout: 200 * time.Millisecond, Logger: newTextLogger(&logs)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		fill(t, l, i*5, 5)
		if err := l.Checkpoint(); err != nil { // each one would have waited for the store before
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "could not be published"); n != 1 {
		t.Fatalf("%d log lines for one outage:\n%s", n, logs.String())
	}
	if rep := verifyDir(t, dir, true); !rep.OK() {
		t.Fatal(rep.Problems)
	}
}

type hangingStore struct{ release chan struct{} }

// lockedBuffer is a bytes.Buffer safe for the log's goroutines.
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

func newTextLogger(w io.Writer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

func (h *hangingStore) SaveAuditCheckpoint(ctx context.Context, _ string, _ int64, _ []byte, _ time.Time) error {
	select {
	case <-h.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestLegacyCheckpoints: a log written before the C2SP format (its
// checkpoints "rampart-audit-v1" texts) opens, goes on, and verifies.
func TestLegacyCheckpoints(t *testing.T) {
	dir := t.TempDir()
	skey, vkey, _ := note.GenerateKey(nil, keyName)
	_ = os.WriteFile(filepath.Join(dir, KeyFile), []byte(skey+"\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, PublicKeyFile), []byte(vkey+"\n"), 0o600)
	signer, _ := note.NewSigner(skey)
	var b []byte
	var st treeState
	var cps [][]byte
	for i := range 12 {
		p := []byte(fmt.Sprintf(`{"v":1,"request_id":"r%d","status":200}`, i))
		leaf := tlog.RecordHash(p)
		c := chainNext(st.chain, leaf)
		st.add(c, leaf, nil)
		b = append(append(append(b, frame(p)[:4]...), c[:]...), p...)
		if st.size%5 == 0 {
			root := st.root()
			text := fmt.Sprintf("%s\nrampart 127.0.0.1:8443\n%d\n%s\n2026-11-27T00:00:00Z\n", legacyHeader, st.size, base64.StdEncoding.EncodeToString(root[:]))
			m, _ := note.Sign(&note.Note{Text: text}, signer)
			cps = append(cps, m)
		}
	}
	_ = os.WriteFile(filepath.Join(dir, LogFile), b, 0o600)
	saveCps(t, dir, cps)
	if rep := verifyDir(t, dir, false); !rep.OK() || rep.Unsigned != 2 {
		t.Fatalf("the legacy log: %+v", rep)
	}
	l, err := Open(Options{Dir: dir, Origin: "rampart/127.0.0.1:8443"})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 12, 5)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rep := verifyDir(t, dir, true)
	if !rep.OK() || rep.Origin != "rampart/127.0.0.1:8443" || events(t, dir) != 17 {
		t.Fatalf("continued: %+v", rep)
	}
}

// TestOpenRefusesAlteredLog: a log whose records do not lead to its
// newest checkpoint is not written to (the evidence is kept).
func TestOpenRefusesAlteredLog(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(t *testing.T, d string)
		want string
	}{
		{"records removed", func(t *testing.T, d string) {
			first, recs := loadRecs(t, d)
			saveRecs(t, d, first, recs[:len(recs)-4])
		}, "records were lost or removed"},
		{"a record edited", func(t *testing.T, d string) {
			first, recs := loadRecs(t, d)
			// Record 3 is the first batch's checkpoint record when the
			// writer took three events at once: edit an event.
			editEvent(&recs[firstEventAfter(recs, 3)])
			saveRecs(t, d, first, recs)
		}, "records were altered"},
		{"the newest checkpoint signed by another key", func(t *testing.T, d string) {
			sk, _, _ := note.GenerateKey(nil, keyName)
			s, _ := note.NewSigner(sk)
			m, _ := note.Sign(&note.Note{Text: formatCheckpoint("rampart", 1, tlog.Hash{})}, s)
			saveCps(t, d, append(loadCps(t, d), m))
		}, "not signed by this log's key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			l := openLog(t, d, false)
			fill(t, l, 0, 10)
			_ = l.Close()
			c.edit(t, d)
			before, _ := os.ReadFile(filepath.Join(d, LogFile))
			_, err := Open(Options{Dir: d, Origin: "test.rampart"})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open: %v, want %q", err, c.want)
			}
			if after, _ := os.ReadFile(filepath.Join(d, LogFile)); !bytes.Equal(before, after) {
				t.Fatal("the refused log was changed")
			}
		})
	}
}

// TestCheckpointFormat: checkpoints are C2SP tlog-checkpoint notes, the
// text exactly origin, size and root.
func TestCheckpointFormat(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, Origin: "rampart.example/gw1"})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, 0, 3)
	_ = l.Close()
	cps := loadCps(t, dir)
	text, sigs, _ := strings.Cut(string(cps[len(cps)-1]), "\n\n")
	lines := strings.Split(text, "\n")
	rep := verifyDir(t, dir, true)
	if len(lines) != 3 || lines[0] != "rampart.example/gw1" || lines[1] != fmt.Sprint(rep.Records) || len(lines[2]) != 44 {
		t.Fatalf("checkpoint text %q", text)
	}
	if !strings.HasPrefix(sigs, "— rampart.example/gw1 ") {
		t.Fatalf("the signature line %q: the key should be named after the origin", sigs)
	}
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"a/b\n4\n" + lines[2] + "\n", true},
		{"a/b\n04\n" + lines[2] + "\n", false},
		{"a/b\n4\n" + lines[2] + "\nextension\n", false},
		{"a/b\n-4\n" + lines[2] + "\n", false},
		{"a/b\n4\nAAAA\n", false},
		{"\n4\n" + lines[2] + "\n", false},
		{"a/b\n4\n", false},
		{legacyHeader + "\nrampart x\n4\n" + lines[2] + "\n2026-01-01T00:00:00Z\n", true},
	} {
		if _, err := parseCheckpoint(c.text); (err == nil) != c.ok {
			t.Errorf("%q: %v", c.text, err)
		}
	}
	for s, ok := range map[string]bool{"rampart": true, "rampart.example/gw1": true, "rampart/127.0.0.1:8443": true,
		"": false, "rampart 127.0.0.1:8443": false, "a+b": false, "a\nb": false, strings.Repeat("x", 256): false, "\xff": false} {
		if err := CheckOrigin(s); (err == nil) != ok {
			t.Errorf("CheckOrigin(%q): %v", s, err)
		}
	}
	if _, err := Open(Options{Dir: t.TempDir(), Origin: "bad origin"}); err == nil {
		t.Error("an origin with a space was accepted")
	}
}

// FuzzCheckpoints: whatever the checkpoints file, the log records and the
// start files hold, Verify answers (never panics) and accepts only the
// honest log.
func FuzzCheckpoints(f *testing.F) {
	dir := f.TempDir()
	l, err := Open(Options{Dir: dir})
	if err != nil {
		f.Fatal(err)
	}
	for i := range 6 {
		_ = l.Append([]byte(fmt.Sprintf(`{"v":1,"request_id":"r%d","status":200}`, i)))
		_ = l.Checkpoint()
	}
	_ = l.Close()
	key, _ := ReadPublicKey(filepath.Join(dir, PublicKeyFile))
	good, _ := os.ReadFile(filepath.Join(dir, CheckpointsFile))
	goodEntries, _, _, _ := readCheckpointsFile(dir)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(bytes.Clone(good), good[:40]...))
	f.Add([]byte{0, 0, 0, 5, 'a', 'b'})
	f.Fuzz(func(t *testing.T, cps []byte) {
		d := copyDir(t, dir)
		_ = os.WriteFile(filepath.Join(d, CheckpointsFile), cps, 0o600)
		rep, err := Verify(d, VerifyOptions{PublicKey: key, Strict: true})
		if err != nil {
			t.Fatal(err)
		}
		if entries, _, _, _ := readCheckpointsFile(d); rep.OK() && !sameEntries(entries, goodEntries) {
			// A torn tail is only a warning (a crash mid-write); anything
			// else that passes must be the honest checkpoints. A prefix
			// (a rollback) cannot pass: records follow its last one.
			t.Fatalf("accepted altered checkpoints: %+v", rep)
		}
	})
}

func sameEntries(a, b []framed) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i].msg, b[i].msg) {
			return false
		}
	}
	return true
}

// FuzzLogRecord: parseLogRecord and parseCheckpoint never panic, and what
// they accept re-encodes to the same meaning.
func FuzzLogRecord(f *testing.F) {
	f.Add([]byte(`{"v":1,"kind":"log.checkpoint","time":"t","prev_size":4,"prev_root":"x"}`))
	f.Add([]byte(`{"v":1,"kind":"log.retention","time":"t","prev_size":0,"pruned_before":9,"start":"y"}`))
	f.Add([]byte("a/b\n4\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseLogRecord(b); err == nil {
			again, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if r2, err := parseLogRecord(again); err != nil || r2 != r {
				t.Fatalf("%q re-encodes to %q (%v)", b, again, err)
			}
		}
		if c, err := parseCheckpoint(string(b)); err == nil && !c.legacy {
			if got := formatCheckpoint(c.origin, c.size, c.root); got != string(b) {
				t.Fatalf("%q is not canonical: %q", b, got)
			}
		}
	})
}

// BenchmarkVerify: verification reads each record once, whatever the
// number of checkpoints (it replayed every leaf for every checkpoint).
func BenchmarkVerify(b *testing.B) {
	for _, every := range []int{10000, 100} {
		b.Run(fmt.Sprintf("records=20000/checkpoint_every=%d", every), func(b *testing.B) {
			dir := b.TempDir()
			// Sync: each Append is in the log when it returns, so the
			// checkpoints below sign exactly every `every` records.
			l, err := Open(Options{Dir: dir, Sync: true, Fsync: func(*os.File) error { return nil }})
			if err != nil {
				b.Fatal(err)
			}
			for i := range 20000 {
				_ = l.Append([]byte(fmt.Sprintf(`{"v":1,"time":"2026-12-01T00:00:00Z","request_id":"r%d","status":200}`, i)))
				if (i+1)%every == 0 {
					_ = l.Checkpoint()
				}
			}
			_ = l.Close()
			key, _ := ReadPublicKey(filepath.Join(dir, PublicKeyFile))
			b.ResetTimer()
			for b.Loop() {
				if rep, err := Verify(dir, VerifyOptions{PublicKey: key, Strict: true}); err != nil || !rep.OK() {
					b.Fatal(rep.Problems, err)
				}
			}
		})
	}
}
