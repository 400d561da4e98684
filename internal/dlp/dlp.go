// Package dlp finds sensitive values in text (data-loss prevention) and
// masks them: payment cards, US social security numbers, IBANs, e-mail
// addresses, phone numbers, JWTs, cloud and SaaS credentials (AWS access
// key ids, Google API keys, Slack and GitHub tokens), PEM private keys and
// high-entropy secrets that follow a key-like name.
//
// It owns detection and masking only. Every detector validates what it finds
// (Luhn and issuer ranges for cards, mod-97 for IBANs, the CRC32 checksum of
// GitHub tokens, a JSON header for JWTs, entropy for secrets) so that ids,
// timestamps, hashes and other near-misses in ordinary API traffic are not
// reported. The scan is a single hand-written pass over the bytes with cheap
// per-byte prefilters; every detector reads a bounded window, so the cost is
// linear in the input whatever it contains, and nothing allocates unless
// something is found.
//
// It does not decide what happens to a finding (block, report, count): that
// is the caller's policy. It does not parse JSON or any other format (it
// reads text, although it understands JSON string escapes well enough to see
// through them), and it does not decompress: callers hand it the decoded
// bytes. Stream scans a body in chunks with a bounded tail, and
// NewRedactingHandler masks what is logged through log/slog.
//
// Findings are leftmost-first: scanning left to right, at each position the
// longest or most specific value starting there wins, and the scan resumes
// after it, so findings are sorted and never overlap.
package dlp

import (
	"fmt"
	"strings"
)

// Kind names a detector.
type Kind string

// The detectors. See the package documentation and each detector's notes.
const (
	// Card is a payment card number: 13-19 digits, optionally grouped with
	// single spaces or dashes, Luhn valid, with a known issuer prefix and a
	// length valid for that brand.
	Card Kind = "card"
	// SSN is a US social security number AAA-GG-SSSS (dash or space
	// separated) in the valid ranges; nine bare digits count only after a
	// keyword such as "ssn" or "social security" (or with FindNamed).
	SSN Kind = "ssn"
	// IBAN is an ISO 13616 international bank account number with the
	// length of its country and a valid mod-97 check.
	IBAN Kind = "iban"
	// Email is an e-mail address local@domain.tld; file-name look-alikes
	// such as logo@2x.png and localhost are not reported.
	Email Kind = "email"
	// Phone is an E.164 number (+ and 8-15 digits) or a formatted NANP
	// number with valid area and exchange codes; never a bare digit run.
	Phone Kind = "phone"
	// JWT is a JSON Web Token (or JWE) whose header decodes to a JSON object
	// with an "alg" member.
	JWT Kind = "jwt"
	// AWSKey is an AWS access key id (AKIA, ASIA, ABIA, ACCA).
	AWSKey Kind = "aws_key"
	// GCPKey is a Google API key (AIza...).
	GCPKey Kind = "gcp_key"
	// SlackToken is a Slack token (xoxb-, xoxp-, ...) or incoming-webhook URL.
	SlackToken Kind = "slack_token"
	// GitHubToken is a GitHub token with a valid checksum (ghp_, gho_, ghu_,
	// ghs_, ghr_) or a fine-grained personal access token (github_pat_).
	GitHubToken Kind = "github_token"
	// PrivateKey is a PEM private key block, BEGIN through END, also with
	// JSON-escaped newlines.
	PrivateKey Kind = "private_key"
	// Secret is a high-entropy value that follows a key-like name
	// (client_secret, api_key, X-Api-Key, ...); any plausible password,
	// weak ones included, after a password's name (password, passwd,
	// pwd; placeholders such as ******** or your-password-here are not);
	// and the password of a URL's userinfo (postgres://app:PW@db).
	Secret Kind = "secret"
)

// allKinds is the stable order of Kinds; the index is the kind's bit.
var allKinds = [...]Kind{Card, SSN, IBAN, Email, Phone, JWT, AWSKey, GCPKey, SlackToken, GitHubToken, PrivateKey, Secret}

