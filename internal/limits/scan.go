package limits

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/jsonbody"
)

// scanMaxDepth is the nesting the record scanner follows; deeper values
// are skipped as a whole (only their brackets are counted).
const scanMaxDepth = 64

// scanMaxKey is the longest object key, as written, that the scanner
// compares with the path; longer keys never match. A path key has at most
// 256 bytes (config.RecordsPath), and a written key takes at most 6 bytes
// (\uXXXX) for each byte of its fold (jsonbody.Fold never makes a name
// longer), so a longer key can neither be nor fold like a path key.
const scanMaxKey = 6 * 256

// frame is one open container.
type frame struct {
	array    bool
	onPath   bool // every container from the top to this one follows the path
	wantKey  bool // object: the next string is a key
	keyMatch bool // object: the last key is the next path element
	named    bool // object on the path: a key folding like the next path element was seen
}

// recordScanner counts the elements of the JSON array at a path of object
// keys, reading the document in chunks of any size. It keeps a bounded
// state (a stack of at most scanMaxDepth frames and one key), tolerates
// malformed input (it counts what it saw), and remembers where the array's
// k-th element ends so that a buffered body can be cut there.
//
// Keys are compared decoded (escapes and invalid UTF-8 read as jsonpath
// and encoding/json read them). An object on the path with two keys that
// jsonbody.Fold makes the same as the path's next key is a duplicate
// (dup): parsers disagree on which of them wins, so the count would not
// be the count a client sees.
type recordScanner struct {
	path  []string
	folds []string // jsonbody.Fold of each path key
	stack []frame
	deep  int // levels opened past scanMaxDepth

	inString, escape bool
	keyString        bool // the string is an object key
	key              []byte
	keyEscaped       bool
	keyLong          bool

	target      int // depth of the target array + 1, 0 until found
	done        bool
	expectValue bool
	count       int64
	dup         bool // a name on the path is repeated: the count is not to be trusted

	// Cutting: keep is how many elements to keep; cut is the offset just
	// after the keep-th element (or after '[' when keep is 0), close the
	// offset of the target's ']'; -1 when not seen.
	keep       int64
	cut, close int64
	pos        int64
}

// foldPath returns jsonbody.Fold of each key of a records path: made once
// per route at load time, not per response.
func foldPath(path []string) []string {
	folds := make([]string, len(path))
	for i, k := range path {
		folds[i] = jsonbody.Fold(k)
	}
	return folds
}

// newRecordScanner returns a scanner for path, whose keys folded are folds
// (foldPath), keeping keep elements when it cuts.
func newRecordScanner(path, folds []string, keep int64) *recordScanner {
	return &recordScanner{path: path, folds: folds, keep: keep, cut: -1, close: -1,
		stack: make([]frame, 0, 8)}
}

// Write scans p; it never fails.
func (s *recordScanner) Write(p []byte) (int, error) {
	for i, c := range p {
		s.step(c, s.pos+int64(i))
	}
	s.pos += int64(len(p))
	return len(p), nil
}

func (s *recordScanner) step(c byte, at int64) {
	if s.inString {
		if c == '\\' || c == '"' || s.escape {
			s.stringByte(c)
		} else {
			s.addKey(c) // the common case, kept inline
		}
		return
	}
	switch c {
	case ' ', '\t', '\n', '\r':
		return
	}
	inTarget := s.target != 0 && len(s.stack) == s.target && s.deep == 0 && !s.done
	if inTarget && s.expectValue && c != ']' && c != ',' {
		s.expectValue = false
		s.count++
	}
	switch c {
	case '"':
		s.openString()
	case '{', '[':
		s.open(c == '[', at)
	case '}', ']':
		if inTarget && c == ']' {
			s.closeTarget(at)
		}
		s.pop()
	case ',':
		s.comma(inTarget, at)
	case ':':
		if top := s.top(); top != nil && !top.array && s.deep == 0 {
			top.wantKey = false
		}
	}
}

