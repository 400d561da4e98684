package keyring

// Known-answer tests that pin the behaviour of the standard library's
// AES-256-GCM (crypto/aes + crypto/cipher.NewGCM: 12-byte nonce, 16-byte tag),
// which is the AEAD the keyring relies on.
//
// Vector files (see their headers/"source" fields for provenance):
//   - testdata/wycheproof_aes_gcm_256.json: the keySize=256, ivSize=96,
//     tagSize=128 groups of C2SP/wycheproof testvectors_v1/aes_gcm_test.json.
//   - testdata/nist_gcm_256.rsp: AES-256 / 96-bit-IV test cases in NIST CAVP
//     .rsp layout (see the file header for which source they come from).
//   - testdata/nist_cavp_gcm_256.rsp: a selection of the NIST CAVP
//     gcmEncryptExtIV256.rsp / gcmDecrypt256.rsp records with Keylen=256,
//     IVlen=96, Taglen=128, including FAIL (must-reject) decrypt records.
//
// All helpers are prefixed "kat" to stay out of the way of the package code.

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const (
	katKeySize   = 32 // AES-256
	katNonceSize = 12 // standard GCM nonce
	katTagSize   = 16 // standard GCM tag
)

// katWycheproofFile mirrors the parts of the Wycheproof AEAD schema we use.
type katWycheproofFile struct {
	Algorithm     string               `json:"algorithm"`
	Schema        string               `json:"schema"`
	NumberOfTests int                  `json:"numberOfTests"`
	TestGroups    []katWycheproofGroup `json:"testGroups"`
}

type katWycheproofGroup struct {
	IVSize  int                 `json:"ivSize"`
	KeySize int                 `json:"keySize"`
	TagSize int                 `json:"tagSize"`
	Type    string              `json:"type"`
	Tests   []katWycheproofCase `json:"tests"`
}

type katWycheproofCase struct {
	TcID    int      `json:"tcId"`
	Comment string   `json:"comment"`
	Flags   []string `json:"flags"`
	Key     string   `json:"key"`
	IV      string   `json:"iv"`
	AAD     string   `json:"aad"`
	Msg     string   `json:"msg"`
	CT      string   `json:"ct"`
	Tag     string   `json:"tag"`
	Result  string   `json:"result"`
}

// katNISTCase is one record of a CAVP GCM .rsp file together with the
// bracketed section parameters (bit lengths) in force when it was read.
type katNISTCase struct {
	Line                                 int // line of the "Count =" record
	Keylen, IVlen, PTlen, AADlen, Taglen int
	Count                                int
	Key, IV, PT, AAD, CT, Tag            []byte
	HasPT                                bool
	Fail                                 bool // decrypt record marked FAIL
}

func (c katNISTCase) name() string {
	return fmt.Sprintf("Keylen=%d/IVlen=%d/PTlen=%d/AADlen=%d/Taglen=%d/Count=%d",
		c.Keylen, c.IVlen, c.PTlen, c.AADlen, c.Taglen, c.Count)
}

// katHex decodes a hex string, failing the test with context on error.
func katHex(t testing.TB, what, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("%s: invalid hex %q: %v", what, s, err)
	}
	return b
}

// katNewGCM builds the standard AES-GCM AEAD (12-byte nonce, 16-byte tag).
func katNewGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// katConcat returns a fresh ct||tag slice.
func katConcat(ct, tag []byte) []byte {
	out := make([]byte, 0, len(ct)+len(tag))
	out = append(out, ct...)
	return append(out, tag...)
}

// katCheckValid asserts Seal(key, iv, msg, aad) == ct||tag and that Open of
// ct||tag returns msg.
func katCheckValid(t *testing.T, id string, key, iv, aad, msg, ct, tag []byte) {
	t.Helper()
	if len(iv) != katNonceSize || len(tag) != katTagSize {
		t.Fatalf("%s: unexpected sizes iv=%d tag=%d (want %d/%d)", id, len(iv), len(tag), katNonceSize, katTagSize)
	}
	aead, err := katNewGCM(key)
	if err != nil {
		t.Fatalf("%s: NewGCM: %v", id, err)
	}
	want := katConcat(ct, tag)
	got := aead.Seal(nil, iv, msg, aad)
	if !bytes.Equal(got, want) {
		t.Errorf("%s: Seal mismatch\n got  %x\n want %x", id, got, want)
	}
	pt, err := aead.Open(nil, iv, want, aad)
	if err != nil {
		t.Errorf("%s: Open rejected a valid ciphertext: %v", id, err)
		return
	}
	if !bytes.Equal(pt, msg) {
		t.Errorf("%s: Open plaintext mismatch\n got  %x\n want %x", id, pt, msg)
	}
}

