package dlp

import "encoding/json"

// Detectors for e-mail addresses, IBANs, JWTs, credentials and keys. Each
// is called at a byte that may start (or, for e-mail, sit in) a value and
// reads a bounded window; each returns the end of the value, or 0.

func isLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isHex(c byte) bool { return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') }

// emailAt finds an address around the '@' at i. The local part may not
// start before minStart (the end of the previous finding).
func emailAt[T input](b T, i, minStart int) (int, int) {
	k := i
	for k > 0 && i-k < 64 && isLocal(b[k-1]) {
		k--
	}
	if k == i || (k > 0 && (isLocal(b[k-1]) || b[k-1] == '@')) {
		return 0, 0
	}
	// See through a JSON or percent escape just before the address:
	// "\u003cbob@x.org", "\nbob@x.org", "%3Cbob@x.org".
	if k > 0 && b[k-1] == '\\' {
		if b[k] == 'u' && i-k > 5 && isHex(b[k+1]) && isHex(b[k+2]) && isHex(b[k+3]) && isHex(b[k+4]) {
			k += 5
		} else if (b[k] == 'n' || b[k] == 't' || b[k] == 'r') && i-k > 1 {
			k++
		}
	}
	if b[k] == '%' && i-k > 3 && isHex(b[k+1]) && isHex(b[k+2]) {
		k += 3
	}
	if k < minStart || b[k] == '.' || b[i-1] == '.' {
		return 0, 0
	}
	for p := k; p < i-1; p++ {
		if b[p] == '.' && b[p+1] == '.' {
			return 0, 0
		}
	}
	// Domain: at least two labels of letters, digits and inner hyphens.
	n := len(b)
	j := i + 1
	labels, tld := 0, 0
	for {
		ls := j
		for j < n && j-i <= 254 && (isAlnum(b[j]) || b[j] == '-') {
			j++
		}
		if j == ls || j-ls > 63 || b[ls] == '-' || b[j-1] == '-' {
			return 0, 0
		}
		labels++
		tld = ls
		if j < n && b[j] == '.' && isAlnum(byteAt(b, j+1)) {
			j++
			continue
		}
		break
	}
	if labels < 2 || j-i > 254 {
		return 0, 0
	}
	if a := byteAt(b, j); a == '@' || a == '_' {
		return 0, 0
	}
	if j-tld < 2 || j-tld > 24 {
		return 0, 0
	}
	for p := tld; p < j; p++ {
		if !isAlpha(b[p]) {
			return 0, 0
		}
	}
	if fileExt(b[tld:j]) {
		return 0, 0
	}
	return k, j
}

// fileExtensions are "TLDs" that are file extensions in practice
// (logo@2x.png, icon@3x.webp, bundle@1.0.min.js).
var fileExtensions = []string{
	"png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic", "heif",
	"js", "mjs", "cjs", "css", "map", "json", "xml", "html", "htm", "txt", "pdf", "gz", "tgz", "tar",
	"zip", "yml", "yaml", "csv", "log", "tsx", "jsx", "woff", "woff2", "ttf", "eot", "otf", "mp4",
	"mp3", "wav", "webm", "mov", "exe", "dll", "bin", "jar", "class", "php", "java", "lock", "toml",
	"ini", "cfg", "conf", "bak", "tmp", "swp", "localhost", "local", "invalid", "internal",
}

func fileExt[T input](t T) bool {
	for _, e := range fileExtensions {
		if len(e) == len(t) && hasAtFold(t, 0, e) {
			return true
		}
	}
	return false
}

// ibanLengths holds the IBAN length per country (SEPA and the other
// countries of the SWIFT registry in common use).
var ibanLengths = func() (t [26 * 26]uint8) {
	const list = "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BR29BY28CH21CR22CY28CZ24DE22DK18DO28EE20EG29ES24" +
		"FI18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20" +
		"LU20LV21MC27MD24ME22MK19MR27MT31MU30NL18NO15PK24PL28PS29PT25QA29RO24RS22SA24SC31SE24SI19SK24" +
		"SM27ST25SV28TL23TN24TR26UA29VA22VG24XK20"
	for i := 0; i+4 <= len(list); i += 4 {
		t[int(list[i]-'A')*26+int(list[i+1]-'A')] = (list[i+2]-'0')*10 + list[i+3] - '0'
	}
	return t
}()

// ibanAt finds an IBAN at i: country code, check digits, BBAN, either
// contiguous or in space-separated groups of four, with the country's
// length and a valid mod-97 check.
func ibanAt[T input](b T, i int) int {
	if isAlnum(byteAt(b, i-1)) || !isUpper(byteAt(b, i+1)) || !digitsAt(b, i+2, 2) {
		return 0
	}
	want := int(ibanLengths[int(b[i]-'A')*26+int(b[i+1]-'A')])
	if want == 0 {
		return 0
	}
	var c [34]byte
	j, cnt := i, 0
	spaced := byteAt(b, i+4) == ' '
	for cnt < want {
		if spaced && cnt > 0 && cnt%4 == 0 {
			if byteAt(b, j) != ' ' {
				return 0
			}
			j++
		}
		x := byteAt(b, j)
		if !isUpper(x) && !isDigit(x) {
			return 0
		}
		c[cnt] = x
		cnt++
		j++
	}
	if a := byteAt(b, j); isAlnum(a) || (spaced && cnt%4 == 0 && a == ' ' && (isUpper(byteAt(b, j+1)) || isDigit(byteAt(b, j+1)))) {
		return 0
	}
	r := 0
	for p := 0; p < want; p++ {
		x := c[(p+4)%want]
		if isDigit(x) {
			r = (r*10 + int(x-'0')) % 97
		} else {
			r = (r*100 + int(x-'A') + 10) % 97
		}
	}
	if r != 1 {
		return 0
	}
	return j
}

// jwtAt finds a JWS (three base64url parts) or JWE (five) whose header
// starts with "eyJ" and decodes to a JSON object with an "alg" member.
func jwtAt[T input](b T, i int) int {
	if !hasAt(b, i, "eyJ") || isB64URL(byteAt(b, i-1)) {
		return 0
	}
	lim := min(len(b), i+maxJWT)
	var ends [6]int
	parts := 0
	j := i
	for {
		for j < lim && isB64URL(b[j]) {
			j++
		}
		if j == lim && lim < len(b) {
			return 0 // longer than any JWT we report
		}
		ends[parts] = j
		parts++
		if parts == 5 || j >= lim || b[j] != '.' {
			break
		}
		j++
	}
	if parts == 4 {
		parts = 3
	}
	if parts < 3 || ends[0]-i > maxJWTHead || (parts == 3 && ends[1] == ends[0]+1) {
		return 0
	}
	end := ends[parts-1]
	if end == ends[parts-2]+1 {
		// An empty signature (alg "none") only when nothing but a
		// delimiter follows: "x.y. Thanks" ends a sentence.
		if a := byteAt(b, end); end < len(b) && a != '"' && a != '\'' {
			return 0
		}
	}
	if byteAt(b, end) == '.' && isB64URL(byteAt(b, end+1)) {
		return 0
	}
	if !jwtHeaderOK(b[i:ends[0]]) {
		return 0
	}
	return end
}

func b64val(c byte) uint32 {
	switch {
	case isUpper(c):
		return uint32(c - 'A')
	case isLower(c):
		return uint32(c-'a') + 26
	case isDigit(c):
		return uint32(c-'0') + 52
	case c == '-':
		return 62
	}
	return 63
}

func jwtHeaderOK[T input](h T) bool {
	if len(h)%4 == 1 {
		return false
	}
	var buf [maxJWTHead * 3 / 4]byte
	n, bits := 0, 0
	var acc uint32
	for i := 0; i < len(h); i++ {
		acc = acc<<6 | b64val(h[i])
		bits += 6
		if bits >= 8 {
			bits -= 8
			buf[n] = byte(acc >> bits & 0xff) // #nosec G115 -- masked to 8 bits
			n++
		}
	}
	d := buf[:n]
	for len(d) > 0 && (d[len(d)-1] == ' ' || d[len(d)-1] == '\n' || d[len(d)-1] == '\r' || d[len(d)-1] == '\t') {
		d = d[:len(d)-1]
	}
	if len(d) < 2 || d[0] != '{' || d[len(d)-1] != '}' || !json.Valid(d) {
		return false
	}
	for p := 1; p+5 <= len(d); p++ {
		if d[p] == '"' && d[p+1] == 'a' && d[p+2] == 'l' && d[p+3] == 'g' && d[p+4] == '"' {
			q := p + 5
			for q < len(d) && (d[q] == ' ' || d[q] == '\t' || d[q] == '\n' || d[q] == '\r') {
				q++
			}
			if q < len(d) && d[q] == ':' {
				return true
			}
		}
	}
	return false
}

// awsAt finds an AWS access key id.
func awsAt[T input](b T, i int) int {
	if !(hasAt(b, i, "AKIA") || hasAt(b, i, "ASIA") || hasAt(b, i, "ABIA") || hasAt(b, i, "ACCA")) || isWord(byteAt(b, i-1)) {
		return 0
	}
	for j := i + 4; j < i+20; j++ {
		c := byteAt(b, j)
		if !isUpper(c) && (c < '2' || c > '7') {
			return 0
		}
	}
	if isWord(byteAt(b, i+20)) {
		return 0
	}
	return i + 20
}

// gcpAt finds a Google API key.
func gcpAt[T input](b T, i int) int {
	if !hasAt(b, i, "AIza") || isB64URL(byteAt(b, i-1)) || len(b)-i < 39 {
		return 0
	}
	for j := i + 4; j < i+39; j++ {
		if !isB64URL(b[j]) {
			return 0
		}
	}
	if isB64URL(byteAt(b, i+39)) {
		return 0
	}
	return i + 39
}

// slackAt finds a Slack token (xoxb-, xoxp-, xoxa-, xoxo-, xoxs-, xoxr-)
// or an incoming-webhook URL.
func slackAt[T input](b T, i int) int {
	prev := byteAt(b, i-1)
	if b[i] == 'x' {
		if !hasAt(b, i, "xox") || !isB64URL(byteAt(b, i+3)) || byteAt(b, i+4) != '-' || isB64URL(prev) {
			return 0
		}
		switch b[i+3] {
		case 'a', 'b', 'p', 'o', 's', 'r':
		default:
			return 0
		}
		j, digits := i+5, 0
		for j < len(b) && j-i < 256 && (isAlnum(b[j]) || b[j] == '-') {
			if isDigit(b[j]) {
				digits++
			}
			j++
		}
		for b[j-1] == '-' {
			j--
		}
		if j-i < 15 || digits == 0 || isWord(byteAt(b, j)) || (j-i == 256 && isAlnum(byteAt(b, j))) {
			return 0
		}
		return j
	}
	var j int
	switch {
	case hasAt(b, i, "https://hooks.slack.com/services/"):
		j = i + 33
	case hasAt(b, i, "hooks.slack.com/services/") && !isAlnum(prev) && prev != '.' && prev != '/':
		j = i + 25
	default:
		return 0
	}
	for _, part := range [3]byte{'T', 'B', 0} {
		s := j
		if part != 0 && byteAt(b, j) != part {
			return 0
		}
		for j < len(b) && j-s < 48 && (isUpper(b[j]) || isDigit(b[j]) || (part == 0 && isLower(b[j]))) {
			j++
		}
		if j-s < 8 {
			return 0
		}
		if part != 0 {
			if byteAt(b, j) != '/' {
				return 0
			}
			j++
		}
	}
	if isAlnum(byteAt(b, j)) {
		return 0
	}
	return j
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// githubAt finds a GitHub token: ghp_/gho_/ghu_/ghs_/ghr_ with 30 random
// base62 characters and a 6-character base62 CRC32 of them, or a
// fine-grained github_pat_ token (22 + '_' + 59 characters).
func githubAt[T input](b T, i int) int {
	if isWord(byteAt(b, i-1)) {
		return 0
	}
	if hasAt(b, i, "github_pat_") {
		for j := i + 11; j < i+11+82; j++ {
			c := byteAt(b, j)
			if j == i+11+22 {
				if c != '_' {
					return 0
				}
			} else if !isAlnum(c) {
				return 0
			}
		}
		if isWord(byteAt(b, i+93)) {
			return 0
		}
		return i + 93
	}
	if byteAt(b, i+1) != 'h' || byteAt(b, i+3) != '_' {
		return 0
	}
	switch byteAt(b, i+2) {
	case 'p', 'o', 'u', 's', 'r':
	default:
		return 0
	}
	if len(b)-i < 40 || isWord(byteAt(b, i+40)) {
		return 0
	}
	for j := i + 4; j < i+40; j++ {
		if !isAlnum(b[j]) {
			return 0
		}
	}
	crc := crc32IEEE(b[i+4 : i+34])
	for j := i + 39; j >= i+34; j-- {
		if b[j] != base62[crc%62] {
			return 0
		}
		crc /= 62
	}
	return i + 40
}

// githubChecksum returns the base62 CRC32 checksum of the random part of a
// GitHub token, as its last six characters.
func githubChecksum(random []byte) string {
	crc := crc32IEEE(random)
	var out [6]byte
	for j := 5; j >= 0; j-- {
		out[j] = base62[crc%62]
		crc /= 62
	}
	return string(out[:])
}

// crc32IEEE is the IEEE CRC-32 of p, bitwise (p is 30 bytes).
func crc32IEEE[T input](p T) uint32 {
	crc := ^uint32(0)
	for i := 0; i < len(p); i++ {
		crc ^= uint32(p[i])
		for k := 0; k < 8; k++ {
			crc = crc>>1 ^ (0xEDB88320 & -(crc & 1))
		}
	}
	return ^crc
}

func pemBody(c byte) bool {
	return isAlnum(c) || c == '+' || c == '/' || c == '=' || c == ':' || c == ',' || c == '-' ||
		c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\\'
}

// pemAt finds a PEM private key block, "-----BEGIN <label>PRIVATE KEY-----"
// through the matching END line, at most maxPEM bytes, with real or
// JSON-escaped newlines.
func pemAt[T input](b T, i int) int {
	if !hasAt(b, i, "-----BEGIN ") {
		return 0
	}
	ls := i + 11
	j := ls
	for j < len(b) && j-ls < 48 && (isUpper(b[j]) || b[j] == ' ') {
		j++
	}
	le := j
	if le-ls < 11 || !hasAt(b, le-11, "PRIVATE KEY") || !hasAt(b, le, "-----") {
		return 0
	}
	j += 5
	lim := min(len(b), i+maxPEM)
	for j < lim && !(b[j] == '-' && hasAt(b, j, "-----")) {
		if !pemBody(b[j]) {
			return 0
		}
		j++
	}
	if !hasAt(b, j, "-----END ") {
		return 0
	}
	j += 9
	for p := ls; p < le; p++ {
		if byteAt(b, j) != b[p] {
			return 0
		}
		j++
	}
	if !hasAt(b, j, "-----") || j+5-i > maxPEM {
		return 0
	}
	return j + 5
}
