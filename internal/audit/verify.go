package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// VerifyOptions says what Verify trusts and what it checks the log
// against.
type VerifyOptions struct {
	// PublicKey is the log's note verifier key (audit-key.pub): the one
	// thing Verify trusts. Required.
	PublicKey string
	// Origin is the log's expected origin; "" takes the origin of the
	// log's newest checkpoint.
	Origin string
	// Strict fails on any record that no checked checkpoint covers (the
	// records after the newest checkpoint of a running gateway).
	Strict bool
	// Store holds the copies of the checkpoints kept in the shared store.
	Store [][]byte
	// Witnessed holds the newest checkpoint each witness cosigned.
	Witnessed []Witnessed
}

// Witnessed is a witness's view of the log: the newest checkpoint it
// cosigned, obtained from the witness itself.
type Witnessed struct {
	// Name names the witness in the report.
	Name string
	// Note is the checkpoint with the log's signature and the witness's
	// cosignature.
	Note []byte
	// Verifier checks the witness's cosignature
	// (github.com/transparency-dev/formats/note.NewVerifierForCosignatureV1).
	Verifier note.Verifier
}

// Report is what Verify found.
type Report struct {
	// Origin is the log's origin.
	Origin string
	// Records counts every record from index 0, Pruned of them deleted by
	// retention; Events counts the kept records that are events (the rest
	// are the log's own checkpoint and retention records).
	Records, Pruned, Events int64
	// Checkpoints is how many local checkpoints were read, Copies how many
	// store copies, Witnesses how many witnesses' checkpoints.
	Checkpoints int64
	Copies      int
	Witnesses   int
	// Signed is the size of the largest checkpoint that was checked
	// against the records: records 0 to Signed-1 are covered by a
	// signature. Unsigned counts the records after it.
	Signed, Unsigned int64
	// Anchored is the largest checked size confirmed by a copy kept away
	// from the log's disk (the store, a witness), AnchoredBy those copies;
	// 0 when none was checked: a rollback of the newest checkpoints and
	// their records cannot then be ruled out.
	Anchored   int64
	AnchoredBy []string
	// FirstBadRecord is the index of the first record that fails, or -1.
	FirstBadRecord int64
	// FirstBadCheckpoint is the index (in the checkpoints file) of the
	// first local checkpoint that fails, or -1.
	FirstBadCheckpoint int64
	// Problems says what failed, first problem first; Warnings what is not
	// a failure but limits what the verification shows.
	Problems []string
	Warnings []string
}

// OK reports whether the log verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// head is one signed tree head and every place it was found.
type head struct {
	checkpoint
	sources []string
	local   int // its index in the checkpoints file, -1 if it is not there
	checked bool
}

// verification is the state of one Verify.
type verification struct {
	dir  string
	opt  VerifyOptions
	v    note.Verifier
	rep  Report
	seen map[string]bool // problems already reported

	bySize map[int64]*head
	local  []*head // the valid local checkpoints, in file order
	first  treeState
	// log records by index: checkpoint records, and retention records.
	cpRecs  map[int64]logRecord
	retRecs []indexed
}

type indexed struct {
	i int64
	r logRecord
}

// Verify recomputes the log in dir against the checkpoints signed by
// opt.PublicKey: every record's chain link, every segment's start, every
// local checkpoint (signature, order, and the chain of checkpoint records
// that names each one's predecessor), the copies kept in the store and by
// witnesses, and whatever retention deleted. It succeeds only when every
// record it counts is covered by a checkpoint it checked, or, without
// Strict, says how many records after the newest one are not. It reads
// every record once (linear time and constant memory in the log's size)
// and writes nothing.
func Verify(dir string, opt VerifyOptions) (Report, error) {
	vf := &verification{dir: dir, opt: opt, seen: map[string]bool{}, bySize: map[int64]*head{}, cpRecs: map[int64]logRecord{}}
	vf.rep = Report{FirstBadRecord: -1, FirstBadCheckpoint: -1}
	v, err := note.NewVerifier(strings.TrimSpace(opt.PublicKey))
	if err != nil {
		return vf.rep, fmt.Errorf("audit: the public key: %w", err)
	}
	vf.v = v
	entries, _, torn, err := readCheckpointsFile(dir)
	if err != nil {
		return vf.rep, fmt.Errorf("audit: %w", err)
	}
	if _, err := os.Stat(dir); err != nil {
		return vf.rep, fmt.Errorf("audit: %w", err)
	}
	if torn {
		vf.warn("the checkpoints file ends with an incomplete checkpoint (a crash while one was written; the gateway moves it aside when it starts)")
	}
	vf.loadLocal(entries)
	vf.loadStore()
	vf.loadWitnessed()
	vf.scanRecords()
	vf.conclude()
	return vf.rep, nil
}