// katCheckInvalid asserts that Open of ct||tag fails. Failing to even build
// the AEAD (e.g. unsupported key/nonce size) also counts as a rejection.
func katCheckInvalid(t *testing.T, id string, key, iv, aad, ct, tag []byte) {
	t.Helper()
	aead, err := katNewGCM(key)
	if err != nil {
		return // rejected at construction
	}
	if len(iv) != aead.NonceSize() {
		return // Open would panic on a wrong-size nonce; the parameters are rejected
	}
	if pt, err := aead.Open(nil, iv, katConcat(ct, tag), aad); err == nil {
		t.Errorf("%s: Open accepted an invalid ciphertext (plaintext %x)", id, pt)
	}
}

func katLoadWycheproof(t *testing.T, path string) katWycheproofFile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var f katWycheproofFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return f
}

func TestAESGCMWycheproof(t *testing.T) {
	path := filepath.Join("testdata", "wycheproof_aes_gcm_256.json")
	f := katLoadWycheproof(t, path)
	if f.Algorithm != "AES-GCM" {
		t.Fatalf("%s: algorithm = %q, want AES-GCM", path, f.Algorithm)
	}

	var loaded, valid, acceptable, acceptableAccepted, invalid int
	for _, g := range f.TestGroups {
		if g.KeySize != 256 || g.IVSize != 96 || g.TagSize != 128 {
			t.Fatalf("%s: unexpected group keySize=%d ivSize=%d tagSize=%d (file should hold only 256/96/128)",
				path, g.KeySize, g.IVSize, g.TagSize)
		}
		for _, tc := range g.Tests {
			loaded++
			id := fmt.Sprintf("tcId=%d", tc.TcID)
			t.Run(id, func(t *testing.T) {
				desc := fmt.Sprintf("wycheproof tcId %d (%s; flags %v)", tc.TcID, tc.Result, tc.Flags)
				if tc.Comment != "" {
					desc += " " + strconv.Quote(tc.Comment)
				}
				key := katHex(t, desc+" key", tc.Key)
				iv := katHex(t, desc+" iv", tc.IV)
				aad := katHex(t, desc+" aad", tc.AAD)
				msg := katHex(t, desc+" msg", tc.Msg)
				ct := katHex(t, desc+" ct", tc.CT)
				tag := katHex(t, desc+" tag", tc.Tag)
				if len(key) != katKeySize {
					t.Fatalf("%s: key is %d bytes, want %d", desc, len(key), katKeySize)
				}

				switch tc.Result {
				case "valid":
					valid++
					katCheckValid(t, desc, key, iv, aad, msg, ct, tag)
				case "acceptable":
					// Wycheproof "acceptable": an implementation may accept or
					// reject. We allow either outcome of Open, but if Open
					// accepts, the plaintext must be msg.
					acceptable++
					aead, err := katNewGCM(key)
					if err != nil || len(iv) != aead.NonceSize() {
						return
					}
					pt, err := aead.Open(nil, iv, katConcat(ct, tag), aad)
					if err == nil {
						acceptableAccepted++
						if !bytes.Equal(pt, msg) {
							t.Errorf("%s: accepted with wrong plaintext\n got  %x\n want %x", desc, pt, msg)
						}
					}
				case "invalid":
					invalid++
					katCheckInvalid(t, desc, key, iv, aad, ct, tag)
				default:
					t.Fatalf("%s: unknown result %q", desc, tc.Result)
				}
			})
		}
	}

	if loaded == 0 {
		t.Fatalf("%s: no test cases loaded", path)
	}
	if loaded != f.NumberOfTests {
		t.Errorf("%s: loaded %d cases but numberOfTests = %d", path, loaded, f.NumberOfTests)
	}
	t.Logf("Wycheproof AES-256-GCM: %d cases run (valid=%d, acceptable=%d [accepted %d], invalid=%d)",
		loaded, valid, acceptable, acceptableAccepted, invalid)
}

