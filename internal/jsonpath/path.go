package jsonpath

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits on a path's source text and length.
const (
	MaxPathBytes    = 1024 // longest path source Parse accepts
	MaxPathSegments = 32   // most segments (selectors after $) Parse accepts
	maxIndex        = 1<<31 - 1
)

type segKind uint8

const (
	segName      segKind = iota + 1 // .name or ['name']
	segIndex                        // [N]
	segAnyElem                      // [*]
	segAnyMember                    // .*
)

type segment struct {
	kind  segKind
	name  string // segName
	index int    // segIndex
}

// Path is a compiled path, built by Parse or MustParse. The zero Path is the
// root, $. A Path is immutable and safe for concurrent use.
type Path struct {
	segs []segment
}

// ParseError reports a path that does not compile. Offset is the byte offset
// in Path at which the problem was found.
type ParseError struct {
	Path   string
	Offset int
	Msg    string
}

// Error returns a message of the form `jsonpath "$.a[": at offset 4: ...`.
func (e *ParseError) Error() string {
	return fmt.Sprintf("jsonpath %q: at offset %d: %s", e.Path, e.Offset, e.Msg)
}

// MustParse is like Parse but panics if s does not compile. It is meant for
// paths fixed at compile time.
func MustParse(s string) Path {
	p, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Parse compiles s, which must be at most MaxPathBytes long and have at
// most MaxPathSegments segments. See the package documentation for the
// grammar. Errors are *ParseError and say at which byte offset s went wrong.
func Parse(s string) (Path, error) {
	fail := func(off int, format string, args ...any) (Path, error) {
		return Path{}, &ParseError{Path: s, Offset: off, Msg: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxPathBytes {
		return fail(MaxPathBytes, "path longer than %d bytes", MaxPathBytes)
	}
	if len(s) == 0 || s[0] != '$' {
		return fail(0, "expected '$' at the start")
	}
	var segs []segment
	i := 1
	for i < len(s) {
		if len(segs) == MaxPathSegments {
			return fail(i, "more than %d segments", MaxPathSegments)
		}
		var (
			seg       segment
			next, off int
			msg       string
		)
		switch s[i] {
		case '.':
			seg, next, off, msg = parseDot(s, i)
		case '[':
			seg, next, off, msg = parseBracket(s, i)
		default:
			return fail(i, "expected '.' or '['")
		}
		if msg != "" {
			return fail(off, "%s", msg)
		}
		segs = append(segs, seg)
		i = next
	}
	p := Path{segs: segs}
	// Only ' inside "..." grows when written canonically (as \'); keep the
	// canonical form within the limit too so that it always parses back.
	if n := len(p.String()); n > MaxPathBytes {
		return fail(len(s), "canonical form %d bytes, longer than %d", n, MaxPathBytes)
	}
	return p, nil
}

// parseDot parses the segment .name or .* starting at s[i] (the dot). It
// returns the segment and the offset after it, or a message and the offset
// of the problem.
func parseDot(s string, i int) (seg segment, next, off int, msg string) {
	i++
	if i < len(s) && s[i] == '*' {
		return segment{kind: segAnyMember}, i + 1, 0, ""
	}
	if i >= len(s) || !isNameStart(s[i]) {
		return segment{}, 0, i, "expected member name or '*' after '.'"
	}
	j := i + 1
	for j < len(s) && isNameChar(s[j]) {
		j++
	}
	return segment{kind: segName, name: s[i:j]}, j, 0, ""
}

// parseBracket parses the segment [*], ['name'] ("name" too) or [N]
// starting at s[i] (the '['), like parseDot.
func parseBracket(s string, i int) (seg segment, next, off int, msg string) {
	i++
	if i >= len(s) {
		return segment{}, 0, i, "expected quoted name, index or '*' after '['"
	}
	switch c := s[i]; {
	case c == '*':
		seg.kind = segAnyElem
		i++
	case c == '\'' || c == '"':
		var name string
		if name, i, off, msg = parseQuoted(s, i); msg != "" {
			return segment{}, 0, off, msg
		}
		seg = segment{kind: segName, name: name}
	case c >= '0' && c <= '9':
		if seg, i, off, msg = parseIndex(s, i); msg != "" {
			return segment{}, 0, off, msg
		}
	default:
		return segment{}, 0, i, "expected quoted name, index or '*' after '['"
	}
	if i >= len(s) || s[i] != ']' {
		return segment{}, 0, i, "expected ']'"
	}
	return seg, i + 1, 0, ""
}

// parseIndex parses the decimal index starting at s[i] (a digit), like
// parseDot: no leading zero, at most maxIndex.
func parseIndex(s string, i int) (seg segment, next, off int, msg string) {
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if s[i] == '0' && j > i+1 {
		return segment{}, 0, i, "index has a leading zero"
	}
	n, err := strconv.Atoi(s[i:j])
	if err != nil || n > maxIndex {
		return segment{}, 0, i, fmt.Sprintf("index larger than %d", maxIndex)
	}
	return segment{kind: segIndex, index: n}, j, 0, ""
}

// parseQuoted parses the quoted name starting at s[i] (a quote). It returns
// the name and the offset after the closing quote, or a message and the
// offset of the problem.
func parseQuoted(s string, i int) (name string, next, off int, msg string) {
	q := s[i]
	i++
	var b []byte
	start := i
	for {
		if i >= len(s) {
			return "", 0, i, "unterminated quoted name"
		}
		c := s[i]
		switch {
		case c == q:
			if b == nil {
				return s[start:i], i + 1, 0, ""
			}
			return string(append(b, s[start:i]...)), i + 1, 0, ""
		case c < 0x20:
			return "", 0, i, "control character in quoted name"
		case c == '\\':
			b = append(b, s[start:i]...)
			esc := i
			i++
			if i >= len(s) {
				return "", 0, i, "unterminated escape in quoted name"
			}
			switch e := s[i]; e {
			case '\'', '"', '\\', '/':
				b = append(b, e)
				i++
			case 'b':
				b = append(b, '\b')
				i++
			case 'f':
				b = append(b, '\f')
				i++
			case 'n':
				b = append(b, '\n')
				i++
			case 'r':
				b = append(b, '\r')
				i++
			case 't':
				b = append(b, '\t')
				i++
			case 'u':
				r := hex4(s, i+1)
				if r < 0 {
					return "", 0, esc, `invalid \u escape in quoted name`
				}
				i += 5
				if utf16.IsSurrogate(r) {
					var r2 rune = -1
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2 = hex4(s, i+2)
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return "", 0, esc, "lone surrogate in quoted name"
					}
					i += 6
				}
				b = utf8.AppendRune(b, r)
			default:
				return "", 0, esc, fmt.Sprintf("invalid escape %q in quoted name", s[esc:i+1])
			}
			start = i
		case c >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", 0, i, "invalid UTF-8 in quoted name"
			}
			i += size
		default:
			i++
		}
	}
}

// hex4 decodes the four hex digits at s[i:], or returns -1.
func hex4(s string, i int) rune {
	if i+4 > len(s) {
		return -1
	}
	var r rune
	for _, c := range []byte(s[i : i+4]) {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

func isNameStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '-'
}

// isDotName reports whether name can be written as .name.
func isDotName(name string) bool {
	if name == "" || !isNameStart(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if !isNameChar(name[i]) {
			return false
		}
	}
	return true
}

// String returns the canonical form of p: names as .name when the grammar
// allows and as ['...'] otherwise (escaping only ', \ and control
// characters), [N], [*] and .*. Parse(p.String()) equals p.
func (p Path) String() string {
	b := make([]byte, 0, 16)
	b = append(b, '$')
	for _, s := range p.segs {
		switch s.kind {
		case segName:
			if isDotName(s.name) {
				b = append(b, '.')
				b = append(b, s.name...)
				continue
			}
			b = append(b, "['"...)
			b = appendQuotedName(b, s.name)
			b = append(b, "']"...)
		case segIndex:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.index), 10)
			b = append(b, ']')
		case segAnyElem:
			b = append(b, "[*]"...)
		case segAnyMember:
			b = append(b, ".*"...)
		}
	}
	return string(b)
}

func appendQuotedName(b []byte, name string) []byte {
	const hex = "0123456789abcdef"
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '\'' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return b
}

// Equal reports whether p and q select the same values.
func (p Path) Equal(q Path) bool {
	if len(p.segs) != len(q.segs) {
		return false
	}
	for i := range p.segs {
		if p.segs[i] != q.segs[i] {
			return false
		}
	}
	return true
}

// Len returns the number of segments after $.
func (p Path) Len() int { return len(p.segs) }

// Names returns the member names the path selects by name, in order (not
// its wildcards or indexes): ["user", "ssn"] for $.user.ssn.
func (p Path) Names() []string {
	var out []string
	for _, s := range p.segs {
		if s.kind == segName {
			out = append(out, s.name)
		}
	}
	return out
}
