package dlp

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
)

type tcase struct {
	in   string
	want []string // "kind:value"
}

func findStrs(s *Scanner, in string) []string {
	var out []string
	for _, f := range s.FindString(in) {
		out = append(out, string(f.Kind)+":"+in[f.Start:f.End])
	}
	return out
}

func runCases(t *testing.T, cases []tcase) {
	t.Helper()
	s := MustNew()
	for _, c := range cases {
		got := findStrs(s, c.in)
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("Find(%q)\n got  %q\n want %q", c.in, got, c.want)
		}
		// The []byte path agrees with the string path.
		if fb := s.Find([]byte(c.in)); len(fb) != len(got) {
			t.Errorf("Find and FindString disagree on %q", c.in)
		}
	}
}

func TestCard(t *testing.T) {
	runCases(t, []tcase{
		{"4111111111111111", []string{"card:4111111111111111"}},
		{"card 4111 1111 1111 1111.", []string{"card:4111 1111 1111 1111"}},
		{`{"pan":"5555-5555-5555-4444"}`, []string{"card:5555-5555-5555-4444"}},
		{"amex 3782 822463 10005", []string{"card:3782 822463 10005"}},
		{"378282246310005,12/27", []string{"card:378282246310005"}},
		{"diners 30569309025904", []string{"card:30569309025904"}},
		{"jcb 3530111333300000", []string{"card:3530111333300000"}},
		{"discover 6011111111111117", []string{"card:6011111111111117"}},
		{"mc2 2223003122003222", []string{"card:2223003122003222"}},
		{"unionpay 6200000000000005", []string{"card:6200000000000005"}},
		{"visa13 4222222222222", []string{"card:4222222222222"}},
		{"4111111111111111 123", []string{"card:4111111111111111"}},
		// Decoys.
		{"4111111111111112", nil},          // Luhn
		{"41111111111111110000", nil},      // longer run
		{"id4111111111111111", nil},        // part of a word
		{"4111111111111111abc", nil},       // part of a word
		{"0.4111111111111111", nil},        // a decimal
		{"4111111111111111.5", nil},        // a decimal
		{"ORD-2024-4111111111111111", nil}, // compound id
		{"4111 1111 1111 1111 2222", nil},  // longer grouped run
		{"1732700000000", nil},             // ms timestamp
		{"9780306406157", nil},             // ISBN-13
		{"7992739871300000", nil},          // no brand
		{"4111-1111 1111-1111", nil},       // mixed separators
		{"378282246310005 is amex? 37828224631000", []string{"card:378282246310005"}},
		{"5105105105105100 5105-1051-0510-5100", []string{"card:5105105105105100", "card:5105-1051-0510-5100"}},
	})
}

func TestSSN(t *testing.T) {
	runCases(t, []tcase{
		{"ssn 219-45-6789", []string{"ssn:219-45-6789"}},
		{"id: 536 22 1234 ok", []string{"ssn:536 22 1234"}},
		{"SSN: 536221234", []string{"ssn:536221234"}},
		{`{"social_security":"536221234"}`, []string{"ssn:536221234"}},
		{"536221234", nil},                           // bare without keyword
		{"000-12-3456 666-12-3456 912-12-3456", nil}, // area
		{"536-00-1234 536-22-0000", nil},             // group, serial
		{"078-05-1120 219-09-9999 123-45-6789", nil}, // advertising
		{"536-22 1234", nil},                         // mixed separators
		{"2024-11-27 12345-6789", nil},               // date, ZIP+4
		{"1-536-22-1234", nil},                       // part of a longer id
	})
}