// katParseRSP parses a NIST CAVP GCM response file (gcmEncryptExtIV*.rsp /
// gcmDecrypt*.rsp layout). Bracketed "[Name = value]" lines set the section
// parameters; "Count = n" starts a record; "FAIL" marks a decrypt record that
// must be rejected; '#' lines are comments.
func katParseRSP(t *testing.T, path string) []katNISTCase {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatalf("opening %s: %v", path, err)
	}
	defer fh.Close()

	params := map[string]int{}
	var cases []katNISTCase
	var cur *katNISTCase
	flush := func() {
		if cur != nil {
			cases = append(cases, *cur)
			cur = nil
		}
	}

	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			flush()
			name, val, ok := strings.Cut(strings.Trim(line, "[]"), "=")
			if !ok {
				t.Fatalf("%s:%d: malformed section header %q", path, lineNo, line)
			}
			n, err := strconv.Atoi(strings.TrimSpace(val))
			if err != nil {
				t.Fatalf("%s:%d: section header %q: %v", path, lineNo, line, err)
			}
			params[strings.TrimSpace(name)] = n
			continue
		case line == "FAIL":
			if cur == nil {
				t.Fatalf("%s:%d: FAIL outside a record", path, lineNo)
			}
			cur.Fail = true
			continue
		}

		name, val, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s:%d: unrecognised line %q", path, lineNo, line)
		}
		name, val = strings.TrimSpace(name), strings.TrimSpace(val)
		where := fmt.Sprintf("%s:%d %s", path, lineNo, name)
		if name == "Count" {
			flush()
			n, err := strconv.Atoi(val)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			cur = &katNISTCase{
				Line:   lineNo,
				Keylen: params["Keylen"], IVlen: params["IVlen"], PTlen: params["PTlen"],
				AADlen: params["AADlen"], Taglen: params["Taglen"],
				Count: n,
			}
			continue
		}
		if cur == nil {
			t.Fatalf("%s: field outside a record", where)
		}
		switch name {
		case "Key":
			cur.Key = katHex(t, where, val)
		case "IV":
			cur.IV = katHex(t, where, val)
		case "PT":
			cur.PT, cur.HasPT = katHex(t, where, val), true
		case "AAD":
			cur.AAD = katHex(t, where, val)
		case "CT":
			cur.CT = katHex(t, where, val)
		case "Tag":
			cur.Tag = katHex(t, where, val)
		default:
			t.Fatalf("%s: unknown field", where)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	flush()
	return cases
}

// katNISTFiles lists the .rsp files run by TestAESGCMNIST together with the
// minimum number of records each must yield (guarding against a truncated or
// mis-parsed file silently testing nothing).
var katNISTFiles = []struct {
	file     string
	minCases int
}{
	{"nist_gcm_256.rsp", 1},
	{"nist_cavp_gcm_256.rsp", 50},
}

func TestAESGCMNIST(t *testing.T) {
	for _, f := range katNISTFiles {
		path := filepath.Join("testdata", f.file)
		cases := katParseRSP(t, path)
		if len(cases) < f.minCases {
			t.Errorf("%s: only %d test cases loaded, want at least %d", path, len(cases), f.minCases)
		}
		valid, fail := katRunNISTCases(t, path, strings.TrimSuffix(f.file, ".rsp"), cases)
		t.Logf("%s: %d cases run (valid=%d, FAIL=%d)", path, len(cases), valid, fail)
	}
}

// katRunNISTCases runs the records of one .rsp file as subtests named
// prefix/L<line>/<section parameters>/Count=n and returns how many valid and
// FAIL records were run.
func katRunNISTCases(t *testing.T, path, prefix string, cases []katNISTCase) (valid, fail int) {
	t.Helper()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/L%d/%s", prefix, c.Line, c.name()), func(t *testing.T) {
			id := fmt.Sprintf("%s (line %d) %s", path, c.Line, c.name())
			if c.Keylen != 256 || c.IVlen != 96 || c.Taglen != 128 {
				t.Fatalf("%s: file should hold only Keylen=256 IVlen=96 Taglen=128 sections", id)
			}
			// The section header bit lengths must agree with the data; this
			// catches truncated or mistyped values.
			for _, chk := range []struct {
				field string
				bits  int
				b     []byte
			}{
				{"Key", c.Keylen, c.Key},
				{"IV", c.IVlen, c.IV},
				{"AAD", c.AADlen, c.AAD},
				{"CT", c.PTlen, c.CT},
				{"Tag", c.Taglen, c.Tag},
			} {
				if len(chk.b)*8 != chk.bits {
					t.Fatalf("%s: %s is %d bits, section header says %d", id, chk.field, len(chk.b)*8, chk.bits)
				}
			}

			switch {
			case c.Fail && c.HasPT:
				t.Fatalf("%s: record has both PT and FAIL", id)
			case c.Fail:
				// Decrypt record that must be rejected: Open(CT||Tag) fails.
				fail++
				katCheckInvalid(t, id+" [FAIL]", c.Key, c.IV, c.AAD, c.CT, c.Tag)
			case c.HasPT:
				// Encrypt record, or decrypt record that must succeed:
				// Seal(PT) == CT||Tag and Open(CT||Tag) == PT.
				valid++
				if len(c.PT)*8 != c.PTlen {
					t.Fatalf("%s: PT is %d bits, section header says %d", id, len(c.PT)*8, c.PTlen)
				}
				katCheckValid(t, id, c.Key, c.IV, c.AAD, c.PT, c.CT, c.Tag)
			default:
				t.Fatalf("%s: record has neither PT nor FAIL", id)
			}
		})
	}
	return valid, fail
}
