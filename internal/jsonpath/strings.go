package jsonpath

import (
	"unicode/utf16"
	"unicode/utf8"
)

// String scan flags.
const (
	strEscape = 1 << iota // has a backslash escape
	strHigh               // has a byte >= 0x80
)

// plain[c] is true for bytes that need no attention inside a string.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString validates the string token starting at b[i] (a quote) and
// returns the offset just after it and what it contains. Like encoding/json,
// bytes that are not valid UTF-8 are accepted.
func scanString(b []byte, i int) (next int, flags uint8, err *SyntaxError) {
	i++
	for {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, 0, syntaxErr(len(b), "unexpected end of input in string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, flags, nil
		case c == '\\':
			flags |= strEscape
			if i+1 >= len(b) {
				return 0, 0, syntaxErr(len(b), "unexpected end of input in string escape")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for k := i + 2; k < i+6; k++ {
					if k >= len(b) {
						return 0, 0, syntaxErr(len(b), "unexpected end of input in string escape")
					}
					if !isHex(b[k]) {
						return 0, 0, syntaxErr(k, "invalid character "+quoteByte(b[k])+" in \\u escape")
					}
				}
				i += 6
			default:
				return 0, 0, syntaxErr(i+1, "invalid escape "+quoteByte(b[i+1])+" in string")
			}
		case c < 0x20:
			return 0, 0, syntaxErr(i, "invalid control character "+quoteByte(c)+" in string")
		default: // >= 0x80
			flags |= strHigh
			i++
		}
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	default:
		return rune(c - 'A' + 10)
	}
}

// getu4 decodes \uXXXX at s[0:6], or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		if !isHex(c) {
			return -1
		}
		r = r<<4 | unhex(c)
	}
	return r
}

// appendUnquote appends the decoded contents of a validated string token's
// body (without quotes) to dst, with the same results as encoding/json:
// invalid UTF-8 bytes and unpaired surrogates become U+FFFD.
func appendUnquote(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			switch e := s[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := getu4(s[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if dec := utf16.DecodeRune(r, getu4(s[i:])); dec != utf8.RuneError {
						i += 6
						dst = utf8.AppendRune(dst, dec)
						continue
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // " \ /
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] < utf8.RuneSelf && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// DecodeString returns the Go string of raw, which must be exactly one JSON
// string token including its quotes (no surrounding whitespace). Invalid
// UTF-8 and unpaired surrogate escapes become U+FFFD, as with
// json.Unmarshal. A token with no escapes and valid UTF-8 costs one copy.
// Errors are *SyntaxError with offsets into raw.
func DecodeString(raw []byte) (string, error) {
	if len(raw) == 0 {
		return "", syntaxErr(0, "unexpected end of input looking for string")
	}
	if raw[0] != '"' {
		return "", syntaxErr(0, "invalid character "+quoteByte(raw[0])+" looking for string")
	}
	end, flags, serr := scanString(raw, 0)
	if serr != nil {
		return "", serr
	}
	if end != len(raw) {
		return "", syntaxErr(end, "invalid character "+quoteByte(raw[end])+" after string")
	}
	body := raw[1 : end-1]
	if flags == 0 || flags == strHigh && utf8.Valid(body) {
		return string(body), nil
	}
	return string(appendUnquote(make([]byte, 0, len(body)), body)), nil
}

// AppendString appends s to dst as a JSON string token: quoted, with ", \
// and control characters escaped (\n, \r, \t, \b, \f, otherwise \u00XX).
// Invalid UTF-8 bytes are written as \ufffd so the output is always valid
// UTF-8. It does not escape <, >, & or U+2028/U+2029.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