func TestIBAN(t *testing.T) {
	runCases(t, []tcase{
		{"DE89370400440532013000", []string{"iban:DE89370400440532013000"}},
		{"iban: DE89 3704 0044 0532 0130 00, thanks", []string{"iban:DE89 3704 0044 0532 0130 00"}},
		{"GB82 WEST 1234 5698 7654 32", []string{"iban:GB82 WEST 1234 5698 7654 32"}},
		{"NL91ABNA0417164300", []string{"iban:NL91ABNA0417164300"}},
		{"FR1420041010050500013M02606", []string{"iban:FR1420041010050500013M02606"}},
		{"DE88370400440532013000", nil},     // check digits
		{"DE8937040044053201300", nil},      // too short
		{"DE893704004405320130001", nil},    // too long
		{"XDE89370400440532013000", nil},    // part of a word
		{"US89370400440532013000", nil},     // no such IBAN country
		{"DE89 3704 0044 0532 0130 0", nil}, // short group
	})
}

func TestEmail(t *testing.T) {
	runCases(t, []tcase{
		{"mail alice@example.com now", []string{"email:alice@example.com"}},
		{"<bob.smith+qa@mail.example.co.uk>.", []string{"email:bob.smith+qa@mail.example.co.uk"}},
		{`"\u003cjudy@example.org\u003e"`, []string{"email:judy@example.org"}},
		{`line1\nerin@example.net`, []string{"email:erin@example.net"}},
		{"to=%3Cfrank@example.io%3E", []string{"email:frank@example.io"}},
		{"logo@2x.png icon@3x.webp bundle@1.min.js", nil},
		{"root@localhost lodash@4.17.21 @alice x@y", nil},
		{"a..b@example.com .a@example.com a.@example.com", nil},
		{"a@-example.com a@example-.com a@example.c0m", nil},
	})
}

func TestPhone(t *testing.T) {
	runCases(t, []tcase{
		{"call +1 (415) 555-0123 now", []string{"phone:+1 (415) 555-0123"}},
		{"+14155550123", []string{"phone:+14155550123"}},
		{"+44 20 7946 0958", []string{"phone:+44 20 7946 0958"}},
		{"+33.1.23.45.67.89", []string{"phone:+33.1.23.45.67.89"}},
		{"(212) 555-0199", []string{"phone:(212) 555-0199"}},
		{"212-555-0199 or 212.555.0198", []string{"phone:212-555-0199", "phone:212.555.0198"}},
		{"1-800-555-0199", []string{"phone:1-800-555-0199"}},
		{"+1 (415) 555-0123 212-555-0123", []string{"phone:+1 (415) 555-0123", "phone:212-555-0123"}},
		{"4155550123", nil},                // bare digits
		{"123-456-7890 911-555-0123", nil}, // invalid area
		{"415-155-0123 415-911-0123", nil}, // invalid exchange
		{"+05:30 1e+10 +123 x+14155550123", nil},
		{"192.168.100.200 2024-11-27 v2.10.3", nil},
		{"212-555-0199-12 10.212.555.0199", nil},
		{"+1234567890123456", nil}, // too long
	})
}

const testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"

func TestJWT(t *testing.T) {
	runCases(t, []tcase{
		{"Authorization: Bearer " + testJWT, []string{"jwt:" + testJWT}},
		{`{"access_token":"` + testJWT + `"}`, []string{"jwt:" + testJWT}},
		{testJWT + ". Next", []string{"jwt:" + testJWT}},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", []string{"jwt:eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}},
		{"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. Thanks", nil}, // sentence end, not an empty signature
		{"eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiJ4In0.c2ln", nil},     // no alg
		{"eyJhbGciOiJIUzI1NiJ9eyJzdWIiOiJ4In0", nil},         // one part
		{"eyJxxxxxxxxxxxxxxxxxx.eyJzdWIiOiJ4In0.c2ln", nil},  // not JSON
		{"XeyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.c2ln", nil},   // part of a word
		{testJWT + ".more", nil},                             // four parts
	})
}

