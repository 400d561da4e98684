package dlp

// input is what the scanner reads: bytes or a string, never copied.
type input interface{ ~string | ~[]byte }

// Bounds of what a detector may read around the position it starts at.
// Stream relies on them: a decision at position i depends only on the bytes
// in [i-lookBehind, i+lookAhead).
const (
	maxPEM     = 16 << 10 // longest private key block, BEGIN to END
	maxJWT     = 16 << 10 // longest JWT
	maxJWTHead = 4 << 10  // longest JWT header (base64url)
	maxSecret  = 1 << 10  // longest secret value
	lookAhead  = maxPEM + 256
	lookBehind = 128
)

// state is one scan in progress.
type state struct {
	out      []Finding
	lastEnd  int  // end of the last finding: nothing may start before it
	namedSSN bool // FindNamed context makes bare 9 digits an SSN
	base     int  // offset of b[0] in the whole input (Stream)
	count    *[numKinds]int
	keep     int // when > 0, stop appending to out beyond this many (Stream)
}

func (st *state) emit(k int, start, end int) {
	if st.count != nil {
		st.count[k]++
	}
	if st.keep > 0 && len(st.out) >= st.keep {
		st.lastEnd = end
		return
	}
	st.out = append(st.out, Finding{Kind: allKinds[k], Start: st.base + start, End: st.base + end})
	st.lastEnd = end
}

// testHookStep, when set by a test, is called once per detector dispatch
// so that tests can count the work of a scan.
var testHookStep func()

// scan examines the positions from..limit-1 of b and returns the position
// to resume at (>= limit, possibly beyond it when a finding or a run that
// cannot hold a start extends past it).
func scan[T input](s *Scanner, b T, st *state, from, limit int) int {
	i := from
	for i < limit {
		if !s.trig[b[i]] {
			i++
			continue
		}
		if testHookStep != nil {
			testHookStep()
		}
		k, start, end, next := atT(s, b, i, st)
		if k >= 0 {
			st.emit(k, start, end)
			i = end
			continue
		}
		i = next
	}
	return i
}

// atT runs the detectors that may start work at i. It returns the kind
// index (or -1), the finding and, when there is none, where to resume.
func atT[T input](s *Scanner, b T, i int, st *state) (k, start, end, next int) {
	c := b[i]
	switch {
	case isDigit(c):
		if i > 0 && isAlnum(b[i-1]) {
			j := i + 1
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			return -1, 0, 0, j
		}
		return numeric(s, b, i, st)
	case c == '+' || c == '(':
		if e := phoneAt(b, i); s.on[kPhone] && e > 0 {
			return kPhone, i, e, 0
		}
	case c == '@':
		if s.on[kEmail] {
			if es, e := emailAt(b, i, st.lastEnd); e > 0 {
				return kEmail, es, e, 0
			}
		}
	case c == ':' || c == '=':
		if s.on[kSecret] {
			if vs, ve := secretAt(s, b, i); ve > 0 {
				return kSecret, vs, ve, 0
			}
		}
	default:
		if k, e := tokenAtT(s, b, i); k >= 0 {
			return k, i, e, 0
		}
	}
	return -1, 0, 0, i + 1
}

// tokenAtT runs the detectors that start with a letter or '-'.
func tokenAtT[T input](s *Scanner, b T, i int) (int, int) {
	switch b[i] {
	case 'e':
		if s.on[kJWT] {
			if e := jwtAt(b, i); e > 0 {
				return kJWT, e
			}
		}
		return -1, 0
	case 'x', 'h':
		if s.on[kSlack] {
			if e := slackAt(b, i); e > 0 && !placeholderToken(b[i:e]) {
				return kSlack, e
			}
		}
		return -1, 0
	case 'g':
		if s.on[kGitHub] {
			if e := githubAt(b, i); e > 0 {
				return kGitHub, e
			}
		}
		return -1, 0
	case '-':
		if s.on[kPEM] {
			if e := pemAt(b, i); e > 0 {
				return kPEM, e
			}
		}
		return -1, 0
	case 'A':
		if s.on[kAWS] {
			if e := awsAt(b, i); e > 0 && !placeholderToken(b[i:e]) {
				return kAWS, e
			}
		}
		if s.on[kGCP] {
			if e := gcpAt(b, i); e > 0 && !placeholderToken(b[i:e]) {
				return kGCP, e
			}
		}
	}
	if s.on[kIBAN] && b[i] >= 'A' && b[i] <= 'Z' {
		if e := ibanAt(b, i); e > 0 {
			return kIBAN, e
		}
	}
	return -1, 0
}

// Character classes.

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isAlpha(c byte) bool { return isUpper(c) || isLower(c) }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }
func isWord(c byte) bool  { return isAlnum(c) || c == '_' }
func isB64URL(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_'
}
func lower(c byte) byte {
	if isUpper(c) {
		return c + 'a' - 'A'
	}
	return c
}

// hasAt reports whether b holds lit at i.
func hasAt[T input](b T, i int, lit string) bool {
	if i < 0 || len(b)-i < len(lit) {
		return false
	}
	for j := 0; j < len(lit); j++ {
		if b[i+j] != lit[j] {
			return false
		}
	}
	return true
}

// hasAtFold is hasAt ignoring ASCII case; lit must be lower case.
func hasAtFold[T input](b T, i int, lit string) bool {
	if i < 0 || len(b)-i < len(lit) {
		return false
	}
	for j := 0; j < len(lit); j++ {
		if lower(b[i+j]) != lit[j] {
			return false
		}
	}
	return true
}

// byteAt returns b[i], or 0 outside b.
func byteAt[T input](b T, i int) byte {
	if i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

// placeholderToken reports whether a credential-shaped value is a
// documentation placeholder (AKIAXXXXXXXXXXXXXXXX, AIzaXXXX...,
// T00000000/B00000000/XXXX...): at least half of it is X, x, 0 or *.
// Real keys are random; that many of those characters does not happen.
func placeholderToken[T input](t T) bool {
	n := 0
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case 'X', 'x', '0', '*':
			n++
		}
	}
	return 2*n >= len(t)
}
