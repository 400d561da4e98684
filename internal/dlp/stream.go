package dlp

// MaxStreamFindings bounds the findings a Stream keeps; Counts stays exact
// beyond it.
const MaxStreamFindings = 4096

// chunk is how much of one Write is scanned at a time, so that a large
// Write does not grow the buffer beyond a bounded size.
const chunk = 32 << 10

// Stream finds sensitive values in a body that arrives in chunks, without
// holding it: it keeps only a bounded tail (about 16 KiB, the longest value
// plus the context around it) so that a value split across chunks is still
// found, exactly once, with the same result as Find on the whole body.
// Offsets are relative to the whole stream. A Stream is not safe for
// concurrent use.
type Stream struct {
	s      *Scanner
	buf    []byte
	pos    int // next position to examine, in buf
	st     state
	counts [numKinds]int
	closed bool
}

// NewStream starts a stream scan.
func (s *Scanner) NewStream() *Stream {
	st := &Stream{s: s}
	st.st.count = &st.counts
	st.st.keep = MaxStreamFindings
	return st
}

// Write scans p. It never fails; after Close it ignores p.
func (w *Stream) Write(p []byte) (int, error) {
	n := len(p)
	if w.closed {
		return n, nil
	}
	for len(p) > 0 {
		c := min(len(p), chunk)
		w.buf = append(w.buf, p[:c]...)
		p = p[c:]
		if limit := len(w.buf) - lookAhead; limit > w.pos {
			w.pos = scan(w.s, w.buf, &w.st, w.pos, limit)
			w.compact()
		}
	}
	return n, nil
}

// compact drops the bytes no later decision can depend on, once they are
// at least half of the buffer (so copying stays linear overall).
func (w *Stream) compact() {
	drop := min(w.pos, len(w.buf)) - lookBehind
	if drop <= 0 || drop < len(w.buf)/2 {
		return
	}
	w.buf = w.buf[:copy(w.buf, w.buf[drop:])]
	w.pos -= drop
	w.st.base += drop
	w.st.lastEnd = max(0, w.st.lastEnd-drop)
}

// Close scans what is left and returns every finding of the stream (at
// most MaxStreamFindings). Later calls return the same findings.
func (w *Stream) Close() []Finding {
	if !w.closed {
		w.closed = true
		if w.pos < len(w.buf) {
			scan(w.s, w.buf, &w.st, w.pos, len(w.buf))
		}
		w.buf = nil
	}
	return w.st.out
}

// Findings returns the findings so far: those that no later byte can
// change. After Close it is every finding.
func (w *Stream) Findings() []Finding { return w.st.out }

// Counts returns how many values of each kind were found so far (all of
// them, even beyond MaxStreamFindings). Kinds with none are left out.
func (w *Stream) Counts() map[Kind]int {
	m := make(map[Kind]int)
	for k, c := range w.counts {
		if c > 0 {
			m[allKinds[k]] = c
		}
	}
	return m
}
