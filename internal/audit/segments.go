package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// Segments: the log is events.log (segment 0) then events-000001.log,
// events-000002.log, ... Segment k > 0 has a start file,
// events-00000k.start, holding the record index it begins at, the chain
// hash before it and the Merkle frontier of the records before it. With
// them a log whose oldest segments were deleted (retention) still
// verifies from its oldest kept segment: the frontier and the later
// records reproduce every later checkpoint's root, which no forged start
// could without a hash collision. Retention deletes segments only after a
// signed retention record names the start it leaves (see retention in
// log.go), so a start file cannot be invented and segments cannot be
// deleted by hand unnoticed; the verifier also checks every start file
// that still has its predecessor against the records before it.

// segStart is the content of a start file.
type segStart struct {
	Index    int64    `json:"index"`
	Chain    string   `json:"chain"`
	Frontier []string `json:"frontier"`
}

func segName(k int) string {
	if k == 0 {
		return LogFile
	}
	return fmt.Sprintf("events-%06d.log", k)
}

func startName(k int) string { return fmt.Sprintf("events-%06d.start", k) }

// segments lists the segment numbers present in dir, in order.
func segments(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ks []int
	for _, e := range ents {
		n := e.Name()
		switch {
		case n == LogFile:
			ks = append(ks, 0)
		case strings.HasPrefix(n, "events-") && strings.HasSuffix(n, ".log"):
			k, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(n, "events-"), ".log"))
			if err == nil && k > 0 {
				ks = append(ks, k)
			}
		}
	}
	sort.Ints(ks)
	return ks, nil
}

// treeState is a running chain and Merkle frontier.
type treeState struct {
	size     int64
	chain    [32]byte
	frontier []tlog.Hash
}

// add appends a record's leaf. If stored is not nil, the hashes that the
// record adds to the tree's stored hashes (golang.org/x/mod/sumdb/tlog's
// numbering: the leaf, then each subtree it completes, lowest first) are
// appended to it.
func (s *treeState) add(chain [32]byte, leaf tlog.Hash, stored *[]tlog.Hash) {
	s.chain = chain
	s.size++
	s.frontier = append(s.frontier, leaf)
	if stored != nil {
		*stored = append(*stored, leaf)
	}
	for n := s.size; n&1 == 0; n >>= 1 {
		k := len(s.frontier)
		h := tlog.NodeHash(s.frontier[k-2], s.frontier[k-1])
		s.frontier = append(s.frontier[:k-2], h)
		if stored != nil {
			*stored = append(*stored, h)
		}
	}
}

// hash binds the whole state (index, chain, frontier) in one value, as a
// retention record names the start it leaves.
func (s *treeState) hash() [32]byte {
	h := sha256.New()
	h.Write([]byte(startDomain))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(s.size)) // #nosec G115 -- a size is never negative
	h.Write(n[:])
	h.Write(s.chain[:])
	for _, f := range s.frontier {
		h.Write(f[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// equal reports whether two states are the same.
func (s *treeState) equal(o *treeState) bool {
	return s.size == o.size && s.chain == o.chain && slices.Equal(s.frontier, o.frontier)
}

func (s *treeState) root() tlog.Hash {
	if len(s.frontier) == 0 {
		return emptyRoot
	}
	r := s.frontier[len(s.frontier)-1]
	for i := len(s.frontier) - 2; i >= 0; i-- {
		r = tlog.NodeHash(s.frontier[i], r)
	}
	return r
}

func (s *treeState) clone() treeState {
	return treeState{size: s.size, chain: s.chain, frontier: append([]tlog.Hash(nil), s.frontier...)}
}

func (s *treeState) start() segStart {
	st := segStart{Index: s.size, Chain: base64.StdEncoding.EncodeToString(s.chain[:])}
	for _, h := range s.frontier {
		st.Frontier = append(st.Frontier, base64.StdEncoding.EncodeToString(h[:]))
	}
	return st
}

func readStart(dir string, k int) (treeState, error) {
	b, err := os.ReadFile(filepath.Join(dir, startName(k))) // #nosec G304 -- the operator's audit dir
	if err != nil {
		return treeState{}, err
	}
	var st segStart
	if err := json.Unmarshal(b, &st); err != nil {
		return treeState{}, fmt.Errorf("%s: %w", startName(k), err)
	}
	ts := treeState{size: st.Index}
	c, err := base64.StdEncoding.DecodeString(st.Chain)
	if err != nil || len(c) != 32 {
		return treeState{}, fmt.Errorf("%s: bad chain hash", startName(k))
	}
	copy(ts.chain[:], c)
	for _, f := range st.Frontier {
		h, err := base64.StdEncoding.DecodeString(f)
		if err != nil || len(h) != 32 {
			return treeState{}, fmt.Errorf("%s: bad frontier hash", startName(k))
		}
		var th tlog.Hash
		copy(th[:], h)
		ts.frontier = append(ts.frontier, th)
	}
	// The frontier of n records has one hash per set bit of n.
	if st.Index < 0 || len(ts.frontier) != popcount(st.Index) {
		return treeState{}, fmt.Errorf("%s: the frontier does not fit index %d", startName(k), st.Index)
	}
	return ts, nil
}

func popcount(n int64) int {
	c := 0
	for ; n > 0; n &= n - 1 {
		c++
	}
	return c
}

func writeStart(dir string, k int, s *treeState) error {
	b, err := json.Marshal(s.start())
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, startName(k)+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, startName(k)))
}

// eachRecord reads every record of every segment in order, starting from
// the state before the oldest present segment (from its start file, or
// empty for segment 0). fn gets the global index. A torn tail is
// reported only for the last segment; elsewhere it is corruption.
//
// onStart, if set, gets that starting state before the first record;
// onSegment, if set, is called before the records of every segment after
// the first present one, with its number (the verifier checks its start
// file there).
func eachRecord(dir string, onStart func(treeState), onSegment func(k int), fn func(i int64, chain [32]byte, payload []byte) error) (first treeState, lastSeg int, lastGood int64, err error) {
	ks, err := segments(dir)
	if err != nil {
		return treeState{}, 0, 0, err
	}
	if len(ks) == 0 {
		return treeState{}, 0, 0, nil
	}
	if ks[0] != 0 {
		if first, err = readStart(dir, ks[0]); err != nil {
			return treeState{}, 0, 0, err
		}
	}
	if onStart != nil {
		onStart(first.clone())
	}
	next := first.size
	for j, k := range ks {
		if j > 0 && k != ks[j-1]+1 {
			return first, k, 0, fmt.Errorf("segment %d is missing (between %s and %s)", ks[j-1]+1, segName(ks[j-1]), segName(k))
		}
		if j > 0 && onSegment != nil {
			onSegment(k)
		}
		f, err := os.Open(filepath.Join(dir, segName(k))) // #nosec G304 -- the operator's audit dir
		if err != nil {
			return first, k, 0, err
		}
		base := next
		good, serr := scan(f, func(i int64, chain [32]byte, payload []byte) error {
			next = base + i + 1
			return fn(base+i, chain, payload)
		})
		_ = f.Close()
		var torn *TornError
		if errors.As(serr, &torn) {
			torn.Index += base
			if j < len(ks)-1 {
				return first, k, good, fmt.Errorf("%s: %w (only the last segment may end torn)", segName(k), torn)
			}
			return first, k, good, torn
		}
		if serr != nil {
			return first, k, good, serr
		}
		lastSeg, lastGood = k, good
	}
	return first, lastSeg, lastGood, nil
}