const (
	kCard = iota
	kSSN
	kIBAN
	kEmail
	kPhone
	kJWT
	kAWS
	kGCP
	kSlack
	kGitHub
	kPEM
	kSecret
	numKinds
)

// Kinds returns every kind, in a stable order.
func Kinds() []Kind { return append([]Kind(nil), allKinds[:]...) }

// Finding is one sensitive value.
type Finding struct {
	Kind Kind
	// Start and End are the byte offsets of the value in the scanned input
	// (for a Stream, in the whole stream): the value is b[Start:End].
	Start, End int
}

// Scanner is a compiled, immutable set of detectors, safe for concurrent use.
type Scanner struct {
	on   [numKinds]bool
	trig [256]bool // bytes at which some enabled detector may start work
}

// New returns a Scanner running the given detectors, or all of them when
// none are given. An unknown kind is an error.
func New(kinds ...Kind) (*Scanner, error) {
	s := &Scanner{}
	if len(kinds) == 0 {
		kinds = allKinds[:]
	}
	for _, k := range kinds {
		idx := kindIndex(k)
		if idx < 0 {
			names := make([]string, len(allKinds))
			for i, a := range allKinds {
				names[i] = string(a)
			}
			return nil, fmt.Errorf("dlp: unknown kind %q (valid: %s)", string(k), strings.Join(names, ", "))
		}
		s.on[idx] = true
	}
	set := func(cs string) {
		for i := 0; i < len(cs); i++ {
			s.trig[cs[i]] = true
		}
	}
	if s.on[kCard] || s.on[kSSN] || s.on[kPhone] {
		set("0123456789")
	}
	if s.on[kPhone] {
		set("+(")
	}
	if s.on[kEmail] {
		set("@")
	}
	if s.on[kJWT] {
		set("e")
	}
	if s.on[kIBAN] {
		set("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
	}
	if s.on[kAWS] || s.on[kGCP] {
		set("A")
	}
	if s.on[kSlack] {
		set("xh")
	}
	if s.on[kGitHub] {
		set("g")
	}
	if s.on[kPEM] {
		set("-")
	}
	if s.on[kSecret] {
		set(":=")
	}
	return s, nil
}

// MustNew is New for kinds known to be valid; it panics on an unknown kind.
func MustNew(kinds ...Kind) *Scanner {
	s, err := New(kinds...)
	if err != nil {
		panic(err)
	}
	return s
}

func kindIndex(k Kind) int {
	for i, a := range allKinds {
		if a == k {
			return i
		}
	}
	return -1
}

// Find returns the sensitive values in b, sorted by Start and not
// overlapping. It returns nil, without allocating, when there are none.
func (s *Scanner) Find(b []byte) []Finding {
	var st state
	scan(s, b, &st, 0, len(b))
	return st.out
}

// FindString is Find for a string, without copying it.
func (s *Scanner) FindString(b string) []Finding {
	var st state
	scan(s, b, &st, 0, len(b))
	return st.out
}

// FindNamed is Find for a value that belongs to a name, such as the JSON
// member name or the header name of the value: when name is key-like (see
// Secret) the whole value, trimmed of spaces and an authorization scheme,
// is reported as a Secret if it passes the entropy test (or, for a
// password's name, is a plausible password), and when name speaks of an
// SSN nine bare digits count as an SSN.
func (s *Scanner) FindNamed(name string, b []byte) []Finding { return findNamed(s, name, b) }

// FindNamedString is FindNamed for a string, without copying it.
func (s *Scanner) FindNamedString(name, b string) []Finding { return findNamed(s, name, b) }

func findNamed[T input](s *Scanner, name string, b T) []Finding {
	var st state
	if s.on[kSSN] && ssnName(name) {
		st.namedSSN = true
	}
	if s.on[kSecret] && keyLike(name) {
		if f, ok := namedSecret(s, b, passwordNameT(name)); ok {
			return append(st.out, f)
		}
	}
	scan(s, b, &st, 0, len(b))
	return st.out
}

// Mask returns b with every finding replaced by its MaskValue, and the
// findings. When nothing is found it returns b itself, not a copy.
func (s *Scanner) Mask(b []byte) ([]byte, []Finding) {
	fs := s.Find(b)
	if len(fs) == 0 {
		return b, nil
	}
	return maskTo(make([]byte, 0, len(b)+16), b, fs), fs
}

// MaskString is Mask for a string; it returns s itself when nothing is found.
func (s *Scanner) MaskString(v string) (string, []Finding) {
	fs := s.FindString(v)
	if len(fs) == 0 {
		return v, nil
	}
	return string(maskTo(make([]byte, 0, len(v)+16), v, fs)), fs
}

func maskTo[T input](dst []byte, b T, fs []Finding) []byte {
	last := 0
	for _, f := range fs {
		dst = append(dst, b[last:f.Start]...)
		dst = appendMask(dst, f.Kind, b[f.Start:f.End])
		last = f.End
	}
	return append(dst, b[last:]...)
}

// MaskValue returns the masked form of a value of kind k:
//
//   - card: the last 4 digits and the separators stay, other digits become
//     '*' ("****-****-****-1111");
//   - ssn: the last 4 digits and the separators stay ("***-**-6789");
//   - iban: the country code and the last 4 characters stay, spaces are
//     kept, everything else becomes '*' ("DE** **** **** **** **30 00");
//   - email: the first character of the local part and the domain stay
//     ("a***@example.com");
//   - phone: the last 2 digits and the formatting stay ("+* (***) ***-**23");
//   - every other kind becomes "[REDACTED:<kind>]".
//
// The result never holds a character that would need escaping in a JSON
// string, whatever value is given.
func MaskValue(k Kind, value []byte) []byte {
	return appendMask(nil, k, value)
}

func appendMask[T input](dst []byte, k Kind, v T) []byte {
	switch k {
	case Card, SSN:
		return appendKeepLast(dst, v, 4, false)
	case Phone:
		return appendKeepLast(dst, v, 2, false)
	case IBAN:
		if len(v) < 4 {
			return append(dst, "****"...)
		}
		dst = append(dst, safeAlnum(v[0]), safeAlnum(v[1]))
		return appendKeepLast(dst, v[2:], 4, true)
	case Email:
		at := -1
		for i := len(v) - 1; i >= 0; i-- {
			if v[i] == '@' {
				at = i
				break
			}
		}
		if at <= 0 {
			return append(dst, "***"...)
		}
		dst = append(dst, safeMaskByte(v[0]))
		dst = append(dst, "***@"...)
		for i := at + 1; i < len(v); i++ {
			dst = append(dst, safeMaskByte(v[i]))
		}
		return dst
	}
	if kindIndex(k) < 0 {
		return append(dst, "[REDACTED]"...)
	}
	dst = append(dst, "[REDACTED:"...)
	dst = append(dst, k...)
	return append(dst, ']')
}

// appendKeepLast keeps the last n digits (or alphanumerics when alnum) of v
// and the formatting characters, and writes '*' for the rest.
func appendKeepLast[T input](dst []byte, v T, n int, alnum bool) []byte {
	keepFrom := len(v)
	for i, seen := len(v)-1, 0; i >= 0 && seen < n; i-- {
		if isDigit(v[i]) || (alnum && isAlnum(v[i])) {
			seen++
			keepFrom = i
		}
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case isAlnum(c):
			if i < keepFrom {
				c = '*'
			}
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '+':
		default:
			c = '*'
		}
		dst = append(dst, c)
	}
	return dst
}

func safeAlnum(c byte) byte {
	if isAlnum(c) {
		return c
	}
	return '*'
}

// safeMaskByte passes the characters of addresses and masks anything that
// could need escaping.
func safeMaskByte(c byte) byte {
	if isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '+' || c == '%' {
		return c
	}
	return '*'
}
