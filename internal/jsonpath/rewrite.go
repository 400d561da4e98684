package jsonpath

import (
	"errors"
	"fmt"
	"math/bits"
	"strconv"
)

// MaxDepth is the deepest nesting of arrays and objects Rewrite and Scalars
// accept.
const MaxDepth = 128

// Kind is the JSON type of a value.
type Kind uint8

// The kinds of JSON value. The zero Kind is not a valid kind.
const (
	String Kind = iota + 1
	Number
	Object
	Array
	True
	False
	Null
)

var kindNames = [...]string{"invalid", "string", "number", "object", "array", "true", "false", "null"}

// String returns the lower-case name of k, e.g. "string".
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Match is one value selected by a path, as passed to Rewrite's callback.
type Match struct {
	// Path is the index, in the paths passed to Rewrite, of the path that
	// matched. When several paths match the same value, it is the lowest.
	Path int
	// Value is the raw JSON of the value, without surrounding whitespace. It
	// aliases the input document: do not modify it or keep it after the
	// callback returns.
	Value []byte
	// Kind is the JSON type of Value.
	Kind Kind
}

// Edit is what a callback wants done to the value it was given. The zero
// Edit leaves the value alone.
type Edit struct {
	// Replace, when non-nil, is put in place of the value. The caller
	// guarantees it is exactly one valid JSON value; it is copied, not
	// checked (except that it must not be empty). Surrounding whitespace and
	// the member name are kept.
	Replace []byte
	// Remove deletes the member (in an object) or the element (in an array)
	// holding the value, with its separating comma. It takes precedence over
	// Replace. Removing the root value is an error (ErrRemoveRoot).
	Remove bool
}

// Errors returned by Rewrite and Scalars besides *SyntaxError and the
// callback's own errors.
var (
	// ErrTooDeep is wrapped by the *SyntaxError for a document nested deeper
	// than MaxDepth.
	ErrTooDeep = errors.New("nesting deeper than " + strconv.Itoa(MaxDepth))
	// ErrRemoveRoot is returned when a callback asks to remove the root value.
	ErrRemoveRoot = errors.New("jsonpath: cannot remove the root value")
	// ErrEmptyReplace is returned when a callback returns a non-nil but empty
	// Edit.Replace.
	ErrEmptyReplace = errors.New("jsonpath: Edit.Replace is empty")
)

// SyntaxError reports a document that is not valid JSON, or nested too
// deeply. Offset is the byte offset of the problem (len(doc) when the input
// ends too early).
type SyntaxError struct {
	Offset int
	Msg    string
	err    error
}

