package dlp

import "math"

// Secrets: a high-entropy value right after a key-like name.
//
// The value must be 20 to 1024 characters of the base64/base62/hex
// alphabets ([A-Za-z0-9+/=_-]), use at least two of lower case, upper case
// and digits, and have a Shannon entropy (of its own character frequencies)
// of at least 3.5 bits per character, or 3.0 when it is all hex digits.
// Uniformly random 20-character base62 strings average about 4.0 bits (the
// ceiling for 20 characters is log2(20) = 4.32) and random 20-character hex
// about 3.45 (ceiling log2(16) = 4), and both rarely fall below these
// thresholds (TestEntropyThreshold measures it), while placeholders, words
// and repetitive values ("changeme", "REPLACE_ME_WITH_SECRET",
// "Password1234Password1234") fall below them.
const (
	minSecret      = 20
	entropyBase    = 3.5
	entropyHexOnly = 3.0
)

func isSecretChar(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == '_' || c == '-'
}

func isIdent(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// secretTerminator reports whether c may end a secret value.
func secretTerminator(c byte) bool {
	switch c {
	case '"', '\'', ' ', '\t', '\r', '\n', ',', ';', '&', '}', ']', ')', '<', '\\':
		return true
	}
	return false
}

// secretAt looks at the ':' or '=' at i: is it followed by a secret-looking
// value and preceded by a key-like name ("client_secret": "...",
// password=..., X-Api-Key: ..., Authorization: Bearer ...)? It returns the
// value's bounds. The value is checked first since that is cheapest: most
// values are short, numbers or prose.
func secretAt[T input](s *Scanner, b T, i int) (int, int) {
	nx := byteAt(b, i+1)
	if b[i] == ':' && (nx == ':' || nx == '/') {
		return 0, 0
	}
	if b[i] == '=' {
		if nx == '=' {
			return 0, 0
		}
		switch byteAt(b, i-1) {
		case '=', '!', '<', '>':
			return 0, 0
		}
	}
	n := len(b)
	// The name before the operator.
	k := i
	for k > 0 && i-k < 8 && (b[k-1] == ' ' || b[k-1] == '\t') {
		k--
	}
	if q := byteAt(b, k-1); q == '"' || q == '\'' {
		k--
		if byteAt(b, k-1) == '\\' {
			k--
		}
	}
	e := k
	for k > 0 && e-k < 64 && isIdent(b[k-1]) {
		k--
	}
	if b[i] == ':' && ((k >= 3 && b[k-1] == '/' && b[k-2] == '/' && b[k-3] == ':') ||
		(k >= 5 && b[k-1] == '/' && b[k-2] == '\\' && b[k-3] == '/' && b[k-4] == '\\' && b[k-5] == ':')) {
		return userinfoPassword(b, i) // scheme://user:PASSWORD@host, also as JSON writes it (:\/\/)
	}
	if k == e || (k > 0 && isIdent(b[k-1])) {
		return 0, 0
	}
	// The value after it.
	v := i + 1
	for v < n && v-i <= 8 && (b[v] == ' ' || b[v] == '\t') {
		v++
	}
	if byteAt(b, v) == '\\' && byteAt(b, v+1) == '"' {
		v += 2
	} else if q := byteAt(b, v); q == '"' || q == '\'' {
		v++
	}
	quoted := v > 0 && (b[v-1] == '"' || b[v-1] == '\'')
	v = skipScheme(b, v)
	ve := v
	for ve < n && ve-v <= maxSecret && isSecretChar(b[ve]) {
		ve++
	}
	if ve-v >= minSecret && ve-v <= maxSecret && (ve >= n || secretTerminator(b[ve])) &&
		keyLikeT(b[k:e]) && secretValue(b[v:ve]) {
		// A value a specific detector recognises is reported as that
		// kind when the scan reaches it.
		if kk, _ := tokenAtT(s, b, v); kk >= 0 {
			return 0, 0
		}
		return v, ve
	}
	// Whatever follows a password's name is a password, weak or not.
	if passwordNameT(b[k:e]) && keyLikeT(b[k:e]) {
		if pe := passwordEnd(b, v, quoted); pe > 0 {
			return v, pe
		}
	}
	return 0, 0
}

func skipScheme[T input](b T, v int) int {
	switch {
	case hasAtFold(b, v, "bearer "):
		return v + 7
	case hasAtFold(b, v, "basic "), hasAtFold(b, v, "token "):
		return v + 6
	}
	return v
}

// namedSecret checks a whole value given with a key-like name (FindNamed);
// with a password's name, any plausible password counts.
func namedSecret[T input](s *Scanner, b T, passwordName bool) (Finding, bool) {
	v, ve := 0, len(b)
	for v < ve && (b[v] == ' ' || b[v] == '\t') {
		v++
	}
	for ve > v && (b[ve-1] == ' ' || b[ve-1] == '\t' || b[ve-1] == '\n' || b[ve-1] == '\r') {
		ve--
	}
	v = skipScheme(b, v)
	high := ve-v >= minSecret && ve-v <= maxSecret
	for p := v; high && p < ve; p++ {
		if !isSecretChar(b[p]) {
			high = false
		}
	}
	if !high || !secretValue(b[v:ve]) {
		if passwordName && plausiblePassword(b[v:ve]) {
			return Finding{Kind: Secret, Start: v, End: ve}, true
		}
		return Finding{}, false
	}
	if kk, _ := tokenAtT(s, b, v); kk >= 0 {
		return Finding{}, false
	}
	return Finding{Kind: Secret, Start: v, End: ve}, true
}

// secretValue applies the character-class and entropy tests.
func secretValue[T input](v T) bool {
	var cnt [256]uint16
	var lowerC, upperC, digitC, hexOnly = false, false, false, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		cnt[c]++
		switch {
		case isLower(c):
			lowerC = true
		case isUpper(c):
			upperC = true
		case isDigit(c):
			digitC = true
		}
		if !isHex(c) {
			hexOnly = false
		}
	}
	classes := 0
	for _, ok := range [3]bool{lowerC, upperC, digitC} {
		if ok {
			classes++
		}
	}
	if classes < 2 {
		return false
	}
	threshold := entropyBase
	if hexOnly {
		threshold = entropyHexOnly
	}
	return entropy(&cnt, len(v)) >= threshold
}