func (vf *verification) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if !vf.seen[msg] {
		vf.seen[msg] = true
		vf.rep.Problems = append(vf.rep.Problems, msg)
	}
}

func (vf *verification) warn(format string, args ...any) {
	vf.rep.Warnings = append(vf.rep.Warnings, fmt.Sprintf(format, args...))
}

func (vf *verification) badCheckpoint(k int, format string, args ...any) {
	if vf.rep.FirstBadCheckpoint < 0 {
		vf.rep.FirstBadCheckpoint = int64(k)
	}
	vf.problem("checkpoint %d: %s", k, fmt.Sprintf(format, args...))
}

// add records a signed tree head found at src; two heads of one size
// with different roots are a fork, which only the signing key can make.
func (vf *verification) add(c checkpoint, src string, local int) *head {
	if h, ok := vf.bySize[c.size]; ok {
		if h.root != c.root {
			vf.problem("two signed checkpoints of size %d disagree (%s and %s): the signing key signed two different logs (a fork)", c.size, strings.Join(h.sources, ", "), src)
			return nil
		}
		h.sources = append(h.sources, src)
		if h.local < 0 {
			h.local = local
		}
		return h
	}
	h := &head{checkpoint: c, sources: []string{src}, local: local}
	vf.bySize[c.size] = h
	return h
}

func (vf *verification) loadLocal(entries []framed) {
	type parsed struct {
		c   checkpoint
		err error
	}
	ps := make([]parsed, len(entries))
	for k, e := range entries {
		ps[k].c, ps[k].err = openNote(e.msg, vf.v)
	}
	vf.rep.Checkpoints = int64(len(entries))
	origin := vf.opt.Origin
	if origin == "" {
		for k := len(ps) - 1; k >= 0; k-- {
			if ps[k].err == nil && !ps[k].c.legacy {
				origin = ps[k].c.origin
				break
			}
		}
	}
	if origin == "" && len(ps) > 0 && ps[len(ps)-1].err == nil {
		origin = ps[len(ps)-1].c.origin // a log of legacy checkpoints only
	}
	vf.rep.Origin = origin
	var prev *head
	for k, p := range ps {
		c := p.c
		switch {
		case p.err != nil:
			vf.badCheckpoint(k, "%v", p.err)
			continue
		case !c.legacy && c.origin != origin:
			vf.badCheckpoint(k, "it is a checkpoint of %q, not of %q", c.origin, origin)
			continue
		case prev != nil && c.size < prev.size:
			vf.badCheckpoint(k, "it covers %d records, fewer than the checkpoint before it (%d): checkpoints were reordered or copied", c.size, prev.size)
			continue
		case prev != nil && c.size == prev.size && c.root == prev.root:
			vf.badCheckpoint(k, "it repeats the checkpoint before it (size %d): a checkpoint was duplicated", c.size)
			continue
		}
		h := vf.add(c, fmt.Sprintf("checkpoint %d", k), k)
		if h == nil {
			if vf.rep.FirstBadCheckpoint < 0 {
				vf.rep.FirstBadCheckpoint = int64(k)
			}
			continue
		}
		vf.local = append(vf.local, h)
		prev = h
	}
}