// Error returns a message of the form
// "jsonpath: invalid JSON at offset 12: unexpected end of input".
func (e *SyntaxError) Error() string {
	return "jsonpath: invalid JSON at offset " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// Unwrap returns ErrTooDeep for a document nested too deeply, else nil.
func (e *SyntaxError) Unwrap() error { return e.err }

func syntaxErr(off int, msg string) *SyntaxError {
	return &SyntaxError{Offset: off, Msg: msg}
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("'\\x%02x'", c)
}

// Rewrite walks doc once and calls fn for each value matched by any of
// paths, in document order, and returns the rewritten document and the
// number of matches (calls of fn).
//
// fn is called at most once per value. When several paths match the same
// value, Match.Path is the lowest index among them. When one path matches
// inside another's match, the outermost match is reported first; if fn
// edits it, its inside is not visited, and if fn returns the zero Edit, the
// matches inside it are reported too. A nil fn counts matches without
// editing.
//
// Everything not edited is copied byte for byte, including whitespace. With
// no edits Rewrite returns doc itself (no copy); otherwise it returns a new
// slice and doc is not modified.
//
// Invalid JSON, or nesting deeper than MaxDepth, returns a *SyntaxError
// saying what is wrong and at which byte offset. Because the walk is a
// single pass, fn may already have been called for matches before the
// problem; the result is then nil. An error returned by fn is returned
// unchanged and stops the walk.
func Rewrite(doc []byte, paths []Path, fn func(Match) (Edit, error)) ([]byte, int, error) {
	w := walker{doc: doc, paths: paths, fn: fn}
	maxLen, root := 0, -1
	for i, p := range paths {
		maxLen = max(maxLen, len(p.segs))
		if len(p.segs) == 0 && root < 0 {
			root = i
		}
	}
	w.words = (len(paths) + 63) / 64
	if w.words > 1 {
		w.big = make([]uint64, w.words*(maxLen+1))
	}
	alive := false
	root0 := w.level(0)
	for i, p := range paths {
		if len(p.segs) > 0 {
			root0[i/64] |= 1 << (i % 64)
			alive = true
		}
	}
	out, err := w.run(root, alive)
	return out, w.count, err
}

// Scalars calls fn for every string and number value in doc, in document
// order. Member names are not values and are not passed as such. name is
// the decoded name of the nearest enclosing object member: "" for a value at
// the root or inside arrays at the root, and for array elements (at any
// depth of nested arrays) the name of the member holding the array. kind is
// String or Number and value is the raw token (aliasing doc).
//
// fn's Edit applies to the value as in Rewrite, and the same error and
// no-copy rules hold.
func Scalars(doc []byte, fn func(name string, value []byte, kind Kind) (Edit, error)) ([]byte, error) {
	w := walker{doc: doc, sfn: fn}
	return w.run(-1, true)
}

const nameCacheSize = 64

type walker struct {
	doc    []byte
	pos    int
	out    []byte // rewritten output; valid once edited
	last   int    // doc[last:] has not been copied to out yet
	edited bool

	// Rewrite: one bit set of paths per depth, words uint64s each (in small
	// for up to 64 paths, else in big); the set at depth d holds the paths
	// that matched the value's ancestors and have segments left. They are
	// kept inline, not behind pointers, so that the walker stays on the
	// stack.
	paths []Path
	fn    func(Match) (Edit, error)
	words int
	small [MaxPathSegments + 1]uint64
	big   []uint64
	count int

	// Scalars.
	sfn   func(string, []byte, Kind) (Edit, error)
	names [nameCacheSize]string

	key []byte // decoded member name; allocated only for escaped names
}

// nameRef locates an object member's name token in doc; end == 0 means none.
type nameRef struct {
	start, end int
	flags      uint8
}

func (w *walker) run(root int, alive bool) ([]byte, error) {
	w.skipWS()
	removed, err := w.value(0, root, alive, nameRef{})
	if err != nil {
		return nil, err
	}
	if removed {
		return nil, ErrRemoveRoot
	}
	w.skipWS()
	if w.pos < len(w.doc) {
		return nil, syntaxErr(w.pos, "invalid character "+quoteByte(w.doc[w.pos])+" after top-level value")
	}
	if !w.edited {
		return w.doc, nil
	}
	return append(w.out, w.doc[w.last:]...), nil
}

func (w *walker) skipWS() {
	for w.pos < len(w.doc) {
		switch w.doc[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// flush copies doc[last:i] to the output, starting it if need be.
func (w *walker) flush(i int) {
	if !w.edited {
		w.edited = true
		w.out = make([]byte, 0, len(w.doc)+len(w.doc)/4+64)
	}
	if i > w.last {
		w.out = append(w.out, w.doc[w.last:i]...)
		w.last = i
	}
}

// apply carries out e on the value at doc[start:end] and reports whether
// the value is to be removed, which its container does.
func (w *walker) apply(e Edit, start, end int) (removed bool, err error) {
	switch {
	case e.Remove:
		return true, nil
	case e.Replace != nil:
		if len(e.Replace) == 0 {
			return false, ErrEmptyReplace
		}
		w.flush(start)
		w.out = append(w.out, e.Replace...)
		w.last = end
	}
	return false, nil
}

// remove drops the element doc[start:end] of a container. keptEnd is where
// the last kept element before it ends, if any: then the separator before
// it goes; otherwise the one after it goes, when the next element starts.
func (w *walker) remove(hasKept bool, keptEnd, start, end int) {
	if hasKept {
		w.flush(keptEnd)
	} else {
		w.flush(start)
	}
	w.last = end
}

// value walks the value at w.pos, at depth d. match is the path that
// selects it (-1 if none) and alive says whether paths continue below it
// (Scalars: always).
func (w *walker) value(d, match int, alive bool, name nameRef) (removed bool, err error) {
	start := w.pos
	if match >= 0 {
		kind, err := w.skip(d)
		if err != nil {
			return false, err
		}
		w.count++
		if w.fn == nil {
			if !alive || kind != Object && kind != Array {
				return false, nil
			}
		} else {
			e, err := w.fn(Match{Path: match, Value: w.doc[start:w.pos], Kind: kind})
			if err != nil {
				return false, err
			}
			if e.Remove || e.Replace != nil || !alive || kind != Object && kind != Array {
				return w.apply(e, start, w.pos)
			}
		}
		w.pos = start
	} else if !alive {
		_, err := w.skip(d)
		return false, err
	}
	if w.pos < len(w.doc) {
		switch w.doc[w.pos] {
		case '{':
			return false, w.object(d, name)
		case '[':
			return false, w.array(d, name)
		}
	}
	kind, err := w.skip(d)
	if err != nil || w.sfn == nil || kind != String && kind != Number {
		return false, err
	}
	e, err := w.sfn(w.name(name), w.doc[start:w.pos], kind)
	if err != nil {
		return false, err
	}
	return w.apply(e, start, w.pos)
}

func (w *walker) tooDeep() error {
	return &SyntaxError{Offset: w.pos, Msg: "nesting deeper than " + strconv.Itoa(MaxDepth), err: ErrTooDeep}
}

func (w *walker) unexpected(what string) error {
	if w.pos >= len(w.doc) {
		return syntaxErr(w.pos, "unexpected end of input "+what)
	}
	return syntaxErr(w.pos, "invalid character "+quoteByte(w.doc[w.pos])+" "+what)
}

// object walks the object at w.pos, at depth d, with paths alive below it.
func (w *walker) object(d int, _ nameRef) error {
	if d >= MaxDepth {
		return w.tooDeep()
	}
	w.pos++
	w.skipWS()
	if w.pos < len(w.doc) && w.doc[w.pos] == '}' {
		w.pos++
		return nil
	}
	var hasKept, dropSep bool
	keptEnd := 0
	for {
		start := w.pos
		if w.pos >= len(w.doc) || w.doc[w.pos] != '"' {
			return w.unexpected("looking for object member name")
		}
		next, flags, serr := scanString(w.doc, w.pos)
		if serr != nil {
			return serr
		}
		w.pos = next
		key := nameRef{start: start, end: next, flags: flags}
		w.skipWS()
		if w.pos >= len(w.doc) || w.doc[w.pos] != ':' {
			return w.unexpected("after object member name")
		}
		w.pos++
		w.skipWS()
		if dropSep {
			w.last = start
		}
		match, alive := -1, true
		if w.sfn == nil {
			match, alive = w.member(d, key)
		}
		removed, err := w.value(d+1, match, alive, key)
		if err != nil {
			return err
		}
		if removed {
			w.remove(hasKept, keptEnd, start, w.pos)
			dropSep = !hasKept
		} else {
			hasKept, keptEnd, dropSep = true, w.pos, false
		}
		w.skipWS()
		if w.pos < len(w.doc) {
			switch w.doc[w.pos] {
			case ',':
				w.pos++
				w.skipWS()
				continue
			case '}':
				w.pos++
				return nil
			}
		}
		return w.unexpected("after object member value")
	}
}

// array walks the array at w.pos, at depth d, with paths alive below it.
func (w *walker) array(d int, name nameRef) error {
	if d >= MaxDepth {
		return w.tooDeep()
	}
	w.pos++
	w.skipWS()
	if w.pos < len(w.doc) && w.doc[w.pos] == ']' {
		w.pos++
		return nil
	}
	var hasKept, dropSep bool
	keptEnd := 0
	for i := 0; ; i++ {
		start := w.pos
		if dropSep {
			w.last = start
		}
		match, alive := -1, true
		if w.sfn == nil {
			match, alive = w.element(d, i)
		}
		removed, err := w.value(d+1, match, alive, name)
		if err != nil {
			return err
		}
		if removed {
			w.remove(hasKept, keptEnd, start, w.pos)
			dropSep = !hasKept
		} else {
			hasKept, keptEnd, dropSep = true, w.pos, false
		}
		w.skipWS()
		if w.pos < len(w.doc) {
			switch w.doc[w.pos] {
			case ',':
				w.pos++
				w.skipWS()
				continue
			case ']':
				w.pos++
				return nil
			}
		}
		return w.unexpected("after array element")
	}
}

// level returns the bit set of paths alive at depth d.
func (w *walker) level(d int) []uint64 {
	if w.big != nil {
		return w.big[d*w.words : (d+1)*w.words]
	}
	return w.small[d : d+1]
}

// member works out which paths select, and which continue below, the
// member named by key of an object at depth d.
func (w *walker) member(d int, key nameRef) (match int, alive bool) {
	src, dst := w.level(d), w.level(d+1)
	match = -1
	var name []byte
	decoded := false
	for wi, set := range src {
		var next uint64
		for set != 0 {
			b := bits.TrailingZeros64(set)
			set &= set - 1
			pi := wi*64 + b
			segs := w.paths[pi].segs
			switch s := &segs[d]; s.kind {
			case segName:
				if !decoded {
					name, decoded = w.keyBytes(key), true
				}
				if string(name) != s.name {
					continue
				}
			case segAnyMember:
			default:
				continue
			}
			if len(segs) == d+1 {
				if match < 0 {
					match = pi
				}
			} else {
				next |= 1 << b
			}
		}
		dst[wi] = next
		alive = alive || next != 0
	}
	return match, alive
}

// element is member for element i of an array at depth d.
func (w *walker) element(d, i int) (match int, alive bool) {
	src, dst := w.level(d), w.level(d+1)
	match = -1
	for wi, set := range src {
		var next uint64
		for set != 0 {
			b := bits.TrailingZeros64(set)
			set &= set - 1
			pi := wi*64 + b
			segs := w.paths[pi].segs
			switch s := &segs[d]; s.kind {
			case segIndex:
				if s.index != i {
					continue
				}
			case segAnyElem:
			default:
				continue
			}
			if len(segs) == d+1 {
				if match < 0 {
					match = pi
				}
			} else {
				next |= 1 << b
			}
		}
		dst[wi] = next
		alive = alive || next != 0
	}
	return match, alive
}

// keyBytes returns the decoded member name; it is valid until the next call.
func (w *walker) keyBytes(key nameRef) []byte {
	raw := w.doc[key.start+1 : key.end-1]
	if key.flags == 0 {
		return raw
	}
	w.key = appendUnquote(w.key[:0], raw)
	return w.key
}

// name returns the decoded member name as a string, through a small cache
// so that repeated names cost no allocation.
func (w *walker) name(key nameRef) string {
	if key.end == 0 {
		return ""
	}
	b := w.keyBytes(key)
	h := uint32(2166136261)
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &w.names[h%nameCacheSize]
	if *slot != string(b) {
		*slot = string(b)
	}
	return *slot
}

// skip validates the value at w.pos, at depth d, moves past it and returns
// its kind.
func (w *walker) skip(d int) (Kind, error) {
	if w.pos >= len(w.doc) {
		return 0, w.unexpected("looking for beginning of value")
	}
	switch c := w.doc[w.pos]; c {
	case '"':
		next, _, serr := scanString(w.doc, w.pos)
		if serr != nil {
			return 0, serr
		}
		w.pos = next
		return String, nil
	case '{':
		return Object, w.skipObject(d)
	case '[':
		return Array, w.skipArray(d)
	case 't':
		return True, w.literal("true")
	case 'f':
		return False, w.literal("false")
	case 'n':
		return Null, w.literal("null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return Number, w.number()
		}
		return 0, w.unexpected("looking for beginning of value")
	}
}

func (w *walker) skipObject(d int) error {
	if d >= MaxDepth {
		return w.tooDeep()
	}
	w.pos++
	w.skipWS()
	if w.pos < len(w.doc) && w.doc[w.pos] == '}' {
		w.pos++
		return nil
	}
	for {
		if w.pos >= len(w.doc) || w.doc[w.pos] != '"' {
			return w.unexpected("looking for object member name")
		}
		next, _, serr := scanString(w.doc, w.pos)
		if serr != nil {
			return serr
		}
		w.pos = next
		w.skipWS()
		if w.pos >= len(w.doc) || w.doc[w.pos] != ':' {
			return w.unexpected("after object member name")
		}
		w.pos++
		w.skipWS()
		if _, err := w.skip(d + 1); err != nil {
			return err
		}
		w.skipWS()
		if w.pos < len(w.doc) {
			switch w.doc[w.pos] {
			case ',':
				w.pos++
				w.skipWS()
				continue
			case '}':
				w.pos++
				return nil
			}
		}
		return w.unexpected("after object member value")
	}
}

func (w *walker) skipArray(d int) error {
	if d >= MaxDepth {
		return w.tooDeep()
	}
	w.pos++
	w.skipWS()
	if w.pos < len(w.doc) && w.doc[w.pos] == ']' {
		w.pos++
		return nil
	}
	for {
		if _, err := w.skip(d + 1); err != nil {
			return err
		}
		w.skipWS()
		if w.pos < len(w.doc) {
			switch w.doc[w.pos] {
			case ',':
				w.pos++
				w.skipWS()
				continue
			case ']':
				w.pos++
				return nil
			}
		}
		return w.unexpected("after array element")
	}
}

func (w *walker) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if w.pos >= len(w.doc) || w.doc[w.pos] != lit[i] {
			return w.unexpected("in literal " + lit)
		}
		w.pos++
	}
	return nil
}

func (w *walker) digits() {
	for w.pos < len(w.doc) && w.doc[w.pos] >= '0' && w.doc[w.pos] <= '9' {
		w.pos++
	}
}

func (w *walker) isDigit() bool {
	return w.pos < len(w.doc) && w.doc[w.pos] >= '0' && w.doc[w.pos] <= '9'
}

func (w *walker) number() error {
	if w.doc[w.pos] == '-' {
		w.pos++
	}
	switch {
	case w.pos < len(w.doc) && w.doc[w.pos] == '0':
		w.pos++
	case w.isDigit():
		w.digits()
	default:
		return w.unexpected("in numeric literal")
	}
	if w.pos < len(w.doc) && w.doc[w.pos] == '.' {
		w.pos++
		if !w.isDigit() {
			return w.unexpected("after decimal point in numeric literal")
		}
		w.digits()
	}
	if w.pos < len(w.doc) && (w.doc[w.pos] == 'e' || w.doc[w.pos] == 'E') {
		w.pos++
		if w.pos < len(w.doc) && (w.doc[w.pos] == '+' || w.doc[w.pos] == '-') {
			w.pos++
		}
		if !w.isDigit() {
			return w.unexpected("in exponent of numeric literal")
		}
		w.digits()
	}
	return nil
}