// entropy is the Shannon entropy in bits per character of the counts.
func entropy(cnt *[256]uint16, n int) float64 {
	h := 0.0
	fn := float64(n)
	for _, c := range cnt {
		if c != 0 {
			p := float64(c) / fn
			h -= p * math.Log2(p)
		}
	}
	return h
}

// keyWords make a name key-like; a name is lower-cased and stripped of
// '-', '_', '.' and spaces first, so "X-Api-Key", "api_key" and "apiKey"
// all read "xapikey".
var keyWords = []string{"secret", "password", "passwd", "passphrase", "pwd", "token", "apikey", "accesskey",
	"privatekey", "credential", "auth", "signingkey", "encryptionkey", "masterkey", "sessionkey"}

// nonKeyWords make a key-like name harmless: it names something about the
// secret, or a value that is random but not secret.
var nonKeyWords = []string{"page", "next", "continuation", "cursor", "tokenizer", "author", "nonce", "csrfparam"}

// nonKeySuffixes likewise, at the end of the name.
var nonKeySuffixes = []string{"id", "ids", "type", "hash", "hashed", "url", "uri", "count", "length", "len",
	"expiry", "expires", "expiresin", "expiresat", "hint", "name", "endpoint", "policy", "enabled",
	"required", "version", "format", "algorithm", "alg", "header", "path", "file", "label", "prefix", "method",
	"changedat", "updatedat", "createdat", "setat", "date", "time", "timestamp", "strength", "reset", "rules",
	"changed", "updated", "lastset", "expiration", "status", "state", "mode", "scheme", "complexity"}

// keyLike reports whether name (a JSON member, header, form field or
// variable name) names a secret.
func keyLike(name string) bool { return keyLikeT(name) }

