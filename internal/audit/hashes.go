package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/tlog"
)

// HashesFile holds the tree's stored hashes (golang.org/x/mod/sumdb/tlog's
// layout: about two 32-byte hashes a record, appended as records are), so
// that inclusion and consistency proofs for any size take a few reads
// instead of a pass over the log. It is derived data: Open checks it
// against the records and rebuilds what is missing or wrong, the verifier
// never trusts it (proofs made from it are checked by whoever receives
// them), and retention does not shorten it, so proofs still work for
// records whose segments were deleted.
const HashesFile = "hashes"

// hashFile appends stored hashes and answers reads of them.
type hashFile struct {
	w  *os.File
	bw *bufio.Writer
	r  *os.File // a second descriptor for ReadAt, safe beside the writer
	n  int64    // hashes written (buffered included)
	fn int64    // hashes flushed to the file, which readers may read
}

// openHashes opens dir's hash file for a log whose records start at
// first (pruned before it) and returns it positioned at want hashes, the
// count for the records before first; check then compares or appends the
// hashes of each later record. nil, nil means the file cannot serve this
// log (it was lost after retention deleted records it needs): proofs are
// then unavailable, and that is logged by the caller.
func openHashes(dir string, first int64) (*hashFile, error) {
	path := filepath.Join(dir, HashesFile)
	w, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600) // #nosec G304 -- the operator's audit dir
	if err != nil {
		return nil, err
	}
	fi, err := w.Stat()
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	have := fi.Size() / 32
	want := tlog.StoredHashCount(first)
	if have < want {
		_ = w.Close()
		return nil, nil
	}
	r, err := os.Open(path) // #nosec G304 -- the operator's audit dir
	if err != nil {
		_ = w.Close()
		return nil, err
	}
	return &hashFile{w: w, r: r, n: want}, nil
}

// sync brings the file in line with the stored hashes of one more record,
// which the caller computed from the records: equal ones are skipped, and
// from the first difference (a torn or altered file) the file is cut and
// rewritten. It runs while the log is opened, before append is used.
func (h *hashFile) sync(stored []tlog.Hash) error {
	var buf [32]byte
	for _, s := range stored {
		if h.bw == nil {
			_, err := h.r.ReadAt(buf[:], h.n*32)
			if err == nil && buf == s {
				h.n++
				continue
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			if err := h.startWriting(); err != nil {
				return err
			}
		}
		if _, err := h.bw.Write(s[:]); err != nil {
			return err
		}
		h.n++
	}
	return nil
}

// startWriting cuts the file at the hashes checked so far and appends
// from there.
func (h *hashFile) startWriting() error {
	if h.bw != nil {
		return nil
	}
	if err := h.w.Truncate(h.n * 32); err != nil {
		return err
	}
	if _, err := h.w.Seek(h.n*32, io.SeekStart); err != nil {
		return err
	}
	h.bw = bufio.NewWriterSize(h.w, 16<<10)
	return h.flush()
}

// append adds the stored hashes of one record.
func (h *hashFile) append(stored []tlog.Hash) error {
	for _, s := range stored {
		if _, err := h.bw.Write(s[:]); err != nil {
			return err
		}
	}
	h.n += int64(len(stored))
	return nil
}

func (h *hashFile) flush() error {
	if err := h.bw.Flush(); err != nil {
		return err
	}
	h.fn = h.n
	return nil
}

// flushed is how many hashes readers may read.
func (h *hashFile) flushed() int64 { return h.fn }

func (h *hashFile) close() error {
	var err error
	if h.bw != nil {
		err = h.bw.Flush()
	}
	if e := h.w.Close(); err == nil {
		err = e
	}
	if e := h.r.Close(); err == nil {
		err = e
	}
	return err
}

// fileHashReader reads stored hashes from a hash file.
type fileHashReader struct {
	f *os.File
	n int64 // hashes that may be read (flushed)
}

// ReadHashes implements tlog.HashReader.
func (r fileHashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= r.n {
			return nil, fmt.Errorf("stored hash %d is beyond the hash file (%d)", x, r.n)
		}
		if _, err := r.f.ReadAt(out[i][:], x*32); err != nil {
			return nil, fmt.Errorf("reading stored hash %d: %w", x, err)
		}
	}
	return out, nil
}
