// Package pathnorm turns a request path as received into the one canonical
// path that routing, every security stage and the upstream all see.
//
// It owns the defence against path-confusion bypasses, where the gateway
// and the upstream disagree about which resource a path names: percent-
// encoded letters (/%61dmin), dot segments (/api/../admin, /admin/.),
// duplicate slashes (//admin), trailing slashes, encoded separators
// (/admin%2fstats, backslashes), double encoding (%2561), matrix parameters
// (/admin;x=1, which Tomcat and Spring strip), NUL and control bytes, and
// invalid or overlong UTF-8 (%C0%AF, CVE-2000-0884 style). Unreserved
// escapes are decoded, dot and empty segments resolved, and whatever could
// still be read two ways is refused rather than guessed at.
//
// It does not fold case: routes match case-sensitively, so /API/admin
// simply matches no admin route.
package pathnorm

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// MaxLength bounds the raw path.
const MaxLength = 8 << 10

// Reasons a path is refused. Each is stable and safe to show a client.
var (
	ErrNotAbsolute    = errors.New("path must start with /")
	ErrTooLong        = errors.New("path too long")
	ErrBadEscape      = errors.New("malformed percent-encoding")
	ErrEncodedSlash   = errors.New("encoded slash or backslash in path")
	ErrBackslash      = errors.New("backslash in path")
	ErrControl        = errors.New("control character in path")
	ErrDoubleEncoding = errors.New("percent sign in decoded path (double encoding)")
	ErrSemicolon      = errors.New("matrix parameters (;) in path")
	ErrInvalidUTF8    = errors.New("invalid UTF-8 in path")
	ErrTraversal      = errors.New("path climbs above the root")
)

// Normalize returns the canonical form of raw, the path as the client sent
// it (still percent-encoded, without the query). The result is decoded,
// starts with /, has no empty, "." or ".." segments and no trailing slash
// (except for "/" itself). It is safe for concurrent use and allocates only
// when raw is not already canonical.
func Normalize(raw string) (string, error) {
	if len(raw) == 0 || raw[0] != '/' {
		return "", ErrNotAbsolute
	}
	if len(raw) > MaxLength {
		return "", ErrTooLong
	}
	if canonical(raw) {
		return raw, nil
	}
	dec := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !ishex(raw[i+1]) || !ishex(raw[i+2]) {
				return "", ErrBadEscape
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
			switch {
			case c == '/' || c == '\\':
				return "", ErrEncodedSlash
			case c == '%':
				return "", ErrDoubleEncoding
			}
		} else if c == '\\' {
			return "", ErrBackslash
		}
		switch {
		case c < 0x20 || c == 0x7f:
			return "", ErrControl
		case c == ';':
			return "", ErrSemicolon
		}
		dec = append(dec, c)
	}
	if !utf8.Valid(dec) {
		return "", ErrInvalidUTF8
	}
	return resolve(string(dec))
}

// canonical reports whether raw needs no work: printable ASCII without
// escapes, separators to fix, dot segments or a trailing slash.
func canonical(raw string) bool {
	prev := byte(0)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c <= 0x20 || c >= 0x7f, c == '%', c == '\\', c == ';':
			return false
		case c == '/' && prev == '/':
			return false
		case c == '.' && prev == '/':
			return false
		}
		prev = c
	}
	return len(raw) == 1 || prev != '/'
}

// resolve removes empty, "." and ".." segments from a decoded path.
func resolve(p string) (string, error) {
	segs := make([]string, 0, strings.Count(p, "/"))
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch seg {
		case "", ".":
		case "..":
			if len(segs) == 0 {
				return "", ErrTraversal
			}
			segs = segs[:len(segs)-1]
		default:
			segs = append(segs, seg)
		}
	}
	return "/" + strings.Join(segs, "/"), nil
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// Query returns raw, a query string as received, with every byte that RFC
// 3986 does not allow in a query (spaces, quotes, <>\\^`{|}, brackets,
// control bytes, non-ASCII) and every % that does not start a valid escape
// percent-encoded. Valid escapes are kept as they are: the query's meaning
// belongs to the upstream. It allocates only when raw needs encoding.
func Query(raw string) string {
	n := 0
	for i := 0; i < len(raw); i++ {
		if !queryByte(raw, i) {
			n++
		}
	}
	if n == 0 {
		return raw
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(raw)+2*n)
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; queryByte(raw, i) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&0xf])
		}
	}
	return string(b)
}

// queryByte reports whether raw[i] may stand in a query as it is.
func queryByte(raw string, i int) bool {
	c := raw[i]
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '%':
		return i+2 < len(raw) && ishex(raw[i+1]) && ishex(raw[i+2])
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?", c) >= 0
}