func (vf *verification) loadStore() {
	for _, msg := range vf.opt.Store {
		vf.rep.Copies++
		c, err := openNote(msg, vf.v)
		switch {
		case err != nil:
			vf.problem("a checkpoint copy in the store: %v", err)
		case !c.legacy && vf.rep.Origin != "" && c.origin != vf.rep.Origin:
			vf.problem("a checkpoint copy in the store is of %q, not of %q", c.origin, vf.rep.Origin)
		default:
			vf.add(c, "the store", -1)
		}
	}
}

func (vf *verification) loadWitnessed() {
	for _, w := range vf.opt.Witnessed {
		vf.rep.Witnesses++
		src := "witness " + w.Name
		if w.Verifier == nil {
			vf.problem("%s: no cosignature key to check it with", src)
			continue
		}
		n, err := note.Open(w.Note, note.VerifierList(vf.v, w.Verifier))
		if err != nil {
			vf.problem("%s: its checkpoint does not open with the log's key and the witness's key (%v)", src, err)
			continue
		}
		var byLog, byWitness bool
		for _, s := range n.Sigs {
			byLog = byLog || (s.Hash == vf.v.KeyHash() && s.Name == vf.v.Name())
			byWitness = byWitness || (s.Hash == w.Verifier.KeyHash() && s.Name == w.Verifier.Name())
		}
		if !byLog || !byWitness {
			vf.problem("%s: its checkpoint lacks the log's signature or the witness's cosignature", src)
			continue
		}
		c, err := parseCheckpoint(n.Text)
		switch {
		case err != nil:
			vf.problem("%s: %v", src, err)
		case vf.rep.Origin != "" && c.origin != vf.rep.Origin:
			vf.problem("%s: its checkpoint is of %q, not of %q", src, c.origin, vf.rep.Origin)
		default:
			vf.add(c, src, -1)
		}
	}
}

// scanRecords reads every record once: chain links, start files, roots
// at every known size, and the log's own records.
func (vf *verification) scanRecords() {
	var heads []*head
	for _, h := range vf.bySize {
		heads = append(heads, h)
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].size < heads[j].size })
	next := 0
	var st treeState
	var prev [32]byte
	check := func() {
		for next < len(heads) && heads[next].size <= st.size {
			h := heads[next]
			next++
			if h.size < st.size || h.size == 0 {
				continue // deleted by retention: nothing left to check it against
			}
			if st.root() == h.root {
				h.checked = true
				continue
			}
			if h.local >= 0 && vf.rep.FirstBadCheckpoint < 0 {
				vf.rep.FirstBadCheckpoint = int64(h.local)
			}
			vf.problem("the root of %s does not match records 0 to %d: a record among them was changed", strings.Join(h.sources, ", "), h.size-1)
		}
	}
	_, _, _, serr := eachRecord(vf.dir, func(s treeState) {
		vf.first, st, prev = s.clone(), s.clone(), s.chain
		check()
	}, func(k int) {
		s, err := readStart(vf.dir, k)
		switch {
		case err != nil:
			vf.problem("segment %s: its start file: %v", segName(k), err)
		case !s.equal(&st):
			vf.problem("segment %s: its start file does not match the records before it (index %d)", segName(k), st.size)
		}
	}, func(i int64, chain [32]byte, payload []byte) error {
		leaf := tlog.RecordHash(payload)
		if want := chainNext(prev, leaf); want != chain && vf.rep.FirstBadRecord < 0 {
			vf.rep.FirstBadRecord = i
			vf.problem("record %d: the hash chain breaks here (a record edited, inserted, deleted or reordered)", i)
		}
		prev = chain
		st.add(chain, leaf, nil)
		if isLogRecord(payload) {
			if r, err := parseLogRecord(payload); err != nil {
				vf.warn("record %d looks like one of the log's own records but is not: %v", i, err)
			} else if r.Kind == kindCheckpoint {
				vf.cpRecs[i] = r
			} else {
				vf.retRecs = append(vf.retRecs, indexed{i, r})
			}
		} else {
			vf.rep.Events++
		}
		check()
		return nil
	})
	vf.rep.Pruned = vf.first.size
	vf.rep.Records = st.size
	var torn *TornError
	switch {
	case errors.As(serr, &torn):
		if vf.rep.FirstBadRecord < 0 {
			vf.rep.FirstBadRecord = torn.Index
		}
		vf.problem("%v", torn)
	case serr != nil:
		if vf.rep.FirstBadRecord < 0 {
			vf.rep.FirstBadRecord = vf.rep.Records
		}
		vf.problem("%v", serr)
	}
	for _, h := range heads[next:] {
		if h.local >= 0 && vf.rep.FirstBadCheckpoint < 0 {
			vf.rep.FirstBadCheckpoint = int64(h.local)
		}
		vf.problem("%s covers %d records but the log has %d: records were removed from the end", strings.Join(h.sources, ", "), h.size, vf.rep.Records)
	}
}