func TestKeysAndTokens(t *testing.T) {
	gh := "ghp_" + strings.Repeat("a1B2c3", 5)
	gh += githubChecksum([]byte(gh[4:]))
	badGH := gh[:len(gh)-1] + "Z"
	if badGH == gh {
		badGH = gh[:len(gh)-1] + "Y"
	}
	pat := "github_pat_" + strings.Repeat("A", 22) + "_" + strings.Repeat("b", 59)
	runCases(t, []tcase{
		{"key=AKIAIOSFODNN7EXAMPLE;", []string{"aws_key:AKIAIOSFODNN7EXAMPLE"}},
		{"ASIAY34FZKBOKMUTVV7A", []string{"aws_key:ASIAY34FZKBOKMUTVV7A"}},
		{"AKIAIOSFODNN7EXAMPL AKIAIOSFODNN7EXAMPLEX XAKIAIOSFODNN7EXAMPLE AKIAIOSFODNN7EXAMP1E", nil},
		{"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", []string{"gcp_key:AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe"}},
		{"AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQ", nil},
		{"xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", []string{"slack_token:xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"}},
		{"https://hooks.slack.com/services/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", []string{"slack_token:https://hooks.slack.com/services/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"}},
		// Documentation placeholders are not credentials.
		{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", nil},
		{"AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX GOOGLE_API_KEY=AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX", nil},
		{"xoxo-gossip-girl xoxb-1234 https://hooks.slack.com/services/", nil},
		{"token " + gh, []string{"github_token:" + gh}},
		{"token " + badGH, nil},
		{"x" + gh, nil},
		{pat, []string{"github_token:" + pat}},
		{pat[:len(pat)-1], nil},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END RSA PRIVATE KEY-----\n", []string{"private_key:-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD9\n-----END RSA PRIVATE KEY-----"}},
		{`{"k":"-----BEGIN PRIVATE KEY-----\nMIIBOgIB\nAAJBAKj3==\n-----END PRIVATE KEY-----\n"}`, []string{`private_key:-----BEGIN PRIVATE KEY-----\nMIIBOgIB\nAAJBAKj3==\n-----END PRIVATE KEY-----`}},
		{"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----", nil},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END EC PRIVATE KEY-----", nil},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIB", nil},
	})
}

func TestSecret(t *testing.T) {
	v := "q8Zr3TfWm2LxP9vKa7Nc4Hd"
	hex := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
	runCases(t, []tcase{
		{`{"client_secret": "` + v + `"}`, []string{"secret:" + v}},
		{`{\"client_secret\":\"` + v + `\"}`, []string{"secret:" + v}},
		{"password=" + v + "&x=1", []string{"secret:" + v}},
		{"X-Api-Key: " + v, []string{"secret:" + v}},
		{"Authorization: Bearer " + v, []string{"secret:" + v}},
		{"export DB_PASSWORD=" + v, []string{"secret:" + v}},
		{"  apiKey: " + hex, []string{"secret:" + hex}},
		{`{"id": "` + v + `", "etag": "` + hex + `", "nonce": "` + v + `"}`, nil},
		{`{"next_page_token": "` + v + `", "token_type": "Bearer"}`, nil},
		{`{"password": "changeme", "secret": "REPLACE_ME_WITH_YOUR_SECRET"}`, nil},
		{`{"password": "Password1234Password1234"}`, nil},
		{`password=` + v + `!`, []string{"secret:" + v + "!"}}, // a password's name: any plausible password
		{`api_key=` + v + `!`, nil},                            // other names: not a whole token
		{`{"password": "hunter2", "pwd": "Summer2024!"}`, []string{"secret:hunter2", "secret:Summer2024!"}},
		{`{"password": "********", "password_hint": "pet name", "password": "aaaa1111"}`, nil},
		{"DB_PASSWORD: 'x#9$kL!2'", []string{"secret:x#9$kL!2"}},
		{`{"password_changed_at": "2024-11-01T09:00:00Z"}`, nil},
		{`{"passphrase":"correct horse battery staple","password":"Grüße2024!"}`, []string{"secret:correct horse battery staple", "secret:Grüße2024!"}},
		{`{"password_last_changed":"yesterday","password_status":"active","password_scheme":"bcrypt","pwdLastSet":"133456789"}`, nil},
		{"PWD=/home/runner/work/app OLDPWD=/home/runner", nil},
		{`{"password":"%Tr0ub4dor&3","pwd":"Yourself2024!"}`, []string{"secret:%Tr0ub4dor&3", "secret:Yourself2024!"}},
		{"see http://host:8080?next=a@b.com", []string{"email:a@b.com"}}, // the e-mail address, not a password
		{`{"dsn":"postgres:\/\/app:Xk9pQ2vL7m@db:5432\/app"}`, []string{"secret:Xk9pQ2vL7m"}},
		{"DATABASE_URL=postgres://app:Xk9pQ2vL7m@db.internal:5432/app", []string{"secret:Xk9pQ2vL7m"}},
		{"redis://:s3cr3t-pw@cache:6379/0 and https://example.com:8443/path", []string{"secret:s3cr3t-pw"}},
		{"password == " + v, nil},
		{`{"author": "` + v + `"}`, nil},
	})
}

