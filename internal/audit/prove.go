package audit

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Proof shows that an event is in the log: its record, an RFC 6962
// inclusion proof, and the signed checkpoint whose root it leads to. Anyone
// with the log's public key checks it with CheckProof, without the log.
type Proof struct {
	Index    int64 `json:"index"`
	TreeSize int64 `json:"tree_size"`
	// Event is the record's exact bytes (base64 in JSON: any re-encoding
	// of the event would change its hash).
	Event      []byte   `json:"event"`
	Path       []string `json:"inclusion_path"` // base64 hashes
	Checkpoint string   `json:"checkpoint"`     // the signed note
}

// ErrNoSuchEvent is returned by Prove for an id the log does not hold, or
// holds only after its last checkpoint (checkpoint first).
var ErrNoSuchEvent = errors.New("no checkpointed event with that request id")

// Prove builds the inclusion proof of the first event with requestID,
// against the newest checkpoint, signed by pubKey, that covers it. It
// reads the tree's hashes from the hash file, so proofs work for logs
// whose oldest segments retention deleted; without a usable hash file it
// recomputes them from the records, which needs the whole log. Every
// proof is checked against the checkpoint before it is returned.
func Prove(dir, pubKey, requestID string) (Proof, error) {
	verifier, err := note.NewVerifier(strings.TrimSpace(pubKey))
	if err != nil {
		return Proof{}, fmt.Errorf("audit: the public key: %w", err)
	}
	found, n := int64(-1), int64(0)
	var event []byte
	if _, _, _, err := eachRecord(dir, nil, nil, func(i int64, _ [32]byte, payload []byte) error {
		n = i + 1
		if found < 0 && !isLogRecord(payload) {
			var ev struct {
				RequestID string `json:"request_id"`
			}
			if json.Unmarshal(payload, &ev) == nil && ev.RequestID == requestID {
				found, event = i, payload
			}
		}
		return nil
	}); err != nil && !isTorn(err) {
		return Proof{}, fmt.Errorf("audit: %w", err)
	}
	if found < 0 {
		return Proof{}, ErrNoSuchEvent
	}
	// The newest validly signed checkpoint that covers the event.
	entries, _, _, err := readCheckpointsFile(dir)
	if err != nil {
		return Proof{}, fmt.Errorf("audit: %w", err)
	}
	var best []byte
	var bc checkpoint
	for _, e := range entries {
		c, err := openNote(e.msg, verifier)
		if err == nil && c.size > found && c.size <= n && c.size >= bc.size {
			best, bc = e.msg, c
		}
	}
	if best == nil {
		return Proof{}, ErrNoSuchEvent
	}
	leaf := tlog.RecordHash(event)
	rp, err := proveFromFile(dir, bc.size, found)
	if err != nil || tlog.CheckRecord(rp, bc.size, bc.root, found, leaf) != nil {
		if rp, err = proveFromRecords(dir, bc.size, found); err != nil {
			return Proof{}, err
		}
		if err := tlog.CheckRecord(rp, bc.size, bc.root, found, leaf); err != nil {
			return Proof{}, fmt.Errorf("audit: the records do not lead to the checkpoint's root (run rampart audit verify): %w", err)
		}
	}
	p := Proof{Index: found, TreeSize: bc.size, Event: event, Checkpoint: string(best)}
	for _, h := range rp {
		p.Path = append(p.Path, base64.StdEncoding.EncodeToString(h[:]))
	}
	return p, nil
}

// proveFromFile makes an inclusion proof from the hash file.
func proveFromFile(dir string, size, index int64) (tlog.RecordProof, error) {
	f, err := os.Open(filepath.Join(dir, HashesFile)) // #nosec G304 -- the operator names the dir
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return tlog.ProveRecord(size, index, fileHashReader{f: f, n: fi.Size() / 32})
}

// proveFromRecords makes an inclusion proof from the tree's hashes
// recomputed from every record; it needs the whole log.
func proveFromRecords(dir string, size, index int64) (tlog.RecordProof, error) {
	var stored []tlog.Hash
	var st treeState
	if _, _, _, err := eachRecord(dir, func(s treeState) { st = s }, nil, func(i int64, chain [32]byte, payload []byte) error {
		if st.size > 0 && len(stored) == 0 {
			return errPruned
		}
		if i < size {
			st.add(chain, tlog.RecordHash(payload), &stored)
		}
		return nil
	}); err != nil && !isTorn(err) {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return tlog.ProveRecord(size, index, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(stored)) {
				return nil, errors.New("hash beyond the log")
			}
			out[i] = stored[x]
		}
		return out, nil
	}))
}

// CheckProof verifies a proof with the log's public key alone: the
// checkpoint's signature, and that the event at its index leads to the
// checkpoint's root.
func CheckProof(p Proof, pubKey string) error {
	verifier, err := note.NewVerifier(strings.TrimSpace(pubKey))
	if err != nil {
		return fmt.Errorf("the public key: %w", err)
	}
	nt, err := note.Open([]byte(p.Checkpoint), note.VerifierList(verifier))
	if err != nil {
		return fmt.Errorf("the checkpoint is not signed by this key: %w", err)
	}
	c, err := parseCheckpoint(nt.Text)
	if err != nil {
		return err
	}
	size, root := c.size, c.root
	if size != p.TreeSize {
		return fmt.Errorf("the proof says tree size %d, its checkpoint %d", p.TreeSize, size)
	}
	var rp tlog.RecordProof
	for _, s := range p.Path {
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 32 {
			return errors.New("a malformed hash in the inclusion path")
		}
		var h tlog.Hash
		copy(h[:], raw)
		rp = append(rp, h)
	}
	if err := tlog.CheckRecord(rp, size, root, p.Index, tlog.RecordHash(p.Event)); err != nil {
		return fmt.Errorf("the event is not at index %d of the checkpointed tree: %w", p.Index, err)
	}
	return nil
}

// errPruned: without the hash file, inclusion proofs need every record
// from the first.
var errPruned = errors.New("the log's oldest segments were deleted by retention and the hash file cannot serve this proof")

func isTorn(err error) bool {
	var torn *TornError
	return errors.As(err, &torn)
}

// Each reads the log's events in order, across segments; a record that is
// not an event (a damaged log: verify says where) stops it with an error.
func Each(dir string, fn func(i int64, ev Event, raw []byte) error) error {
	_, _, _, err := eachRecord(dir, nil, nil, func(i int64, _ [32]byte, payload []byte) error {
		if isLogRecord(payload) {
			return nil // the log's own records are not events
		}
		var ev Event
		if err := json.Unmarshal(payload, &ev); err != nil {
			return fmt.Errorf("record %d is not an event: %w", i, err)
		}
		return fn(i, ev, payload)
	})
	var torn *TornError
	if errors.As(err, &torn) {
		return nil // the last record is being written (or was torn): verify reports it
	}
	return err
}