func keyLikeT[T input](name T) bool {
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	var buf [64]byte
	n := 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		default:
			buf[n] = lower(c)
			n++
		}
	}
	norm := buf[:n]
	found := false
	for _, w := range keyWords {
		if contains(norm, w) {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	for _, w := range nonKeyWords {
		if contains(norm, w) && !(w == "author" && contains(norm, "authoriz")) {
			return false
		}
	}
	for _, w := range nonKeySuffixes {
		if len(norm) >= len(w) && string(norm[len(norm)-len(w):]) == w {
			return false
		}
	}
	return true
}

// ssnName reports whether a name speaks of a social security number.
func ssnName(name string) bool {
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	var buf [64]byte
	n := 0
	for i := 0; i < len(name); i++ {
		if c := name[i]; isAlnum(c) {
			buf[n] = lower(c)
			n++
		}
	}
	norm := buf[:n]
	return contains(norm, "ssn") || contains(norm, "socialsecurity")
}

func contains(b []byte, w string) bool {
	for i := 0; i+len(w) <= len(b); i++ {
		if string(b[i:i+len(w)]) == w {
			return true
		}
	}
	return false
}

// NameSensitive reports whether FindNamed may find more in a value with
// this name than Find does: the name is key-like (see Secret) or speaks of
// an SSN. A caller that scans structured data (JSON members, headers) with
// Find first must still run FindNamed on the values of such names.
func (s *Scanner) NameSensitive(name string) bool {
	return (s.on[kSecret] && keyLike(name)) || (s.on[kSSN] && ssnName(name))
}

// Passwords: after a name that says password (password, passwd,
// passphrase, pwd, and not password_hint and the like: see keyLike), the
// value is a secret whatever its entropy, "hunter2" and "Summer2024!"
// included, unless it is a placeholder.
const (
	minPassword = 6
	maxPassword = 128
)

var passwordWords = []string{"password", "passwd", "passphrase", "pwd"}

// passwordNameT reports whether a key-like name names a password.
func passwordNameT[T input](name T) bool {
	if len(name) > 64 {
		name = name[len(name)-64:]
	}
	p := false // every password word has a p: most names are settled here
	for i := 0; i < len(name) && !p; i++ {
		p = name[i] == 'p' || name[i] == 'P'
	}
	if !p {
		return false
	}
	var buf [64]byte
	n := 0
	for i := 0; i < len(name); i++ {
		if c := name[i]; isAlnum(c) {
			buf[n] = lower(c)
			n++
		}
	}
	for _, w := range passwordWords {
		if contains(buf[:n], w) {
			return true
		}
	}
	return false
}

// passwordEnd returns the end of a plausible password starting at v in
// raw text, or 0: up to the closing quote when quoted, else up to
// whitespace or a separator (& ; , } ]).
func passwordEnd[T input](b T, v int, quoted bool) int {
	e := v
	for e < len(b) && e-v <= maxPassword {
		c := b[e]
		if c == '"' || c == '\'' || c == '\\' || c < ' ' || c == 0x7f {
			break
		}
		if !quoted && (c == ' ' || c >= 0x80 || c == '&' || c == ';' || c == ',' || c == '}' || c == ']' || c == ')' || c == '<') {
			break
		}
		e++
	}
	if !plausiblePassword(b[v:e]) {
		return 0
	}
	return e
}

// plausiblePassword rejects what is not a password: too short or long,
// a placeholder (********, xxxxxx, <password>, ${DB_PASSWORD}, {{ .pw }},
// %s), a word that says there is none, or anything without a letter or
// digit.
func plausiblePassword[T input](v T) bool {
	if len(v) < minPassword || len(v) > maxPassword {
		return false
	}
	if v[0] == '/' || (v[0] == '~' && byteAt(v, 1) == '/') {
		return false // a path: PWD=/home/runner, not a password
	}
	alnum, same := false, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < ' ' || c == 0x7f {
			return false // a control character: not typed as a password
		}
		if isAlnum(c) {
			alnum = true
		}
		if c != v[0] {
			same = false
		}
	}
	if !alnum || same {
		return false
	}
	first, last := v[0], v[len(v)-1]
	if (first == '<' && last == '>') || (first == '$' && byteAt(v, 1) == '{') || (first == '{' && byteAt(v, 1) == '{') || (first == '%' && len(v) <= 3) {
		return false
	}
	var buf [maxPassword]byte
	var seen [256]bool
	distinct := 0
	for i := 0; i < len(v); i++ {
		buf[i] = lower(v[i])
		if !seen[v[i]] {
			seen[v[i]] = true
			distinct++
		}
	}
	low := buf[:len(v)]
	if distinct < 4 || repeats(low) {
		return false // aaaa1111, abcabcabc: a dummy, not a password
	}
	switch string(low) {
	case "redacted", "[redacted]", "hidden", "masked", "secret", "password", "changeme", "example", "placeholder", "notset", "not-set", "undefined":
		return false
	}
	for _, w := range placeholderWords {
		if contains(low, w) {
			return false
		}
	}
	return true
}

// placeholderWords, anywhere in a value, mark one that stands for a
// password in docs and templates ("your-password-here", "REPLACE_ME",
// "dummy-pass"); a whole value of "password" or "changeme" is one too.
var placeholderWords = []string{"replace", "your-", "your_", "your ", "yourpass", "yoursecret", "yourkey", "yourtoken",
	"goeshere", "goes-here", "dummy", "xxxx", "****", "redacted", "placeholder"}

// repeats reports whether b is a shorter unit repeated (abcabc).
func repeats(b []byte) bool {
	for p := 1; p <= len(b)/2; p++ {
		if len(b)%p != 0 {
			continue
		}
		same := true
		for i := p; i < len(b) && same; i++ {
			same = b[i] == b[i-p]
		}
		if same {
			return true
		}
	}
	return false
}

// userinfoPassword finds the password of a URL's userinfo
// (postgres://app:PASSWORD@db, redis://:PASSWORD@cache) when the ':' at i
// separates it from the user: the bounds of the password, or 0, 0.
func userinfoPassword[T input](b T, i int) (int, int) {
	k := i
	for k > 0 && i-k <= 64 && (isIdent(b[k-1]) || b[k-1] == '%') {
		k--
	}
	plain := k >= 3 && b[k-1] == '/' && b[k-2] == '/' && b[k-3] == ':'
	escaped := k >= 5 && b[k-1] == '/' && b[k-2] == '\\' && b[k-3] == '/' && b[k-4] == '\\' && b[k-5] == ':'
	if !plain && !escaped {
		return 0, 0
	}
	e := i + 1
	for e < len(b) && e-i <= maxPassword && b[e] != '@' {
		c := b[e]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '\\' {
			return 0, 0
		}
		e++
	}
	if e >= len(b) || b[e] != '@' || e-i-1 < 3 {
		return 0, 0
	}
	return i + 1, e
}