// conclude checks what needs the whole log: coverage, the chain of
// checkpoints, retention, and the copies kept elsewhere.
func (vf *verification) conclude() {
	rep, first := &vf.rep, vf.first.size
	for _, h := range vf.bySize {
		if h.checked && h.size > rep.Signed {
			rep.Signed = h.size
		}
	}
	kept := rep.Records - first
	switch {
	case kept > 0 && rep.Signed <= first:
		vf.problem("no signed checkpoint covers any of the %s kept (%d to %d): the checkpoints were deleted, or the records were rewritten or invented", plural(kept, "record"), first, rep.Records-1)
		rep.Unsigned = kept
	case rep.Records > rep.Signed:
		rep.Unsigned = rep.Records - rep.Signed
		if vf.opt.Strict {
			vf.problem("%s (%d to %d) after the newest checkpoint: no signature covers them (strict)", plural(rep.Unsigned, "record"), rep.Signed, rep.Records-1)
		} else {
			vf.warn("%s (%d to %d) after the newest checkpoint: no signature covers them yet, so they could have been changed, added or removed unnoticed; --strict fails on them", plural(rep.Unsigned, "record"), rep.Signed, rep.Records-1)
		}
	}
	vf.checkChain()
	vf.checkRetention()
	vf.checkElsewhere()
}

// checkChain checks that every checkpoint's tree ends with the record
// naming the checkpoint before it, and that every checkpoint a record
// names is in the checkpoints file.
func (vf *verification) checkChain() {
	first, records := vf.first.size, vf.rep.Records
	for k, h := range vf.local {
		if h.legacy || h.size <= first || h.size > records {
			continue
		}
		r, ok := vf.cpRecs[h.size-1]
		if !ok {
			vf.problem("checkpoint at size %d: its last record is not a checkpoint record (a checkpoint that Rampart did not write, or its signing key used elsewhere)", h.size)
			continue
		}
		var want int64
		var wantRoot string
		if k > 0 {
			want, wantRoot = vf.local[k-1].size, b64(vf.local[k-1].root)
		}
		switch {
		case r.PrevSize > want:
			vf.missing(r.PrevSize, h.size-1)
		case r.PrevSize < want:
			vf.problem("checkpoint at size %d follows the one at size %d in the file, but its record %d names the one at size %d", h.size, want, h.size-1, r.PrevSize)
		case want > 0 && r.PrevRoot != wantRoot:
			vf.problem("record %d names a checkpoint at size %d with another root than the file's", h.size-1, want)
		}
	}
	idx := make([]int64, 0, len(vf.cpRecs))
	for i := range vf.cpRecs {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		r := vf.cpRecs[i]
		if r.PrevSize > 0 {
			if h, ok := vf.bySize[r.PrevSize]; !ok || h.local < 0 {
				vf.missing(r.PrevSize, i)
			} else if r.PrevRoot != b64(h.root) {
				vf.problem("record %d names a checkpoint at size %d with another root than the signed one", i, r.PrevSize)
			}
		}
		if _, ok := vf.bySize[i+1]; !ok {
			// The writer appends nothing between a checkpoint record and
			// its signature, and a gateway that starts after a crash signs
			// at once (another checkpoint record first): any other record
			// after an unsigned checkpoint record means its checkpoint was
			// deleted.
			if _, restarted := vf.cpRecs[i+1]; restarted {
				vf.warn("record %d begins a checkpoint at size %d that was never written (a crash while it was signed; the gateway signed the records when it started again)", i, i+1)
			} else {
				vf.problem("record %d begins a checkpoint at size %d that is not in the checkpoints file: the newest checkpoint was deleted, or the gateway crashed while signing it and has not run since (starting it signs the records at once)", i, i+1)
			}
		}
	}
}

