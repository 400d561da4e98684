package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Report is what Verify found.
type Report struct {
	// Records and Checkpoints are how many were read; Records counts
	// from 0, Pruned of them deleted by retention.
	Records, Checkpoints, Pruned int64
	// FirstBadRecord is the index of the first record that fails, or -1.
	FirstBadRecord int64
	// FirstBadCheckpoint is the index of the first checkpoint that fails,
	// or -1.
	FirstBadCheckpoint int64
	// Problems says what failed, first problem first.
	Problems []string
}

// OK reports whether the log verified.
func (r Report) OK() bool { return len(r.Problems) == 0 }

// Verify recomputes the log in dir: every record's chain link, the torn
// tail if any, and every checkpoint's signature (by the key in pubKey, a
// note verifier key) and tree root. It reads dir only.
func Verify(dir, pubKey string) (Report, error) {
	return VerifyWith(dir, pubKey, nil)
}

// VerifyWith is Verify that also checks checkpoints kept elsewhere (the
// shared store's copies): each must be signed by the key and match the
// log, like the local ones; they are numbered after them.
func VerifyWith(dir, pubKey string, remote [][]byte) (Report, error) {
	rep := Report{FirstBadRecord: -1, FirstBadCheckpoint: -1}
	verifier, err := note.NewVerifier(strings.TrimSpace(pubKey))
	if err != nil {
		return rep, fmt.Errorf("audit: the public key: %w", err)
	}
	var leaves []tlog.Hash // of the records kept (after any pruned by retention)
	var first treeState
	var prev [32]byte
	_, _, _, serr := eachRecord(dir, func(s treeState) { first, prev = s, s.chain }, func(i int64, chain [32]byte, payload []byte) error {
		leaf := tlog.RecordHash(payload)
		leaves = append(leaves, leaf)
		if want := chainNext(prev, leaf); want != chain && rep.FirstBadRecord < 0 {
			rep.FirstBadRecord = i
			rep.Problems = append(rep.Problems, fmt.Sprintf("record %d: the hash chain breaks here (a record edited, inserted, deleted or reordered)", i))
		}
		prev = chain
		return nil
	})
	rep.Pruned = first.size
	rep.Records = first.size + int64(len(leaves))
	var torn *TornError
	switch {
	case errors.As(serr, &torn):
		if rep.FirstBadRecord < 0 {
			rep.FirstBadRecord = torn.Index
		}
		rep.Problems = append(rep.Problems, torn.Error())
	case serr != nil:
		if rep.FirstBadRecord < 0 {
			rep.FirstBadRecord = rep.Records
		}
		rep.Problems = append(rep.Problems, serr.Error())
	}

	b, err := os.ReadFile(filepath.Join(dir, CheckpointsFile)) // #nosec G304 -- the operator names the dir
	if err != nil {
		return rep, fmt.Errorf("audit: %w", err)
	}
	localLen := len(b)
	for _, n := range remote { // appended in the local file's framing
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(n))) // #nosec G115 -- a note is small
		b = append(append(b, hdr[:]...), n...)
	}
	verifiers := note.VerifierList(verifier)
	var lastSize int64
	off := 0
	for k := int64(0); len(b) > 0; k++ {
		if off == localLen && off > 0 {
			lastSize = 0 // the store's copies, in their own order
		}
		rep.Checkpoints++
		bad := func(format string, args ...any) {
			if rep.FirstBadCheckpoint < 0 {
				rep.FirstBadCheckpoint = k
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("checkpoint %d: ", k)+fmt.Sprintf(format, args...))
		}
		if len(b) < 4 || int(binary.BigEndian.Uint32(b[:4])) > len(b)-4 {
			bad("truncated")
			break
		}
		n := int(binary.BigEndian.Uint32(b[:4]))
		msg := b[4 : 4+n]
		b = b[4+n:]
		off += 4 + n
		nt, err := note.Open(msg, verifiers)
		if err != nil {
			bad("not signed by the trusted key (%v)", err)
			continue
		}
		size, root, err := parseCheckpoint(nt.Text)
		if err != nil {
			bad("%v", err)
			continue
		}
		switch {
		case size < lastSize:
			bad("covers %d records, fewer than the checkpoint before it (%d)", size, lastSize)
		case size > rep.Records:
			bad("covers %d records but the log has %d: records were removed from the end", size, rep.Records)
		case size <= first.size:
			// Its records were deleted by retention: nothing left to check.
		default:
			st := first.clone()
			for _, leaf := range leaves[:size-first.size] {
				st.add([32]byte{}, leaf)
			}
			if st.root() != root {
				bad("its root does not match records 0 to %d: a record among them was changed", size-1)
			}
		}
		lastSize = size
	}
	return rep, nil
}

func parseCheckpoint(text string) (int64, tlog.Hash, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 5 || lines[0] != checkpointHeader {
		return 0, tlog.Hash{}, errors.New("not a rampart audit checkpoint")
	}
	size, err := strconv.ParseInt(lines[2], 10, 64)
	if err != nil || size < 0 {
		return 0, tlog.Hash{}, errors.New("bad size")
	}
	raw, err := base64.StdEncoding.DecodeString(lines[3])
	if err != nil || len(raw) != 32 {
		return 0, tlog.Hash{}, errors.New("bad root")
	}
	var h tlog.Hash
	copy(h[:], raw)
	return size, h, nil
}

// ReadPublicKey reads a verifier key file.
func ReadPublicKey(path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return "", fmt.Errorf("audit: %w", err)
	}
	return string(bytes.TrimSpace(b)), nil
}
