package audit

import (
	"encoding/base64"
	"encoding/binary"
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
// against the newest checkpoint, signed by pubKey, that covers it.
func Prove(dir, pubKey, requestID string) (Proof, error) {
	verifier, err := note.NewVerifier(strings.TrimSpace(pubKey))
	if err != nil {
		return Proof{}, fmt.Errorf("audit: the public key: %w", err)
	}
	var stored []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x >= int64(len(stored)) {
				return nil, errors.New("hash beyond the log")
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	found, n := int64(-1), int64(0)
	var event []byte
	var first treeState
	if _, _, _, err := eachRecord(dir, func(s treeState) { first = s }, func(i int64, _ [32]byte, payload []byte) error {
		if first.size > 0 {
			return errPruned
		}
		hs, err := tlog.StoredHashes(i, payload, read)
		if err != nil {
			return err
		}
		stored = append(stored, hs...)
		n = i + 1
		if found < 0 {
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
	b, err := os.ReadFile(filepath.Join(dir, CheckpointsFile)) // #nosec G304 -- the operator names the dir
	if err != nil {
		return Proof{}, fmt.Errorf("audit: %w", err)
	}
	var best []byte
	var bestSize int64
	for len(b) >= 4 {
		m := int(binary.BigEndian.Uint32(b[:4]))
		if m > len(b)-4 {
			break
		}
		msg := b[4 : 4+m]
		b = b[4+m:]
		nt, err := note.Open(msg, note.VerifierList(verifier))
		if err != nil {
			continue
		}
		size, _, err := parseCheckpoint(nt.Text)
		if err == nil && size > found && size <= n && size >= bestSize {
			best, bestSize = msg, size
		}
	}
	if best == nil {
		return Proof{}, ErrNoSuchEvent
	}
	rp, err := tlog.ProveRecord(bestSize, found, read)
	if err != nil {
		return Proof{}, fmt.Errorf("audit: %w", err)
	}
	p := Proof{Index: found, TreeSize: bestSize, Event: event, Checkpoint: string(best)}
	for _, h := range rp {
		p.Path = append(p.Path, base64.StdEncoding.EncodeToString(h[:]))
	}
	return p, nil
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
	size, root, err := parseCheckpoint(nt.Text)
	if err != nil {
		return err
	}
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

// errPruned: inclusion proofs need every record from the first.
var errPruned = errors.New("the log's oldest segments were deleted by retention; inclusion proofs need the whole log")

func isTorn(err error) bool {
	var torn *TornError
	return errors.As(err, &torn)
}

// Each reads the log's events in order, across segments; a record that is
// not an event (a damaged log: verify says where) stops it with an error.
func Each(dir string, fn func(i int64, ev Event, raw []byte) error) error {
	_, _, _, err := eachRecord(dir, nil, func(i int64, _ [32]byte, payload []byte) error {
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