// missing reports a checkpoint that a record names and the checkpoints
// file lacks.
func (vf *verification) missing(size, by int64) {
	where := ""
	if h, ok := vf.bySize[size]; ok {
		where = " (" + strings.Join(h.sources, ", ") + " has it)"
	}
	vf.problem("the checkpoint at size %d is missing from the checkpoints file%s: record %d names it", size, where, by)
}

// checkRetention checks that deleted records were deleted by retention:
// under a signed retention record that names the start left.
func (vf *verification) checkRetention() {
	first := vf.first.size
	if first == 0 {
		return
	}
	start := b64(vf.first.hash())
	for _, x := range vf.retRecs {
		if x.i >= vf.rep.Signed {
			continue // not covered by a signature: anyone could have written it
		}
		switch {
		case x.r.PrunedBefore == first && x.r.Start == start:
			return
		case x.r.PrunedBefore == first:
			vf.problem("the start of the oldest kept segment (record %d) is not the one retention record %d names: a forged start file", first, x.i)
			return
		case x.r.PrunedBefore > first:
			vf.warn("retention record %d allowed deleting records before %d; it stopped at %d (interrupted)", x.i, x.r.PrunedBefore, first)
			return
		}
	}
	vf.problem("records 0 to %d are missing and no signed retention record allows it: segments were deleted by hand, or the start file is forged", first-1)
}

// checkElsewhere checks the copies kept away from the log's disk: each
// must be in the checkpoints file (a copy it lacks is a checkpoint
// deleted from it), and the largest checked one bounds a rollback.
func (vf *verification) checkElsewhere() {
	rep := &vf.rep
	var heads []*head
	for _, h := range vf.bySize {
		if slices.ContainsFunc(h.sources, func(s string) bool { return !strings.HasPrefix(s, "checkpoint ") }) {
			heads = append(heads, h)
		}
	}
	sort.Slice(heads, func(i, j int) bool { return heads[i].size < heads[j].size })
	for _, h := range heads {
		if h.local < 0 && h.size <= rep.Records {
			vf.problem("the checkpoint at size %d (%s) is missing from the checkpoints file", h.size, strings.Join(h.sources, ", "))
		}
		if !h.checked && h.size <= vf.first.size && h.size > 0 {
			vf.checkPruned(h)
		}
		if h.checked && h.size > rep.Anchored {
			rep.Anchored = h.size
			rep.AnchoredBy = slices.DeleteFunc(slices.Clone(h.sources), func(s string) bool { return strings.HasPrefix(s, "checkpoint ") })
		}
	}
}

// checkPruned checks a copy kept elsewhere whose records retention
// deleted, by a consistency proof from the hash file to the newest
// checked checkpoint: the file is not trusted, the proof is.
func (vf *verification) checkPruned(h *head) {
	top, ok := vf.bySize[vf.rep.Signed]
	if !ok || vf.rep.Signed == 0 {
		return
	}
	f, err := os.Open(filepath.Join(vf.dir, HashesFile)) // #nosec G304 -- the operator names the dir
	if err != nil {
		vf.warn("the checkpoint at size %d (%s) is older than the oldest kept record and there is no hash file to prove it consistent", h.size, strings.Join(h.sources, ", "))
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return
	}
	p, err := tlog.ProveTree(top.size, h.size, fileHashReader{f: f, n: fi.Size() / 32})
	if err == nil {
		err = tlog.CheckTree(p, top.size, top.root, h.size, h.root)
	}
	if err != nil {
		vf.problem("the checkpoint at size %d (%s) is not consistent with the checkpoint at size %d: %v", h.size, strings.Join(h.sources, ", "), top.size, err)
		return
	}
	h.checked = true
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// ReadPublicKey reads a verifier key file.
func ReadPublicKey(path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}
