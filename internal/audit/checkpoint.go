package audit

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoints are C2SP tlog-checkpoint notes (https://c2sp.org/tlog-checkpoint):
// the text is the origin line, the tree size and the base64 RFC 6962 root,
// with no extension lines, signed as a note (https://c2sp.org/signed-note)
// with the log's Ed25519 key. Standard witnesses and tooling read them as
// they are. Logs written before this format carry "rampart-audit-v1"
// checkpoints (that header line, the origin, the size, the root and a
// time); the verifier still reads them.
//
// The checkpoints file holds every checkpoint, in order, each framed by a
// 4-byte big-endian length.
//
// Each checkpoint's tree ends with a checkpoint record, written just
// before it is signed, that names the checkpoint before it (its size and
// root). The checkpoints are thereby chained through the signed tree
// itself, and a checkpoint deleted from the middle of the file, or a file
// emptied while the records keep their checkpoint records, is named by
// the verifier.

// checkpoint is a parsed checkpoint text.
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	legacy bool // the rampart-audit-v1 text of older logs
}

// formatCheckpoint returns the C2SP checkpoint text of a tree head.
func formatCheckpoint(origin string, size int64, root tlog.Hash) string {
	return string(tlogfmt.Checkpoint{Origin: origin, Size: uint64(size), Hash: root[:]}.Marshal()) // #nosec G115 -- a size is never negative
}

// parseCheckpoint reads a checkpoint's text, in either format.
func parseCheckpoint(text string) (checkpoint, error) {
	if strings.HasPrefix(text, legacyHeader+"\n") {
		return parseLegacy(text)
	}
	var c tlogfmt.Checkpoint
	rest, err := c.Unmarshal([]byte(text))
	switch {
	case err != nil:
		return checkpoint{}, fmt.Errorf("not a checkpoint: %w", err)
	case len(rest) > 0:
		return checkpoint{}, errors.New("not a checkpoint of this log: it has extension lines")
	case len(c.Hash) != 32:
		return checkpoint{}, errors.New("not a checkpoint: the root is not a SHA-256 hash")
	case c.Size > 1<<62:
		return checkpoint{}, errors.New("not a checkpoint: the size is out of range")
	}
	if s := strconv.FormatUint(c.Size, 10); !strings.HasPrefix(text[len(c.Origin)+1:], s+"\n") {
		return checkpoint{}, errors.New("not a checkpoint: the size is not in canonical form")
	}
	var root tlog.Hash
	copy(root[:], c.Hash)
	return checkpoint{origin: c.Origin, size: int64(c.Size), root: root}, nil // #nosec G115 -- bounded above
}

// legacyHeader starts the checkpoints of logs written before the C2SP
// format.
const legacyHeader = "rampart-audit-v1"

func parseLegacy(text string) (checkpoint, error) {
	lines := strings.Split(text, "\n")
	if len(lines) < 5 || lines[0] != legacyHeader {
		return checkpoint{}, errors.New("not a rampart audit checkpoint")
	}
	size, err := strconv.ParseInt(lines[2], 10, 64)
	if err != nil || size < 0 {
		return checkpoint{}, errors.New("not a checkpoint: bad size")
	}
	raw, err := base64.StdEncoding.DecodeString(lines[3])
	if err != nil || len(raw) != 32 {
		return checkpoint{}, errors.New("not a checkpoint: bad root")
	}
	var h tlog.Hash
	copy(h[:], raw)
	return checkpoint{origin: lines[1], size: size, root: h, legacy: true}, nil
}

// CheckOrigin says whether s can be a log's origin: the first line of its
// checkpoints and the name of its key, so non-empty, at most 255 bytes,
// printable UTF-8 with neither spaces nor '+' (https://c2sp.org/signed-note),
// for example "rampart.example/gw1".
func CheckOrigin(s string) error {
	switch {
	case s == "":
		return errors.New("it is empty")
	case len(s) > 255:
		return errors.New("it is longer than 255 bytes")
	case !utf8.ValidString(s):
		return errors.New("it is not UTF-8")
	}
	for _, r := range s {
		if unicode.IsSpace(r) || r == '+' || !unicode.IsPrint(r) {
			return fmt.Errorf("it contains %q: no spaces, '+' or control characters", r)
		}
	}
	return nil
}

// framed is one entry of the checkpoints file.
type framed struct {
	off int64
	msg []byte
}

// readCheckpointsFile returns the entries of the checkpoints file in dir,
// and the offset after the last whole one; a torn last entry (a crash
// while writing) is reported by torn.
func readCheckpointsFile(dir string) (entries []framed, good int64, torn bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, CheckpointsFile)) // #nosec G304 -- the operator's audit dir
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	for off := 0; off < len(b); {
		if len(b)-off < 4 {
			return entries, int64(off), true, nil
		}
		n := int(binary.BigEndian.Uint32(b[off:]))
		if n > maxNote || n > len(b)-off-4 {
			return entries, int64(off), true, nil
		}
		entries = append(entries, framed{off: int64(off), msg: b[off+4 : off+4+n]})
		off += 4 + n
	}
	return entries, int64(len(b)), false, nil
}

// maxNote bounds a checkpoint note (ours are about 200 bytes).
const maxNote = 64 << 10

func frame(msg []byte) []byte {
	out := make([]byte, 4, 4+len(msg))
	binary.BigEndian.PutUint32(out, uint32(len(msg))) // #nosec G115 -- a note is small
	return append(out, msg...)
}

// openNote verifies a signed note with v and parses its checkpoint.
func openNote(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return checkpoint{}, fmt.Errorf("not signed by the trusted key (%w)", err)
	}
	return parseCheckpoint(n.Text)
}

// Records the log writes about itself. Their encoding starts with
// logRecordPrefix, which no event's does (events start with the time).
const (
	logRecordPrefix = `{"v":1,"kind":"log.`
	kindCheckpoint  = "log.checkpoint"
	kindRetention   = "log.retention"
)

// logRecord is a record the log writes about itself: the last record of
// every checkpoint's tree (kind log.checkpoint, naming the checkpoint
// before it), or the record that allows retention to delete the segments
// before a start (kind log.retention).
type logRecord struct {
	V    int    `json:"v"`
	Kind string `json:"kind"`
	Time string `json:"time"`
	// PrevSize and PrevRoot name the checkpoint before (log.checkpoint);
	// 0 and "" for the first.
	PrevSize int64  `json:"prev_size"`
	PrevRoot string `json:"prev_root,omitempty"`
	// PrunedBefore is the first record kept, Start the hash of the state
	// before it (its segment's start file) (log.retention).
	PrunedBefore int64  `json:"pruned_before,omitempty"`
	Start        string `json:"start,omitempty"`
}

// isLogRecord reports whether payload is one of the log's own records.
func isLogRecord(payload []byte) bool { return bytes.HasPrefix(payload, []byte(logRecordPrefix)) }

func parseLogRecord(payload []byte) (logRecord, error) {
	var r logRecord
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return logRecord{}, err
	}
	if _, err := d.Token(); err != io.EOF {
		return logRecord{}, errors.New("data after the record")
	}
	if r.Kind != kindCheckpoint && r.Kind != kindRetention {
		return logRecord{}, fmt.Errorf("unknown kind %q", r.Kind)
	}
	return r, nil
}

func b64(h [32]byte) string { return base64.StdEncoding.EncodeToString(h[:]) }