// stringByte takes a backslash, a closing quote or an escaped byte inside
// a string (a key keeps its escapes as they are written).
func (s *recordScanner) stringByte(c byte) {
	switch {
	case s.escape:
		s.escape = false
	case c == '\\':
		s.escape, s.keyEscaped = true, true
	case c == '"':
		s.inString = false
		if s.keyString {
			s.endKey()
		}
		return
	}
	s.addKey(c)
}

// openString starts a string, a key to keep when an object on the path
// expects one.
func (s *recordScanner) openString() {
	s.inString = true
	s.keyString = false
	if top := s.top(); top != nil && !top.array && top.wantKey && s.deep == 0 && top.onPath && len(s.stack) <= len(s.path) {
		s.keyString = true
		s.key, s.keyEscaped, s.keyLong = s.key[:0], false, false
	}
}

// closeTarget notes the target array's ']' at offset at.
func (s *recordScanner) closeTarget(at int64) {
	s.close = at
	if s.cut < 0 { // fewer elements than keep
		s.cut = at
	}
	s.done = true
}

// comma separates array elements (in the target, the next one is
// expected, and the keep-th one may end here) or object members (a key
// comes next).
func (s *recordScanner) comma(inTarget bool, at int64) {
	top := s.top()
	if top == nil || s.deep > 0 {
		return
	}
	if !top.array {
		top.wantKey = true
		return
	}
	if inTarget {
		s.expectValue = true
		if s.count == s.keep && s.cut < 0 {
			s.cut = at
		}
	}
}

func (s *recordScanner) top() *frame {
	if len(s.stack) == 0 {
		return nil
	}
	return &s.stack[len(s.stack)-1]
}

// open pushes a container and decides whether it is on the path, or is the
// target array itself.
func (s *recordScanner) open(array bool, at int64) {
	if s.deep > 0 || len(s.stack) == scanMaxDepth {
		s.deep++
		return
	}
	onPath := false
	if parent := s.top(); parent == nil {
		onPath = true
	} else if parent.onPath && !parent.array && parent.keyMatch && len(s.stack) <= len(s.path) {
		onPath = true
	}
	s.stack = append(s.stack, frame{array: array, onPath: onPath, wantKey: !array})
	if onPath && len(s.stack) == len(s.path)+1 && s.target == 0 {
		if array {
			s.target = len(s.stack)
			s.expectValue = true
			if s.keep == 0 {
				s.cut = at + 1
			}
		}
	}
}

func (s *recordScanner) pop() {
	if s.deep > 0 {
		s.deep--
		return
	}
	if len(s.stack) > 0 {
		s.stack = s.stack[:len(s.stack)-1]
	}
}

func (s *recordScanner) addKey(c byte) {
	if !s.keyString {
		return
	}
	if len(s.key) >= scanMaxKey {
		s.keyLong = true
		return
	}
	s.key = append(s.key, c)
}

// endKey compares a finished key with the path element of its depth and
// notes a second key that folds like it.
func (s *recordScanner) endKey() {
	top := s.top()
	top.keyMatch = false
	d := len(s.stack) - 1
	if !top.onPath || d >= len(s.path) || s.keyLong {
		return
	}
	key := s.key
	if s.keyEscaped || !utf8.Valid(key) {
		// Rare: an escaped key such as "it\u0065ms", or one with bytes
		// that decode to U+FFFD.
		var k string
		if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &k) != nil {
			return
		}
		key = []byte(k)
	}
	top.keyMatch = string(key) == s.path[d]
	if utf8.RuneCount(key) == utf8.RuneCountInString(s.folds[d]) && jsonbody.Fold(string(key)) == s.folds[d] {
		s.dup = s.dup || top.named
		top.named = true
	}
}

// found reports whether the target array was seen and closed.
func (s *recordScanner) found() bool { return s.done }

// truncate returns body with the target array cut to its first keep
// elements, or body itself when there is nothing to cut.
func (s *recordScanner) truncate(body []byte) []byte {
	if !s.done || s.cut < 0 || s.close < 0 || s.cut >= s.close {
		return body
	}
	out := make([]byte, 0, int(s.cut)+len(body)-int(s.close))
	out = append(out, body[:s.cut]...)
	return append(out, body[s.close:]...)
}
