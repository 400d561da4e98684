package dlp

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate testdata/corpus.jsonl")

const corpusPath = "testdata/corpus.jsonl"

type corpusWant struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
}

type corpusLine struct {
	Text string       `json:"text"`
	Want []corpusWant `json:"want"`
	// Decoy names the detector a decoy line (Want empty) is meant to
	// tempt; it only feeds the report.
	Decoy Kind `json:"decoy,omitempty"`
}

// TestCorpus scans every line of the labelled corpus and reports precision
// and recall per detector. Regenerate the corpus with
// go test ./internal/dlp -run TestCorpus -update.
func TestCorpus(t *testing.T) {
	if *update {
		writeCorpus(t)
	}
	f, err := os.Open(corpusPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := MustNew()
	type score struct{ tp, fp, fn, decoys int }
	scores := map[Kind]*score{}
	for _, k := range Kinds() {
		scores[k] = &score{}
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		n++
		var l corpusLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		got := map[corpusWant]int{}
		for _, fd := range s.FindString(l.Text) {
			got[corpusWant{fd.Kind, l.Text[fd.Start:fd.End]}]++
		}
		for _, w := range l.Want {
			if got[w] > 0 {
				got[w]--
				scores[w.Kind].tp++
			} else {
				scores[w.Kind].fn++
				if testing.Verbose() {
					t.Logf("line %d: missed %s %q", n, w.Kind, w.Value)
				}
			}
		}
		if l.Decoy != "" {
			scores[l.Decoy].decoys++
		}
		for w, c := range got {
			if c > 0 {
				scores[w.Kind].fp += c
				t.Logf("line %d: false positive %s %q in %.120q", n, w.Kind, w.Value, l.Text)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lines", n)
	t.Logf("%-13s %5s %6s %4s %4s %9s %7s", "kind", "true", "decoys", "FP", "FN", "precision", "recall")
	for _, k := range Kinds() {
		sc := scores[k]
		p := float64(sc.tp) / float64(max(1, sc.tp+sc.fp))
		r := float64(sc.tp) / float64(max(1, sc.tp+sc.fn))
		t.Logf("%-13s %5d %6d %4d %4d %9.4f %7.4f", k, sc.tp+sc.fn, sc.decoys, sc.fp, sc.fn, p, r)
		if sc.tp+sc.fn < 150 {
			t.Errorf("%s: only %d true values in the corpus", k, sc.tp+sc.fn)
		}
		if p < 0.97 || r < 0.95 {
			t.Errorf("%s: precision %.4f recall %.4f below 0.97/0.95", k, p, r)
		}
	}
}

// Corpus generation. Everything is generated from a fixed seed; values are
// test numbers or random and fake by construction (cards are random digits
// with a Luhn check digit, phone numbers use the fictional 555-01xx range or
// reserved drama ranges, e-mail domains are example.* or test domains,
// credentials are random with the documented formats).

type gen struct {
	r     *rand.Rand
	lines []corpusLine
	// decoys counts decoy lines per kind.
	decoys map[Kind]int
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

func (g *gen) chars(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

const (
	alnum      = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b64url     = alnum + "-_"
	b64std     = alnum + "+/"
	hexLower   = "0123456789abcdef"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

func luhnDigit(body string) byte {
	for c := byte('0'); c <= '9'; c++ {
		if luhn([]byte(body + string(c))) {
			return c
		}
	}
	panic("unreachable")
}

func (g *gen) cardDigits() string {
	type brand struct {
		prefixes []string
		lengths  []int
	}
	brands := []brand{
		{[]string{"4"}, []int{16, 16, 16, 13, 19}},
		{[]string{"51", "52", "53", "54", "55", "2221", "2500", "2720"}, []int{16}},
		{[]string{"34", "37"}, []int{15}},
		{[]string{"6011", "644", "649", "65"}, []int{16, 19}},
		{[]string{"3528", "3589", "3550"}, []int{16}},
		{[]string{"300", "305", "36", "38"}, []int{14, 16}},
		{[]string{"62"}, []int{16, 19}},
		{[]string{"6759", "5018", "6304"}, []int{16, 19}},
	}
	b := brands[g.r.IntN(len(brands))]
	p := b.prefixes[g.r.IntN(len(b.prefixes))]
	l := b.lengths[g.r.IntN(len(b.lengths))]
	body := p + g.digits(l-1-len(p))
	return body + string(luhnDigit(body))
}

func (g *gen) formatCard(d string) string {
	switch g.r.IntN(3) {
	case 0:
		return d
	}
	sep := g.pick(" ", "-")
	if len(d) == 15 {
		return d[:4] + sep + d[4:10] + sep + d[10:]
	}
	var parts []string
	for i := 0; i < len(d); i += 4 {
		parts = append(parts, d[i:min(i+4, len(d))])
	}
	return strings.Join(parts, sep)
}

func (g *gen) ssnParts() (int, int, int) {
	for {
		a, gr, s := 1+g.r.IntN(899), 1+g.r.IntN(99), 1+g.r.IntN(9999)
		if a != 666 && !(a == 78 && gr == 5 && s == 1120) && !(a == 219 && gr == 9 && s == 9999) && !(a == 123 && gr == 45 && s == 6789) {
			return a, gr, s
		}
	}
}

func ibanCheck(cc, bban string) string {
	s := bban + cc + "00"
	r := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			r = (r*10 + int(c-'0')) % 97
		} else {
			r = (r*100 + int(c-'A') + 10) % 97
		}
	}
	return fmt.Sprintf("%02d", 98-r)
}

var ibanCountries = []string{"DE", "FR", "GB", "NL", "ES", "IT", "BE", "AT", "CH", "PL", "SE", "IE", "PT", "FI", "DK", "NO", "LU", "CZ", "GR", "RO"}

func (g *gen) ibanRaw(valid bool) string {
	cc := ibanCountries[g.r.IntN(len(ibanCountries))]
	l := int(ibanLengths[int(cc[0]-'A')*26+int(cc[1]-'A')])
	var bban string
	switch cc {
	case "GB", "NL", "IE":
		bban = g.chars(4, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") + g.digits(l-8)
	default:
		bban = g.digits(l - 4)
	}
	check := ibanCheck(cc, bban)
	if !valid {
		c := (int(check[0]-'0')*10 + int(check[1]-'0') + 1 + g.r.IntN(90)) % 97
		if c < 2 {
			c += 2
		}
		check = fmt.Sprintf("%02d", c)
	}
	return cc + check + bban
}

func (g *gen) formatIBAN(s string) string {
	if g.r.IntN(2) == 0 {
		return s
	}
	var parts []string
	for i := 0; i < len(s); i += 4 {
		parts = append(parts, s[i:min(i+4, len(s))])
	}
	return strings.Join(parts, " ")
}

var firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar", "peggy", "trent", "victor", "walter"}

func (g *gen) email() string {
	local := g.pick(firstNames...)
	switch g.r.IntN(4) {
	case 0:
		local += "." + g.pick("smith", "jones", "doe", "test", "example")
	case 1:
		local += fmt.Sprint(g.r.IntN(1000))
	case 2:
		local += "+" + g.pick("news", "billing", "qa")
	}
	if g.r.IntN(5) == 0 {
		local = strings.ToUpper(local[:1]) + local[1:]
	}
	return local + "@" + g.pick("example.com", "example.org", "example.net", "mail.example.com", "test.example.co.uk", "corp.example.io")
}

func (g *gen) phone() string {
	ex := fmt.Sprintf("01%02d", g.r.IntN(100))
	area := g.pick("212", "415", "312", "617", "206", "303", "512", "702", "808", "907")
	switch g.r.IntN(7) {
	case 0:
		return "+1 (" + area + ") 555-" + ex
	case 1:
		return "+1" + area + "555" + ex
	case 2:
		return "(" + area + ") 555-" + ex
	case 3:
		return area + "-555-" + ex
	case 4:
		return area + ".555." + ex
	case 5:
		return "+44 20 7946 0" + g.digits(3)
	default:
		return "+49 30 " + g.digits(3) + " " + g.digits(5)
	}
}

func b64u(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func (g *gen) jwt() string {
	h := fmt.Sprintf(`{"alg":"%s","typ":"JWT"}`, g.pick("HS256", "RS256", "ES256", "EdDSA"))
	if g.r.IntN(3) == 0 {
		h = fmt.Sprintf(`{"kid":"k%d","alg":"RS256"}`, g.r.IntN(100))
	}
	p := fmt.Sprintf(`{"sub":"user-%d","iat":%d,"scope":"%s"}`, g.r.IntN(100000), 1732700000+g.r.IntN(100000), g.pick("read", "read write", "admin"))
	return b64u(h) + "." + b64u(p) + "." + g.chars(43, b64url)
}

func (g *gen) githubClassic() string {
	random := g.chars(30, alnum)
	return "gh" + g.pick("p", "o", "u", "s", "r") + "_" + random + githubChecksum([]byte(random))
}

func (g *gen) pem(escaped bool) string {
	label := g.pick("RSA ", "EC ", "", "OPENSSH ", "ENCRYPTED ", "DSA ")
	nl := "\n"
	if escaped {
		nl = `\n`
	}
	var b strings.Builder
	b.WriteString("-----BEGIN " + label + "PRIVATE KEY-----" + nl)
	for i := 0; i < 3+g.r.IntN(8); i++ {
		b.WriteString(g.chars(64, b64std) + nl)
	}
	b.WriteString(g.chars(20+g.r.IntN(40), b64std) + "==" + nl)
	b.WriteString("-----END " + label + "PRIVATE KEY-----")
	return b.String()
}

func (g *gen) secretValue() string {
	for {
		var v string
		switch g.r.IntN(5) {
		case 0:
			v = g.chars(32+g.r.IntN(9), hexLower)
		case 1:
			v = "sk_live_" + g.chars(24, alnum)
		case 2:
			v = g.chars(20+g.r.IntN(20), alnum)
		case 3:
			v = base64.StdEncoding.EncodeToString([]byte(g.chars(24+g.r.IntN(8), alnum+"!#$%&*")))
		default:
			v = g.chars(40, b64url)
		}
		if !strings.HasPrefix(v, "eyJ") && !strings.HasPrefix(v, "AKIA") {
			return v
		}
	}
}

var secretNames = []string{"client_secret", "password", "db_password", "api_key", "apiKey", "X-Api-Key", "access_token",
	"refresh_token", "auth_token", "secret", "SECRET_KEY", "private_key", "accessKey", "credentials", "passwd", "pwd", "STRIPE_SECRET"}

var harmlessNames = []string{"id", "request_id", "trace_id", "hash", "etag", "checksum", "nonce", "sha256", "commit", "digest",
	"session_id", "object_key", "signature_alg", "fingerprint", "next_page_token", "cursor", "token_type", "key_id"}

// place puts a value in a random realistic context and returns the text
// and the value as it appears in it (JSON contexts escape it).
func (g *gen) place(name, v string, kinds ...int) (string, string) {
	ctx := kinds[g.r.IntN(len(kinds))]
	id := g.r.IntN(90000) + 100
	ts := 1732700000000 + g.r.Int64N(100000000)
	switch ctx {
	case 0: // JSON body
		enc, _ := json.Marshal(v)
		ev := string(enc[1 : len(enc)-1])
		return fmt.Sprintf(`{"id":%d,"created_at":"2024-11-27T10:%02d:00Z","%s":"%s","status":"active","updated":%d}`, id, g.r.IntN(60), name, ev, ts), ev
	case 1: // log line
		return fmt.Sprintf(`2024-11-27T10:15:%02d.123Z INFO svc=billing request_id=%s %s=%s latency_ms=%d`, g.r.IntN(60), uuid(g), name, v, g.r.IntN(900)), v
	case 2: // prose
		return fmt.Sprintf(g.pick("Hi team, the %s is %s, please update it before 2024-11-27.", "As discussed (ticket #%[3]d), %[1]s on file: %[2]s. Thanks!", "FYI: %s -> %s (v2.10.3 rollout)"), name, v, id), v
	case 3: // query string
		return fmt.Sprintf(`GET /api/v2/items?page=2&%s=%s&ts=%d HTTP/1.1`, name, v, ts), v
	case 4: // CSV
		return fmt.Sprintf(`%d,"%s",2024-11-27,%s,EUR,%d.%02d`, id, g.pick(firstNames...), v, g.r.IntN(1000), g.r.IntN(100)), v
	case 5: // header
		return fmt.Sprintf("%s: %s", name, v), v
	case 6: // YAML
		return fmt.Sprintf("  %s: %s", name, v), v
	default: // env
		return fmt.Sprintf("export %s=%s", name, v), v
	}
}

var allCtx = []int{0, 1, 2, 3, 4, 5, 6, 7}
var keyedCtx = []int{0, 1, 3, 5, 6, 7}

func uuid(g *gen) string {
	h := g.chars(32, hexLower)
	return h[:8] + "-" + h[8:12] + "-4" + h[13:16] + "-a" + h[17:20] + "-" + h[20:]
}

func (g *gen) add(k Kind, name, v string, ctx ...int) {
	if len(ctx) == 0 {
		ctx = allCtx
	}
	text, shown := g.place(name, v, ctx...)
	g.lines = append(g.lines, corpusLine{Text: text, Want: []corpusWant{{k, shown}}})
}

func (g *gen) decoy(k Kind, name, v string, ctx ...int) {
	if len(ctx) == 0 {
		ctx = allCtx
	}
	text, _ := g.place(name, v, ctx...)
	g.lines = append(g.lines, corpusLine{Text: text, Want: []corpusWant{}, Decoy: k})
	g.decoys[k]++
}

func writeCorpus(t *testing.T) {
	g := &gen{r: rand.New(rand.NewPCG(2024, 1127)), decoys: map[Kind]int{}}
	const n = 160
	neutral := func(xs ...string) string { return g.pick(xs...) }
	for i := 0; i < n; i++ {
		// Cards.
		g.add(Card, neutral("card", "pan", "card_number", "cc", "payment"), g.formatCard(g.cardDigits()))
		d := g.cardDigits()
		bad := d[:len(d)-1] + string('0'+(d[len(d)-1]-'0'+1+byte(g.r.IntN(9)))%10)
		switch i % 8 {
		case 0:
			g.decoy(Card, "card", g.formatCard(bad))
		case 1:
			g.decoy(Card, "order_id", g.pick("1", "7", "8", "9")+g.digits(15))
		case 2:
			g.decoy(Card, "ts", fmt.Sprint(1732700000000+g.r.Int64N(1e9)))
		case 3:
			g.decoy(Card, "isbn", "978"+g.digits(10))
		case 4:
			g.decoy(Card, "amount", "0."+d)
		case 5:
			long := d + g.digits(4)
			for luhn([]byte(long)) && cardBrand([]byte(long)) {
				long = d + g.digits(4)
			}
			g.decoy(Card, "ref", long)
		case 6:
			g.decoy(Card, "tracking", "1Z"+strings.ToUpper(g.chars(6, upperAlnum))+d[:10])
		default:
			g.decoy(Card, "invoice", "INV"+d)
		}

		// SSNs.
		a, gr, s := g.ssnParts()
		switch i % 3 {
		case 0:
			g.add(SSN, neutral("ssn", "social", "tax_number"), fmt.Sprintf("%03d-%02d-%04d", a, gr, s))
		case 1:
			g.add(SSN, neutral("member", "holder", "field"), fmt.Sprintf("%03d %02d %04d", a, gr, s))
		default:
			text := fmt.Sprintf(g.pick(`{"name":"%[2]s","ssn":"%[1]s"}`, `SSN: %[1]s`, `applicant social security number %[1]s on file`, `ssn=%[1]s&state=CA`), fmt.Sprintf("%03d%02d%04d", a, gr, s), g.pick(firstNames...))
			g.lines = append(g.lines, corpusLine{Text: text, Want: []corpusWant{{SSN, fmt.Sprintf("%03d%02d%04d", a, gr, s)}}})
		}
		switch i % 8 {
		case 0:
			g.decoy(SSN, "ssn", fmt.Sprintf("%03d-%02d-%04d", g.pick3(0, 666, 900+g.r.IntN(100)), gr, s))
		case 1:
			g.decoy(SSN, "ssn", fmt.Sprintf("%03d-00-%04d", a, s))
		case 2:
			g.decoy(SSN, "ssn", fmt.Sprintf("%03d-%02d-0000", a, gr))
		case 3:
			g.decoy(SSN, "ssn", g.pick("078-05-1120", "219-09-9999", "123-45-6789"))
		case 4:
			g.decoy(SSN, "order", fmt.Sprintf("%03d%02d%04d", a, gr, s))
		case 5:
			g.decoy(SSN, "date", fmt.Sprintf("20%02d-%02d-%02d", g.r.IntN(30), 1+g.r.IntN(12), 1+g.r.IntN(28)))
		case 6:
			g.decoy(SSN, "zip", fmt.Sprintf("%05d-%04d", g.r.IntN(100000), g.r.IntN(10000)))
		default:
			g.decoy(SSN, "part", fmt.Sprintf("%03d-%02d-%04d-%d", a, gr, s, g.r.IntN(10)))
		}

		// IBANs.
		g.add(IBAN, neutral("iban", "account", "payee_iban"), g.formatIBAN(g.ibanRaw(true)))
		switch i % 4 {
		case 0, 1:
			g.decoy(IBAN, "iban", g.formatIBAN(g.ibanRaw(false)))
		case 2:
			v := g.ibanRaw(true)
			g.decoy(IBAN, "iban", v[:len(v)-1])
		default:
			g.decoy(IBAN, "ref", g.pick("XX", "US", "ZZ")+g.digits(2)+g.digits(18))
		}

		// E-mail.
		g.add(Email, neutral("email", "contact", "reply_to", "owner"), g.email())
		switch i % 8 {
		case 0:
			g.decoy(Email, "src", g.pick("logo", "icon", "hero", "avatar")+"@"+g.pick("2x", "3x")+"."+g.pick("png", "webp", "jpg", "svg", "gif"))
		case 1:
			g.decoy(Email, "user", g.pick(firstNames...)+"@localhost")
		case 2:
			g.decoy(Email, "dep", g.pick("lodash", "react", "@types/node", "left-pad")+"@"+fmt.Sprintf("%d.%d.%d", g.r.IntN(20), g.r.IntN(30), g.r.IntN(40)))
		case 3:
			g.decoy(Email, "handle", "@"+g.pick(firstNames...))
		case 4:
			g.decoy(Email, "contact", g.pick(firstNames...)+" at example dot com")
		case 5:
			g.decoy(Email, "host", g.pick(firstNames...)+"@build-"+fmt.Sprint(g.r.IntN(99)))
		case 6:
			g.decoy(Email, "asset", "bundle@"+fmt.Sprint(g.r.IntN(9))+".min.js")
		default:
			g.decoy(Email, "ref", g.pick(firstNames...)+"@@example.com")
		}

		// Phones.
		g.add(Phone, neutral("phone", "tel", "mobile", "contact"), g.phone())
		switch i % 10 {
		case 0:
			g.decoy(Phone, "date", fmt.Sprintf("2024-%02d-%02d", 1+g.r.IntN(12), 1+g.r.IntN(28)))
		case 1:
			g.decoy(Phone, "ip", fmt.Sprintf("%d.%d.%d.%d", 10+g.r.IntN(200), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256)))
		case 2:
			g.decoy(Phone, "version", fmt.Sprintf("v%d.%d.%d", g.r.IntN(10), g.r.IntN(30), g.r.IntN(200)))
		case 3:
			g.decoy(Phone, "number", "415555"+fmt.Sprintf("%04d", g.r.IntN(10000)))
		case 4:
			g.decoy(Phone, "phone", fmt.Sprintf("%d%02d-555-01%02d", g.r.IntN(2), g.r.IntN(100), g.r.IntN(100)))
		case 5:
			g.decoy(Phone, "tz", g.pick("+05:30", "+01:00", "-08:00", "+0000"))
		case 6:
			g.decoy(Phone, "value", fmt.Sprintf("%de+%d", 1+g.r.IntN(9), 10+g.r.IntN(20)))
		case 7:
			g.decoy(Phone, "ext", fmt.Sprintf("+%d", g.r.IntN(10000)))
		case 8:
			g.decoy(Phone, "zip", fmt.Sprintf("%05d-%04d", g.r.IntN(100000), g.r.IntN(10000)))
		default:
			g.decoy(Phone, "serial", fmt.Sprintf("212-555-01%02d-%d", g.r.IntN(100), g.r.IntN(100)))
		}

		// JWTs.
		g.add(JWT, neutral("access_token", "id_token", "jwt", "token", "authorization"), g.jwt())
		switch i % 4 {
		case 0:
			g.decoy(JWT, "blob", "eyJ"+g.chars(30, b64url)+"."+g.chars(40, b64url)+"."+g.chars(43, b64url))
		case 1:
			g.decoy(JWT, "blob", b64u(`{"typ":"JWT","kid":"k1"}`)+"."+b64u(`{"sub":"x"}`)+"."+g.chars(43, b64url))
		case 2:
			g.decoy(JWT, "blob", b64u(`{"alg":"HS256"}`)+"."+b64u(`{"sub":"x"}`))
		default:
			g.decoy(JWT, "image", "data:image/png;base64,iVBORw0KGgo"+g.chars(60, b64std))
		}

		// AWS access key ids.
		g.add(AWSKey, neutral("aws_access_key_id", "AWS_ACCESS_KEY_ID", "key", "AccessKeyId"), g.pick("AKIA", "ASIA", "AKIA", "ABIA", "ACCA")+g.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
		switch i % 4 {
		case 0:
			g.decoy(AWSKey, "key", "AKIA"+g.chars(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
		case 1:
			g.decoy(AWSKey, "key", "AKIA"+g.chars(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
		case 2:
			g.decoy(AWSKey, "key", "AKIA"+g.chars(15, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")+g.pick("0", "1", "8", "9"))
		default:
			g.decoy(AWSKey, "key", "X"+"AKIA"+g.chars(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"))
		}

		// Google API keys.
		g.add(GCPKey, neutral("key", "google_maps_key", "apiKeyRef", "maps"), "AIza"+g.chars(35, b64url))
		switch i % 3 {
		case 0:
			g.decoy(GCPKey, "key", "AIza"+g.chars(34, b64url))
		case 1:
			g.decoy(GCPKey, "key", "AIza"+g.chars(36, alnum))
		default:
			g.decoy(GCPKey, "key", "AIzb"+g.chars(35, b64url))
		}

		// Slack.
		switch i % 3 {
		case 0:
			g.add(SlackToken, neutral("slack", "bot", "SLACK_BOT"), "xoxb-"+g.digits(12)+"-"+g.digits(13)+"-"+g.chars(24, alnum))
		case 1:
			g.add(SlackToken, neutral("slack", "user", "SLACK_USER"), "xoxp-"+g.digits(12)+"-"+g.digits(12)+"-"+g.digits(13)+"-"+g.chars(32, hexLower))
		default:
			g.add(SlackToken, neutral("webhook", "hook", "notify"), "https://hooks.slack.com/services/T"+g.chars(8, upperAlnum)+"/B"+g.chars(10, upperAlnum)+"/"+g.chars(24, alnum))
		}
		switch i % 4 {
		case 0:
			g.decoy(SlackToken, "note", "xoxo-"+g.pick("gossip-girl", "hugs-and-kisses", "see-you-soon-love"))
		case 1:
			g.decoy(SlackToken, "slack", "xoxb-"+g.digits(4))
		case 2:
			g.decoy(SlackToken, "slack", "xoxz-"+g.digits(12)+"-"+g.chars(24, alnum))
		default:
			g.decoy(SlackToken, "url", "https://hooks.slack.com/workflows/T"+g.chars(8, upperAlnum))
		}

		// GitHub.
		if i%4 == 3 {
			g.add(GitHubToken, neutral("github", "GH_TOKEN", "pat"), "github_pat_"+g.chars(22, alnum)+"_"+g.chars(59, alnum))
		} else {
			g.add(GitHubToken, neutral("github", "GITHUB_TOKEN", "gh"), g.githubClassic())
		}
		switch i % 4 {
		case 0, 1:
			tok := g.githubClassic()
			last := tok[len(tok)-1]
			repl := alnum[(strings.IndexByte(alnum, last)+1+g.r.IntN(60))%len(alnum)]
			g.decoy(GitHubToken, "github", tok[:len(tok)-1]+string(repl))
		case 2:
			g.decoy(GitHubToken, "github", "ghp_"+g.chars(35, alnum))
		default:
			g.decoy(GitHubToken, "github", "github_pat_"+g.chars(22, alnum)+"_"+g.chars(50, alnum))
		}

		// Private keys.
		if i%2 == 0 {
			v := g.pem(true)
			g.lines = append(g.lines, corpusLine{Text: fmt.Sprintf(`{"id":%d,"private_key":"%s","type":"service_account"}`, i, v), Want: []corpusWant{{PrivateKey, v}}})
		} else {
			v := g.pem(false)
			g.add(PrivateKey, neutral("key", "pem"), v, 1, 2, 5)
		}
		switch i % 4 {
		case 0:
			g.decoy(PrivateKey, "pem", strings.ReplaceAll(strings.ReplaceAll(g.pem(true), "PRIVATE KEY", "PUBLIC KEY"), "RSA ", ""), 0, 1)
		case 1:
			g.decoy(PrivateKey, "pem", strings.ReplaceAll(g.pem(false), "PRIVATE KEY", "CERTIFICATE"), 1, 2)
		case 2:
			v := g.pem(true)
			g.decoy(PrivateKey, "pem", v[:strings.Index(v, "-----END")], 0, 1)
		default:
			v := g.pem(false)
			g.decoy(PrivateKey, "pem", strings.Replace(v, "-----END ", "-----END X", 1), 1, 2)
		}

		// Secrets.
		g.add(Secret, g.pick(secretNames...), g.secretValue(), keyedCtx...)
		switch i % 4 {
		case 0, 1:
			g.decoy(Secret, g.pick(harmlessNames...), g.secretValue(), keyedCtx...)
		case 2:
			g.decoy(Secret, g.pick(secretNames...), g.pick("changeme", "********************", "REPLACE_ME_WITH_YOUR_SECRET", "${DB_PASSWORD}", "Password1234Password1234",
				"your-api-key-goes-here", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "<redacted>", "null", "aaaaaaaaaa1111111111"), keyedCtx...)
		default:
			g.decoy(Secret, g.pick("commit", "sha", "etag", "checksum"), g.chars(40, hexLower), keyedCtx...)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, l := range g.lines {
		if err := enc.Encode(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(corpusPath), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(corpusPath, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d lines (decoys per kind: %v)", len(g.lines), g.decoys)
}

func (g *gen) pick3(a, b, c int) int {
	return []int{a, b, c}[g.r.IntN(3)]
}
