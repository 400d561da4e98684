package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// The tamper suite: an attacker with write access to the audit directory
// (but, except where a row says so, not the signing key) edits a good log;
// every row says what Verify must conclude. "fail": verify fails. In the
// rows run without Strict, "unsigned": verify passes but reports every
// record the forger changed as unsigned (after the newest checkpoint), as
// its rule allows; "rollback": the one forgery no local check can catch
// without a copy kept elsewhere (the newest checkpoints and every record
// after the one before removed), which verify passes saying that it cannot
// rule a rollback out.

// rec is one record and its segment.
type rec struct {
	seg     int
	payload []byte
}

// honest builds the suite's log: 60 events over several segments with a
// checkpoint after every 10, an intact store copy of every checkpoint and
// a witness that cosigned every one, closed cleanly.
type honest struct {
	dir     string
	store   *memRemote
	witness *cosigner
}

func newHonest(t *testing.T) honest {
	t.Helper()
	dir := t.TempDir()
	store, w := &memRemote{}, newCosigner(t, "witness.test/w1")
	l, err := Open(Options{Dir: dir, Origin: "test.rampart/gw1", Sync: true, MaxSegmentBytes: 1500,
		Remote: store, Publishers: []Publisher{w}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		fill(t, l, i*10, 10)
		if err := l.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if ks, _ := segments(dir); len(ks) < 4 {
		t.Fatalf("segments %v", ks)
	}
	return honest{dir: dir, store: store, witness: w}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// loadRecs reads every record with its segment, and the state before them.
func loadRecs(t *testing.T, dir string) (treeState, []rec) {
	t.Helper()
	var out []rec
	ks, _ := segments(dir)
	seg := ks[0]
	first, _, _, err := eachRecord(dir, nil, func(k int) { seg = k }, func(_ int64, _ [32]byte, p []byte) error {
		out = append(out, rec{seg, bytes.Clone(p)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return first, out
}

// saveRecs rewrites the segments from recs the way a forger who knows the
// format would: every chain link and every later start file recomputed.
func saveRecs(t *testing.T, dir string, first treeState, recs []rec) {
	t.Helper()
	ks, _ := segments(dir)
	st := first.clone()
	for j, k := range ks {
		if j > 0 {
			if err := writeStart(dir, k, &st); err != nil {
				t.Fatal(err)
			}
		}
		var b []byte
		for _, r := range recs {
			if r.seg != k {
				continue
			}
			leaf := tlog.RecordHash(r.payload)
			c := chainNext(st.chain, leaf)
			st.add(c, leaf, nil)
			b = append(append(append(b, frame(r.payload)[:4]...), c[:]...), r.payload...)
		}
		if err := os.WriteFile(filepath.Join(dir, segName(k)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func loadCps(t *testing.T, dir string) [][]byte {
	t.Helper()
	entries, _, _, err := readCheckpointsFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range entries {
		out = append(out, bytes.Clone(e.msg))
	}
	return out
}

func saveCps(t *testing.T, dir string, msgs [][]byte) {
	t.Helper()
	var b []byte
	for _, m := range msgs {
		b = append(b, frame(m)...)
	}
	if err := os.WriteFile(filepath.Join(dir, CheckpointsFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func cpSize(t *testing.T, msg []byte) int64 {
	t.Helper()
	text, _, _ := strings.Cut(string(msg), "\n\n")
	c, err := parseCheckpoint(text + "\n")
	if err != nil {
		t.Fatal(err)
	}
	return c.size
}

// editEvent changes the status of the event in r.
func editEvent(r *rec) {
	r.payload = bytes.Replace(r.payload, []byte(`"status":200`), []byte(`"status":201`), 1)
}

// firstEventAfter is the index of the first event at or after i.
func firstEventAfter(recs []rec, i int64) int64 {
	for ; i < int64(len(recs)); i++ {
		if !isLogRecord(recs[i].payload) {
			return i
		}
	}
	return -1
}

// resignAll is the forger with the stolen signing key: records edited by
// edit, then the chain, every checkpoint record and every checkpoint
// redone and re-signed at the original sizes.
func resignAll(t *testing.T, dir string, edit func([]rec)) {
	t.Helper()
	first, recs := loadRecs(t, dir)
	edit(recs)
	skey, _ := os.ReadFile(filepath.Join(dir, KeyFile))
	signer, _ := note.NewSigner(strings.TrimSpace(string(skey)))
	sizes := map[int64]bool{}
	for _, m := range loadCps(t, dir) {
		sizes[cpSize(t, m)] = true
	}
	var st treeState
	var prevSize int64
	var prevRoot tlog.Hash
	var msgs [][]byte
	for i := range recs {
		if sizes[int64(i)+1] {
			r := logRecord{V: 1, Kind: kindCheckpoint, Time: "2026-12-01T00:00:00Z", PrevSize: prevSize}
			if prevSize > 0 {
				r.PrevRoot = b64(prevRoot)
			}
			recs[i].payload, _ = json.Marshal(r)
		}
		leaf := tlog.RecordHash(recs[i].payload)
		st.add(chainNext(st.chain, leaf), leaf, nil)
		if sizes[st.size] {
			prevSize, prevRoot = st.size, st.root()
			m, _ := note.Sign(&note.Note{Text: formatCheckpoint("test.rampart/gw1", prevSize, prevRoot)}, signer)
			msgs = append(msgs, m)
		}
	}
	saveRecs(t, dir, first, recs)
	saveCps(t, dir, msgs)
}

type memRemote struct {
	mu    sync.Mutex
	notes [][]byte
}

func (m *memRemote) SaveAuditCheckpoint(_ context.Context, _ string, _ int64, note []byte, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.notes = append(m.notes, bytes.Clone(note))
	return nil
}

func (m *memRemote) copies() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.notes)
}

// cosigner is a witness in a Publisher: it checks each checkpoint's
// consistency proof from the last one it cosigned (the proofs come from
// the log's hash file) and cosigns it.
type cosigner struct {
	name   string
	signer note.Signer
	v      note.Verifier

	mu       sync.Mutex
	size     int64
	root     tlog.Hash
	latest   []byte
	proofErr error
}

func newCosigner(t *testing.T, name string) *cosigner {
	skey, vkey, err := note.GenerateKey(nil, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &cosigner{name: name, signer: s, v: v}
}

func (c *cosigner) Name() string { return c.name }

func (c *cosigner) Publish(_ context.Context, cp Published) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.size > 0 {
		p, err := cp.Prove(c.size)
		if err == nil {
			err = tlog.CheckTree(p, cp.Size, cp.Root, c.size, c.root)
		}
		if err != nil {
			c.proofErr = fmt.Errorf("from %d to %d: %w", c.size, cp.Size, err)
			return c.proofErr
		}
	}
	// The witness protocol's answer is its signature line, which the
	// log appends to its own note.
	text, _, _ := strings.Cut(string(cp.Note), "\n\n")
	own, err := note.Sign(&note.Note{Text: text + "\n"}, c.signer)
	if err != nil {
		return err
	}
	_, line, _ := strings.Cut(string(own), "\n\n")
	cosigned := append(bytes.Clone(cp.Note), line...)
	c.size, c.root, c.latest = cp.Size, cp.Root, cosigned
	return nil
}

func (c *cosigner) witnessed() Witnessed {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Witnessed{Name: c.name, Note: bytes.Clone(c.latest), Verifier: c.v}
}

func TestForgeries(t *testing.T) {
	h := newHonest(t)
	key := pub(t, h.dir)
	checkHonestLog(t, h, key)
	loadRecs(t, h.dir) // the honest log's records load
	// The 1,000 random edits of TestTamper cover flips, inserts and
	// truncations at every byte; these rows are the targeted ones.
	for _, r := range forgeries(t, h.dir) {
		t.Run(r.name, func(t *testing.T) {
			d := copyDir(t, h.dir)
			changed := r.mutate(t, d)
			for _, mode := range []string{"alone", "strict", "store", "witness"} {
				rep, err := Verify(d, forgeryOptions(t, h, key, mode, r.name))
				if err != nil {
					t.Fatalf("%s: %v", mode, err)
				}
				if err := checkVerdict(rep, r.want[mode], changed); err != nil {
					t.Errorf("%s: %v", mode, err)
				}
				t.Logf("%s: ok=%v signed=%d unsigned=%d anchored=%d problems=%q", mode, rep.OK(), rep.Signed, rep.Unsigned, rep.Anchored, rep.Problems)
			}
		})
	}
}

// checkHonestLog: the suite's log, untouched, verifies in every mode, and
// is anchored wherever a copy kept elsewhere is given.
func checkHonestLog(t *testing.T, h honest, key string) {
	t.Helper()
	if w := h.witness; w.proofErr != nil || w.size == 0 {
		t.Fatalf("the witness: size %d, %v", w.size, w.proofErr)
	}
	for _, mode := range []struct {
		name string
		opt  VerifyOptions
	}{
		{"alone", VerifyOptions{PublicKey: key}},
		{"strict", VerifyOptions{PublicKey: key, Strict: true}},
		{"store", VerifyOptions{PublicKey: key, Strict: true, Store: h.store.copies()}},
		{"witness", VerifyOptions{PublicKey: key, Strict: true, Witnessed: []Witnessed{h.witness.witnessed()}}},
	} {
		rep, err := Verify(h.dir, mode.opt)
		if err != nil || !rep.OK() || rep.Unsigned != 0 || rep.Signed != rep.Records {
			t.Fatalf("the honest log (%s): %+v %v", mode.name, rep, err)
		}
		if anchored := mode.name == "store" || mode.name == "witness"; anchored != (rep.Anchored == rep.Records) {
			t.Fatalf("the honest log (%s): anchored at %d of %d", mode.name, rep.Anchored, rep.Records)
		}
	}
}

// forgery is one row of TestForgeries.
type forgery struct {
	name string
	// mutate edits the copy d and returns the lowest record index it
	// changed or added (-1 if none).
	mutate func(t *testing.T, d string) int64
	// want per mode: "fail", "unsigned", "rollback", "stolen", "pass"; a
	// missing mode means "fail".
	want map[string]string
}

// forgeries are the targeted edits of the honest log in dir.
func forgeries(t *testing.T, dir string) []forgery {
	t.Helper()
	cps := loadCps(t, dir)
	n := len(cps)
	lastSize, prevSize := cpSize(t, cps[n-1]), cpSize(t, cps[n-2])
	return []forgery{
		{"an event appended after the last checkpoint, chain link computed", func(t *testing.T, d string) int64 {
			first, recs := loadRecs(t, d)
			last := recs[len(recs)-1]
			recs = append(recs, rec{last.seg, []byte(`{"v":1,"time":"2026-12-01T00:00:00Z","request_id":"forged","status":200}`)})
			saveRecs(t, d, first, recs)
			return int64(len(recs) - 1)
		}, map[string]string{"alone": "unsigned"}},
		{"checkpoints file emptied, a record edited", func(t *testing.T, d string) int64 {
			saveCps(t, d, nil)
			first, recs := loadRecs(t, d)
			i := firstEventAfter(recs, prevSize)
			editEvent(&recs[i])
			saveRecs(t, d, first, recs)
			return i
		}, nil},
		{"checkpoints file deleted", func(t *testing.T, d string) int64 {
			_ = os.Remove(filepath.Join(d, CheckpointsFile))
			return -1
		}, nil},
		{"checkpoints file emptied, every checkpoint record removed, a record edited", func(t *testing.T, d string) int64 {
			saveCps(t, d, nil)
			first, recs := loadRecs(t, d)
			recs = slices.DeleteFunc(recs, func(r rec) bool { return isLogRecord(r.payload) })
			editEvent(&recs[5])
			saveRecs(t, d, first, recs)
			return 0
		}, nil},
		{"last checkpoint deleted, a record after the one before it edited", func(t *testing.T, d string) int64 {
			saveCps(t, d, cps[:n-1])
			first, recs := loadRecs(t, d)
			i := firstEventAfter(recs, prevSize)
			editEvent(&recs[i])
			saveRecs(t, d, first, recs)
			return i
		}, nil},
		{"last checkpoint and its checkpoint record deleted, a record after the one before edited", func(t *testing.T, d string) int64 {
			saveCps(t, d, cps[:n-1])
			first, recs := loadRecs(t, d)
			recs = recs[:lastSize-1]
			i := firstEventAfter(recs, prevSize)
			editEvent(&recs[i])
			saveRecs(t, d, first, recs)
			return i
		}, map[string]string{"alone": "unsigned"}},
		{"rollback: the last checkpoint and every record after the one before removed", func(t *testing.T, d string) int64 {
			saveCps(t, d, cps[:n-1])
			first, recs := loadRecs(t, d)
			saveRecs(t, d, first, recs[:prevSize])
			return -1
		}, map[string]string{"alone": "rollback", "strict": "rollback"}},
		{"a record edited inside the signed range, chain recomputed", func(t *testing.T, d string) int64 {
			first, recs := loadRecs(t, d)
			editEvent(&recs[7])
			saveRecs(t, d, first, recs)
			return 7
		}, nil},
		{"records cut at a record boundary inside the signed range", func(t *testing.T, d string) int64 {
			first, recs := loadRecs(t, d)
			saveRecs(t, d, first, recs[:lastSize-3])
			return -1
		}, nil},
		{"a record deleted inside the signed range, chain recomputed", func(t *testing.T, d string) int64 {
			first, recs := loadRecs(t, d)
			saveRecs(t, d, first, slices.Delete(recs, 12, 13))
			return 12
		}, nil},
		{"two records swapped, chain recomputed", func(t *testing.T, d string) int64 {
			first, recs := loadRecs(t, d)
			recs[3].payload, recs[4].payload = recs[4].payload, recs[3].payload
			saveRecs(t, d, first, recs)
			return 3
		}, nil},
		{"the oldest segment deleted, no retention", func(t *testing.T, d string) int64 {
			_ = os.Remove(filepath.Join(d, LogFile))
			return -1
		}, nil},
		{"the two oldest segments deleted, no retention", func(t *testing.T, d string) int64 {
			ks, _ := segments(d)
			_ = os.Remove(filepath.Join(d, segName(ks[0])))
			_ = os.Remove(filepath.Join(d, segName(ks[1])))
			return -1
		}, nil},
		{"events.log deleted, a start beyond every checkpoint forged, a kept record edited, chain redone", func(t *testing.T, d string) int64 {
			ks, _ := segments(d)
			for _, k := range ks[:len(ks)-1] {
				_ = os.Remove(filepath.Join(d, segName(k)))
			}
			k := ks[len(ks)-1]
			_ = os.Rename(filepath.Join(d, segName(k)), filepath.Join(d, segName(1)))
			forged := treeState{size: lastSize + 1000}
			forged.chain[0] = 7
			for range popcount(forged.size) {
				forged.frontier = append(forged.frontier, tlog.Hash{1, 2, 3})
			}
			starts, _ := filepath.Glob(filepath.Join(d, "events-*.start"))
			for _, f := range starts {
				_ = os.Remove(f)
			}
			_ = writeStart(d, 1, &forged)
			first, recs := loadRecs(t, d)
			editEvent(&recs[firstEventAfter(recs, 0)])
			saveRecs(t, d, first, recs)
			return forged.size
		}, nil},
		{"a later segment's start file corrupted, segment 0 kept", func(t *testing.T, d string) int64 {
			ks, _ := segments(d)
			st, _ := readStart(d, ks[2])
			st.chain[0] ^= 1
			_ = writeStart(d, ks[2], &st)
			return -1
		}, nil},
		{"a later segment's start file deleted", func(t *testing.T, d string) int64 {
			ks, _ := segments(d)
			_ = os.Remove(filepath.Join(d, startName(ks[2])))
			return -1
		}, nil},
		{"a checkpoint duplicated at the end", func(t *testing.T, d string) int64 {
			saveCps(t, d, append(slices.Clone(cps), cps[2]))
			return -1
		}, nil},
		{"a checkpoint duplicated in place", func(t *testing.T, d string) int64 {
			saveCps(t, d, slices.Insert(slices.Clone(cps), 3, cps[3]))
			return -1
		}, nil},
		{"a middle checkpoint deleted", func(t *testing.T, d string) int64 {
			saveCps(t, d, slices.Delete(slices.Clone(cps), 2, 3))
			return -1
		}, nil},
		{"the first checkpoint deleted", func(t *testing.T, d string) int64 {
			saveCps(t, d, cps[1:])
			return -1
		}, nil},
		{"two checkpoints swapped", func(t *testing.T, d string) int64 {
			c := slices.Clone(cps)
			c[1], c[2] = c[2], c[1]
			saveCps(t, d, c)
			return -1
		}, nil},
		{"the last checkpoint replaced by one signed with another key", func(t *testing.T, d string) int64 {
			sk, _, _ := note.GenerateKey(nil, keyName)
			s, _ := note.NewSigner(sk)
			m, _ := note.Sign(&note.Note{Text: formatCheckpoint("test.rampart/gw1", lastSize, tlog.Hash{})}, s)
			saveCps(t, d, append(slices.Clone(cps[:n-1]), m))
			return -1
		}, nil},
		{"a byte of a checkpoint's signature flipped", func(t *testing.T, d string) int64 {
			c := slices.Clone(cps)
			c[3] = bytes.Clone(c[3])
			c[3][len(c[3])-5] ^= 1
			saveCps(t, d, c)
			return -1
		}, nil},
		{"the checkpoints file cut in the middle of the last checkpoint", func(t *testing.T, d string) int64 {
			b, _ := os.ReadFile(filepath.Join(d, CheckpointsFile))
			_ = os.WriteFile(filepath.Join(d, CheckpointsFile), b[:len(b)-30], 0o600)
			return -1
		}, nil},
		{"a retention record forged after the last checkpoint, the oldest segment deleted", func(t *testing.T, d string) int64 {
			ks, _ := segments(d)
			st, _ := readStart(d, ks[1])
			first, recs := loadRecs(t, d)
			r, _ := json.Marshal(logRecord{V: 1, Kind: kindRetention, Time: "2026-12-01T00:00:00Z", PrunedBefore: st.size, Start: b64(st.hash())})
			recs = append(recs, rec{recs[len(recs)-1].seg, r})
			saveRecs(t, d, first, recs)
			_ = os.Remove(filepath.Join(d, LogFile))
			return int64(len(recs) - 1)
		}, nil},
		{"stolen key: a record edited, every checkpoint re-signed", func(t *testing.T, d string) int64 {
			resignAll(t, d, func(recs []rec) { editEvent(&recs[firstEventAfter(recs, 20)]) })
			return -1
		}, map[string]string{"alone": "stolen", "strict": "stolen"}},
		{"the witness's cosignature made by another key", func(t *testing.T, d string) int64 {
			return -1 // the mutation is in the witness mode's options (below)
		}, map[string]string{"alone": "pass", "strict": "pass", "store": "pass"}},
	}
}

// forgeryOptions: Verify's options in one of TestForgeries' modes, alone
// (the public key only), strict, strict with the store's copies, strict
// with the witness's cosignature (made by a key the verifier does not
// trust in the row that says so).
func forgeryOptions(t *testing.T, h honest, key, mode, row string) VerifyOptions {
	t.Helper()
	opt := VerifyOptions{PublicKey: key}
	switch mode {
	case "strict":
		opt.Strict = true
	case "store":
		opt.Strict, opt.Store = true, h.store.copies()
	case "witness":
		opt.Strict = true
		w := h.witness.witnessed()
		if strings.HasPrefix(row, "the witness's cosignature") {
			w.Verifier = newCosigner(t, "witness.test/w1").v // the key the verifier trusts is not the one that signed
		}
		opt.Witnessed = []Witnessed{w}
	}
	return opt
}

// checkVerdict: rep is what a forgery row wants ("" is "fail"); changed
// is the lowest record index the forgery changed.
func checkVerdict(rep Report, want string, changed int64) error {
	switch want {
	case "", "fail":
		if rep.OK() {
			return fmt.Errorf("the forgery was accepted: %+v", rep)
		}
	case "unsigned":
		if !rep.OK() || rep.Unsigned == 0 || changed < rep.Signed || !hasWarning(rep, "no signature covers them") {
			return fmt.Errorf("want a pass that reports records from %d as unsigned: %+v", changed, rep)
		}
	case "rollback":
		if !rep.OK() || rep.Anchored != 0 {
			return fmt.Errorf("want a pass that cannot rule out a rollback: %+v", rep)
		}
	case "stolen", "pass":
		// With the signing key a forger rewrites everything on this
		// disk; only a copy kept elsewhere catches it.
		if !rep.OK() {
			return fmt.Errorf("%+v", rep)
		}
	}
	return nil
}

func hasWarning(rep Report, s string) bool {
	return slices.ContainsFunc(rep.Warnings, func(w string) bool { return strings.Contains(w, s) })
}
