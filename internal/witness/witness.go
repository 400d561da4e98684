// Package witness owns Rampart's side of the C2SP tlog-witness protocol
// (https://c2sp.org/tlog-witness): a witness server that keeps, for each
// log it knows, the newest checkpoint it verified as consistent with every
// earlier one and cosigns it (https://c2sp.org/tlog-cosignature, Ed25519
// cosignature/v1); a client that publishes an audit log's checkpoints to
// any such witness with RFC 6962 consistency proofs; and the read of a
// witness's newest checkpoint that `rampart audit verify` checks the log
// against.
//
// A witness is what makes a rollback of the audit log detectable: whoever
// controls the gateway's disk can delete the newest checkpoints and the
// records after an older one, and nothing left on that disk can tell; a
// witness elsewhere still holds the newer checkpoint, and the log must
// contain it.
//
// It does not own the log, its checkpoints or the verifier (package
// audit), nor key files on disk (the CLI reads them).
package witness

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	tlogfmt "github.com/transparency-dev/formats/log"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Protocol limits.
const (
	// maxBody bounds an add-checkpoint request or response body.
	maxBody = 64 << 10
	// maxProof is the most consistency proof lines a request may carry.
	maxProof = 63
	// SizeType is the media type of a 409 answer's body (the witness's
	// size).
	SizeType = "text/x.tlog.size"
)

// request is a parsed add-checkpoint body.
type request struct {
	old   int64
	proof tlog.TreeProof
	note  []byte
}

// encodeRequest builds an add-checkpoint body.
func encodeRequest(old int64, proof tlog.TreeProof, signed []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.Write(signed)
	return b.Bytes()
}

// parseRequest reads an add-checkpoint body.
func parseRequest(body []byte) (request, error) {
	var r request
	line, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return r, errors.New("no old size line")
	}
	s, found := strings.CutPrefix(string(line), "old ")
	if !found {
		return r, errors.New(`the first line is not "old <size>"`)
	}
	old, err := parseSize(s)
	if err != nil {
		return r, fmt.Errorf("the old size: %w", err)
	}
	r.old = old
	for {
		line, rest, ok = bytes.Cut(rest, []byte("\n"))
		if !ok {
			return r, errors.New("no empty line before the checkpoint")
		}
		if len(line) == 0 {
			break
		}
		if len(r.proof) == maxProof {
			return r, fmt.Errorf("more than %d consistency proof lines", maxProof)
		}
		raw, err := base64.StdEncoding.DecodeString(string(line))
		if err != nil || len(raw) != 32 || base64.StdEncoding.EncodeToString(raw) != string(line) {
			return r, fmt.Errorf("consistency proof line %d is not a base64 SHA-256 hash", len(r.proof)+1)
		}
		var h tlog.Hash
		copy(h[:], raw)
		r.proof = append(r.proof, h)
	}
	if old == 0 && len(r.proof) > 0 {
		return r, errors.New("a consistency proof from size 0 must be empty")
	}
	r.note = rest
	return r, nil
}

// parseSize reads a tree size in the protocol's form: ASCII decimal with
// no leading zeros.
func parseSize(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("%q is not a tree size", s)
	}
	return n, nil
}

// checkpoint is a parsed checkpoint body.
type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
}

func parseCheckpoint(text string) (checkpoint, error) {
	var c tlogfmt.Checkpoint
	if _, err := c.Unmarshal([]byte(text)); err != nil {
		return checkpoint{}, err
	}
	if len(c.Hash) != 32 || c.Size > 1<<62 {
		return checkpoint{}, errors.New("not an RFC 6962 SHA-256 tree head")
	}
	if _, err := parseSize(strings.SplitN(text, "\n", 3)[1]); err != nil {
		return checkpoint{}, err
	}
	var root tlog.Hash
	copy(root[:], c.Hash)
	return checkpoint{origin: c.Origin, size: int64(c.Size), root: root}, nil // #nosec G115 -- bounded above
}

// originOf returns a note's first line, without checking anything.
func originOf(signed []byte) string {
	line, _, _ := bytes.Cut(signed, []byte("\n"))
	return string(line)
}

// signatureLines returns the signature lines of a signed note, each
// ending in a newline.
func signatureLines(signed []byte) []byte {
	_, sigs, _ := bytes.Cut(signed, []byte("\n\n"))
	return sigs
}

// cosigned appends signature lines to a signed note, as the protocol's
// client does with a witness's answer.
func cosigned(signed, lines []byte) []byte {
	out := bytes.Clone(signed)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, lines...)
}

// checkLines checks that body is one or more note signature lines.
func checkLines(body []byte) error {
	if len(body) == 0 {
		return errors.New("no signature lines")
	}
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "— ") {
			return errors.New("a line that is not a note signature")
		}
	}
	if !bytes.HasSuffix(body, []byte("\n")) {
		return errors.New("the last signature line does not end in a newline")
	}
	return nil
}

// hasSignature reports whether n carries a verified signature by v.
func hasSignature(n *note.Note, v note.Verifier) bool {
	for _, s := range n.Sigs {
		if s.Hash == v.KeyHash() && s.Name == v.Name() {
			return true
		}
	}
	return false
}