func TestFindNamed(t *testing.T) {
	s := MustNew()
	v := []byte("q8Zr3TfWm2LxP9vKa7Nc4Hd")
	if fs := s.FindNamed("client_secret", v); len(fs) != 1 || fs[0].Kind != Secret || fs[0].End != len(v) {
		t.Errorf("FindNamed secret: %v", fs)
	}
	if fs := s.FindNamed("request_id", v); len(fs) != 0 {
		t.Errorf("FindNamed harmless: %v", fs)
	}
	if fs := s.FindNamed("Authorization", []byte("Bearer q8Zr3TfWm2LxP9vKa7Nc4Hd ")); len(fs) != 1 || fs[0].Start != 7 {
		t.Errorf("FindNamed bearer: %v", fs)
	}
	if fs := s.FindNamed("applicant_ssn", []byte("536221234")); len(fs) != 1 || fs[0].Kind != SSN {
		t.Errorf("FindNamed ssn: %v", fs)
	}
	if fs := s.FindNamed("order", []byte("536221234")); len(fs) != 0 {
		t.Errorf("FindNamed order: %v", fs)
	}
	if fs := s.FindNamed("token", []byte(testJWT)); len(fs) != 1 || fs[0].Kind != JWT {
		t.Errorf("FindNamed jwt: %v", fs)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Card, "bogus"); err == nil || !strings.Contains(err.Error(), `"bogus"`) || !strings.Contains(err.Error(), "github_token") {
		t.Errorf("New(bogus) = %v", err)
	}
	s, err := New(Email)
	if err != nil {
		t.Fatal(err)
	}
	if got := findStrs(s, "4111111111111111 a@example.com AKIAIOSFODNN7EXAMPLE"); len(got) != 1 || got[0] != "email:a@example.com" {
		t.Errorf("email-only scanner found %v", got)
	}
	if len(Kinds()) != 12 || Kinds()[0] != Card {
		t.Errorf("Kinds() = %v", Kinds())
	}
}

func TestMask(t *testing.T) {
	s := MustNew()
	in := `{"card":"4111-1111-1111-1111","c2":"4111111111111111","ssn":"219-45-6789","iban":"DE89 3704 0044 0532 0130 00",` +
		`"email":"alice@example.com","phone":"+1 (415) 555-0123","jwt":"` + testJWT + `","k":"AKIAIOSFODNN7EXAMPLE"}`
	got, fs := s.Mask([]byte(in))
	want := `{"card":"****-****-****-1111","c2":"************1111","ssn":"***-**-6789","iban":"DE** **** **** **** **30 00",` +
		`"email":"a***@example.com","phone":"+* (***) ***-**23","jwt":"[REDACTED:jwt]","k":"[REDACTED:aws_key]"}`
	if string(got) != want {
		t.Errorf("Mask:\n got  %s\n want %s", got, want)
	}
	if len(fs) != 8 {
		t.Errorf("%d findings", len(fs))
	}
	clean := []byte(`{"id": 42, "name": "widget"}`)
	if m, fs := s.Mask(clean); &m[0] != &clean[0] || fs != nil {
		t.Error("Mask copied a clean input")
	}
	// Masks are JSON-safe whatever the value.
	for _, k := range append(Kinds(), "unknown") {
		m := MaskValue(k, []byte("a\"b\\c\x00d@e\"f\n1234"))
		if bytes.ContainsAny(m, "\"\\\x00\n") {
			t.Errorf("MaskValue(%s) = %q", k, m)
		}
	}
}

// TestAdversarial scans 1 MiB and 2 MiB of hostile patterns (a quarter of
// that under the race detector), counting the detector calls per byte: it
// must not grow with the size. Every detector reads a window bounded by a
// constant (lookAhead, lookBehind), which TestStreamLong and FuzzStream
// hold it to, so bounded calls per byte mean linear work.
func TestAdversarial(t *testing.T) {
	s := MustNew()
	unit := 1 << 20
	if raceEnabled {
		unit >>= 2
	}
	patterns := []string{
		"1", "1 ", "1-", "4111 ", "@", "a@", "a.", "eyJ", "eyJ.", "eyJhbGciOiJub25lIn0.", "AKIA", "AIza", "xoxb-1",
		"ghp_", "-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN RSA PRIVATE KEY-----\nAAAA", "password=", "password=aB3", ":",
		"+1 ", "(212) ", "DE89 ", "\\u0041@", "x@a.", "https://hooks.slack.com/services/T",
	}
	for _, p := range patterns {
		var perByte [2]float64
		for i, size := range []int{unit, 2 * unit} {
			in := bytes.Repeat([]byte(p), size/len(p))
			steps := 0
			testHookStep = func() { steps++ }
			s.Find(in)
			testHookStep = nil
			perByte[i] = float64(steps) / float64(len(in))
		}
		if perByte[1] > perByte[0]*1.1+0.01 {
			t.Errorf("%q: work per byte grows with size: %.3f -> %.3f", p, perByte[0], perByte[1])
		}
	}
}

// TestEntropyThreshold measures how often random values of the lengths and
// alphabets secrets use fall below the entropy thresholds.
func TestEntropyThreshold(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		alphabet string
		n        int
	}{{alnum, 20}, {alnum, 32}, {b64url, 40}, {hexLower, 20}, {hexLower, 32}, {hexLower, 40}} {
		miss := 0
		const trials = 2000
		for i := 0; i < trials; i++ {
			b := make([]byte, c.n)
			for j := range b {
				b[j] = c.alphabet[r.IntN(len(c.alphabet))]
			}
			if !secretValue(b) {
				miss++
			}
		}
		rate := float64(miss) / trials
		t.Logf("alphabet %d, length %d: %.2f%% rejected", len(c.alphabet), c.n, 100*rate)
		if rate > 0.05 {
			t.Errorf("alphabet %d, length %d: %.2f%% of random values rejected", len(c.alphabet), c.n, 100*rate)
		}
	}
}

func TestNameSensitive(t *testing.T) {
	all := MustNew()
	for name, want := range map[string]bool{"password": true, "client_secret": true, "X-Api-Key": true, "ssn": true, "social_security_number": true, "name": false, "id": false, "etag": false} {
		if got := all.NameSensitive(name); got != want {
			t.Errorf("NameSensitive(%q) = %v", name, got)
		}
	}
	if MustNew(Card).NameSensitive("password") {
		t.Error("a card-only scanner calls password sensitive")
	}
}

func TestMirCards(t *testing.T) {
	runCases(t, []tcase{
		{"card 2200 0000 0000 0004 on file", []string{"card:2200 0000 0000 0004"}},
		{"2205000000000003", nil}, // outside Mir's 2200-2204
	})
}

func TestFindNamedPasswords(t *testing.T) {
	s := MustNew()
	for _, v := range []string{`abc"def123`, "correct horse battery staple", "Grüße2024!"} {
		fs := s.FindNamedString("password", v)
		if len(fs) != 1 || fs[0].Kind != Secret || v[fs[0].Start:fs[0].End] != v {
			t.Errorf("FindNamed(password, %q) = %v", v, fs)
		}
	}
	if fs := s.FindNamedString("password_hint", "my first cat"); len(fs) != 0 {
		t.Errorf("a hint: %v", fs)
	}
}
