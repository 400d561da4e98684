package keyring

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/background/backgroundtest"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func fileKEK(t *testing.T, path string) func() (KEK, error) {
	t.Helper()
	if _, err := LoadKEKFile(path, true); err != nil {
		t.Fatal(err)
	}
	return func() (KEK, error) { return LoadKEKFile(path, false) }
}

func newRing(t *testing.T, st *store.Store, opt Options) *Keyring {
	t.Helper()
	if opt.LoadKEK == nil {
		opt.LoadKEK = fileKEK(t, filepath.Join(t.TempDir(), "kek"))
	}
	k, err := New(context.Background(), st, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

func TestRoundTripAndBinding(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			k := newRing(t, open(t), Options{})
			ct, err := k.Encrypt(ctx, "bob", "$.ssn", []byte("123-45-6789"))
			if err != nil {
				t.Fatal(err)
			}
			if !IsCiphertext(ct) || strings.Contains(ct, "bob") {
				t.Fatalf("ciphertext %q", ct)
			}
			pt, o, err := k.Decrypt(ctx, "bob", "$.ssn", ct)
			if err != nil || string(pt) != "123-45-6789" || o.Subject != "bob" || o.Version != 1 {
				t.Fatalf("decrypt = %q %+v %v", pt, o, err)
			}
			if _, o, err := k.Decrypt(ctx, "", "$.ssn", ct); err != nil || o.Subject != "bob" {
				t.Fatalf("decrypt without an expected subject = %+v %v", o, err)
			}
			again, _ := k.Encrypt(ctx, "bob", "$.ssn", []byte("123-45-6789"))
			if again == ct {
				t.Fatal("two encryptions of one value are equal: nonces repeat")
			}
			alice, err := k.Encrypt(ctx, "alice", "$.ssn", []byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if alice[len(Prefix):len(Prefix)+11] == ct[len(Prefix):len(Prefix)+11] {
				t.Fatal("alice and bob share a key id")
			}
		})
	}
}

// TestTamper: every alteration fails to decrypt, with an error that says
// which kind of failure it is.
func TestTamper(t *testing.T) {
	ctx := context.Background()
	k := newRing(t, storetest.Backends(t)["sqlite"](t), Options{})
	ct, err := k.Encrypt(ctx, "bob", "$.card.number", []byte("4111111111111111"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(ct[len(Prefix):])
	reenc := func(b []byte) string { return Prefix + base64.RawURLEncoding.EncodeToString(b) }
	otherSubject, _ := k.Encrypt(ctx, "alice", "$.card.number", []byte("4111111111111111"))

	tests := []struct {
		name           string
		subject, field string
		ct             string
		want           error
	}{
		{"subject swapped", "alice", "$.card.number", ct, ErrWrongSubject},
		{"another subject's ciphertext", "bob", "$.card.number", otherSubject, ErrWrongSubject},
		{"field swapped", "bob", "$.ssn", ct, ErrAuthentication},
		{"truncated by one byte", "bob", "$.card.number", reenc(raw[:len(raw)-1]), ErrAuthentication},
		{"truncated to the header", "bob", "$.card.number", reenc(raw[:Overhead-1]), ErrMalformed},
		{"empty", "bob", "$.card.number", Prefix, ErrMalformed},
		{"not base64", "bob", "$.card.number", Prefix + "!!!!", ErrMalformed},
		{"unknown version", "bob", "$.card.number", "rampart:v9:" + ct[len(Prefix):], ErrMalformed},
		{"plain text", "bob", "$.card.number", "4111111111111111", ErrMalformed},
		{"unknown key id", "bob", "$.card.number", reenc(append([]byte{0, 0, 0, 0, 0, 0, 0, 0}, raw[8:]...)), ErrKeyGone},
	}
	for i := keyIDLen; i < len(raw); i++ { // every bit of the nonce, ciphertext and tag
		for bit := range 8 {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			tests = append(tests, struct {
				name           string
				subject, field string
				ct             string
				want           error
			}{fmt.Sprintf("byte %d bit %d flipped", i, bit), "bob", "$.card.number", reenc(b), ErrAuthentication})
		}
	}
	for _, tc := range tests {
		pt, _, err := k.Decrypt(ctx, tc.subject, tc.field, tc.ct)
		if !errors.Is(err, tc.want) || pt != nil {
			t.Errorf("%s: got %q, %v; want %v", tc.name, pt, err, tc.want)
		}
	}
	if pt, _, err := k.Decrypt(ctx, "bob", "$.card.number", ct); err != nil || string(pt) != "4111111111111111" {
		t.Fatalf("untouched ciphertext: %q %v", pt, err)
	}
}

// katCase is one known answer of the ciphertext format.
type katCase struct {
	Key       string `json:"key"`
	KeyID     string `json:"key_id"`
	Nonce     string `json:"nonce"`
	Subject   string `json:"subject"`
	Field     string `json:"field"`
	Version   int    `json:"version"`
	Plaintext string `json:"plaintext"`
	AD        string `json:"associated_data"`
	Token     string `json:"ciphertext"`
}

// TestFormatKnownAnswers freezes the v1 format: fixed keys and nonces
// give the ciphertexts in testdata/format_v1.json, byte for byte, and the
// associated data is laid out as documented.
func TestFormatKnownAnswers(t *testing.T) {
	golden := filepath.Join("testdata", "format_v1.json")
	var cases []katCase
	if *update {
		inputs := []katCase{
			{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "0102030405060708", "000000000000000000000000", "bob", "$.ssn", 1, "123-45-6789", "", ""},
			{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "0102030405060708", "000000000000000000000001", "bob", "$.ssn", 1, "123-45-6789", "", ""},
			{"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "0102030405060708", "000000000000000000000000", "alice", "$.ssn", 1, "123-45-6789", "", ""},
			{"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "a1b2c3d4e5f60718", "cafebabefacedbaddecaf888", "tenant:acme", "$.items[*].email", 7, "", "", ""},
			{"ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100", "a1b2c3d4e5f60718", "cafebabefacedbaddecaf888", "tenant:acme", "$.items[*].email", 7, "ana@example.com", "", ""},
		}
		for _, c := range inputs {
			dk := katKey(t, c)
			c.AD = hex.EncodeToString(fieldAD(c.Subject, c.Field, c.Version, dk.id))
			c.Token = string(seal(nil, dk, katHexT(t, c.Nonce), c.Field, []byte(c.Plaintext)))
			cases = append(cases, c)
		}
		b, _ := json.MarshalIndent(cases, "", "  ")
		if err := os.WriteFile(golden, append(b, '\n'), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil || len(cases) == 0 {
		t.Fatalf("%s: %v", golden, err)
	}
	for i, c := range cases {
		dk := katKey(t, c)
		// The documented layout, spelled out independently of ad().
		want := "rampart/field/v1\x00" + string([]byte{byte(len(c.Subject) >> 8), byte(len(c.Subject))}) + c.Subject +
			string([]byte{byte(len(c.Field) >> 8), byte(len(c.Field))}) + c.Field +
			string([]byte{byte(c.Version >> 24), byte(c.Version >> 16), byte(c.Version >> 8), byte(c.Version)}) + string(katHexT(t, c.KeyID))
		if got := hex.EncodeToString([]byte(want)); got != c.AD || hex.EncodeToString(fieldAD(c.Subject, c.Field, c.Version, dk.id)) != c.AD {
			t.Errorf("case %d: associated data differs from the documented layout", i)
		}
		if got := string(seal(nil, dk, katHexT(t, c.Nonce), c.Field, []byte(c.Plaintext))); got != c.Token {
			t.Errorf("case %d: ciphertext\n got %s\nwant %s", i, got, c.Token)
		}
		sd, err := parse(c.Token)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		pt, err := dk.aead.Open(nil, sd.nonce, sd.ct, fieldAD(c.Subject, c.Field, c.Version, sd.keyID))
		if err != nil || string(pt) != c.Plaintext {
			t.Errorf("case %d: open = %q, %v", i, pt, err)
		}
		if len(sd.ct) != len(c.Plaintext)+tagLen {
			t.Errorf("case %d: %d ciphertext bytes for %d plaintext bytes", i, len(sd.ct), len(c.Plaintext))
		}
	}
}

func katHexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func katKey(t *testing.T, c katCase) *dataKey {
	t.Helper()
	id := [keyIDLen]byte(katHexT(t, c.KeyID))
	dk, err := newDataKey(id, store.DataKey{KeyID: c.KeyID, Subject: c.Subject, Version: c.Version}, katHexT(t, c.Key), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return dk
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	k := newRing(t, storetest.Backends(t)["sqlite"](t), Options{RotateEvery: 24 * time.Hour, Now: clock})

	v1, _ := k.Encrypt(ctx, "bob", "$.ssn", []byte("one"))
	advance(25 * time.Hour) // the schedule passes: new writes use version 2
	v2, _ := k.Encrypt(ctx, "bob", "$.ssn", []byte("two"))
	n, err := k.Rotate(ctx, "bob") // on demand: version 3
	if err != nil || n != 3 {
		t.Fatalf("rotate = %d, %v", n, err)
	}
	v3, _ := k.Encrypt(ctx, "bob", "$.ssn", []byte("three"))
	for i, c := range []struct {
		ct, pt string
		v      int
	}{{v1, "one", 1}, {v2, "two", 2}, {v3, "three", 3}} {
		pt, o, err := k.Decrypt(ctx, "bob", "$.ssn", c.ct)
		if err != nil || string(pt) != c.pt || o.Version != c.v {
			t.Errorf("ciphertext %d: %q v%d %v", i, pt, o.Version, err)
		}
	}
	re, err := k.Reencrypt(ctx, "bob", "$.ssn", v1)
	if err != nil {
		t.Fatal(err)
	}
	if _, o, err := k.Decrypt(ctx, "bob", "$.ssn", re); err != nil || o.Version != 3 {
		t.Fatalf("reencrypted: %+v %v", o, err)
	}
	// ...which is the newest version the store holds for bob.
	if cur, err := k.st.CurrentDataKey(ctx, "bob"); err != nil || cur.Version != 3 {
		t.Fatalf("bob's newest key: %+v %v", cur, err)
	}
	keys, _, err := k.List(ctx, "bob", "", 0)
	if err != nil || len(keys) != 3 {
		t.Fatalf("list = %+v, %v", keys, err)
	}
}

// TestMessageBound: two gateways on one store together never encrypt more
// than MaxMessages with one key; the key rotates before the bound.
func TestMessageBound(t *testing.T) {
	ctx := context.Background()
	st := storetest.Backends(t)["sqlite"](t)
	kekPath := filepath.Join(t.TempDir(), "kek")
	opt := Options{LoadKEK: fileKEK(t, kekPath), MaxMessages: 10, ReserveBlock: 4}
	a, b := newRing(t, st, opt), newRing(t, st, opt)
	perVersion := map[int]int{}
	for i := range 45 {
		r := a
		if i%3 == 0 {
			r = b
		}
		ct, err := r.Encrypt(ctx, "bob", "$.f", []byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		_, o, err := a.Decrypt(ctx, "bob", "$.f", ct)
		if err != nil {
			t.Fatal(err)
		}
		perVersion[o.Version]++
	}
	for v, n := range perVersion {
		if n > 10 {
			t.Errorf("version %d encrypted %d messages, bound 10", v, n)
		}
	}
	keys, _, _ := a.List(ctx, "bob", "", 0)
	for _, k := range keys {
		if k.Used > 10+2*4 { // each gateway's last block may pass the bound and is then abandoned
			t.Errorf("version %d reserved %d uses", k.Version, k.Used)
		}
	}
	if len(perVersion) < 5 {
		t.Errorf("45 messages at 10 per key used only %d versions", len(perVersion))
	}
}

// TestShred: after a shred nothing encrypted for the subject decrypts, on
// this gateway at once and on another one (which held the key in memory)
// once it polls; other subjects are untouched.
func TestShred(t *testing.T) {
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			opt := Options{LoadKEK: fileKEK(t, filepath.Join(t.TempDir(), "kek")), ShredPoll: 20 * time.Millisecond}
			bg, clock := backgroundtest.Runner(t)
			optB := opt
			optB.Background = bg
			a, b := newRing(t, st, opt), newRing(t, st, optB)
			bob, _ := a.Encrypt(ctx, "bob", "$.ssn", []byte("123-45-6789"))
			carol, _ := a.Encrypt(ctx, "carol", "$.ssn", []byte("secret"))
			if _, _, err := b.Decrypt(ctx, "bob", "$.ssn", bob); err != nil { // b caches bob's key
				t.Fatal(err)
			}
			n, err := a.Shred(ctx, "bob")
			if err != nil || n != 1 {
				t.Fatalf("shred = %d, %v", n, err)
			}
			if _, _, err := a.Decrypt(ctx, "bob", "$.ssn", bob); !errors.Is(err, ErrKeyGone) {
				t.Fatalf("after shred, here: %v", err)
			}
			backgroundtest.Tick(t, clock, 20*time.Millisecond, 1) // b polls for shreds
			if _, _, err := b.Decrypt(ctx, "bob", "$.ssn", bob); !errors.Is(err, ErrKeyGone) {
				t.Fatalf("the other gateway still decrypts after its poll: %v", err)
			}
			if pt, _, err := b.Decrypt(ctx, "carol", "$.ssn", carol); err != nil || string(pt) != "secret" {
				t.Fatalf("carol after bob's shred: %q %v", pt, err)
			}
			// New data for bob gets a new key, which the old ciphertext does not use.
			fresh, err := a.Encrypt(ctx, "bob", "$.ssn", []byte("new"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, _, err := a.Decrypt(ctx, "bob", "$.ssn", fresh); err != nil || string(pt) != "new" {
				t.Fatalf("bob's new data: %q %v", pt, err)
			}
			if _, _, err := a.Decrypt(ctx, "bob", "$.ssn", bob); !errors.Is(err, ErrKeyGone) {
				t.Fatalf("old data readable again: %v", err)
			}
		})
	}
}

func TestKEKParse(t *testing.T) {
	good, _ := NewKEKLine(1)
	two, _ := NewKEKLine(2)
	for _, tc := range []struct {
		in, err string
		cur     int
	}{
		{good, "", 1},
		{"# comment\n\n" + good + "\n" + two + "\n", "", 2},
		{two + "," + good, "", 2},
		{"", "no key-encryption key", 0},
		{"1", "want VERSION:BASE64", 0},
		{"0:" + good[2:], "version must be a number", 0},
		{"1:AAAA", "must be 32 bytes", 0},
		{good + "\n" + good, "appears twice", 0},
	} {
		k, err := ParseKEK([]byte(tc.in), "test")
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), good[2:]) {
				t.Errorf("error quotes key material: %v", err)
			}
			continue
		}
		if err != nil || k.Current() != tc.cur {
			t.Errorf("%q: %v, current %v", tc.in, err, tc.cur)
		}
	}
}

func FuzzDecrypt(f *testing.F) {
	ctx := context.Background()
	dir := f.TempDir()
	st, err := store.Open(ctx, storeConfig(dir))
	if err != nil {
		f.Fatal(err)
	}
	defer st.Close()
	if _, err := LoadKEKFile(filepath.Join(dir, "kek"), true); err != nil {
		f.Fatal(err)
	}
	k, err := New(ctx, st, Options{LoadKEK: func() (KEK, error) { return LoadKEKFile(filepath.Join(dir, "kek"), false) }})
	if err != nil {
		f.Fatal(err)
	}
	defer k.Close()
	ct, err := k.Encrypt(ctx, "bob", "$.ssn", []byte("123-45-6789"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct, "$.ssn")
	f.Add(Prefix+"AAAA", "$.x")
	f.Add("rampart:v2:", "")
	f.Fuzz(func(t *testing.T, in, field string) {
		pt, _, err := k.Decrypt(ctx, "", field, in)
		if err == nil && (in != ct || field != "$.ssn" || string(pt) != "123-45-6789") {
			t.Fatalf("decrypted a forged ciphertext %q for %q", in, field)
		}
	})
}

func storeConfig(dir string) config.Store {
	return config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")}
}

// TestKEKRotation10k: 10,000 subjects; a KEK rotation is interrupted
// halfway (every field still decrypts, on either KEK version), resumed,
// and once done the old KEK version can go. PostgreSQL runs the same with
// 2,500 subjects: each of its writes is a synchronous commit, and 10,000
// take half a minute here. Under the race detector both shrink to 500;
// .ci/run runs the full sizes without it.
func TestKEKRotation10k(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 subjects: not in -short")
	}
	for name, open := range storetest.Backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := open(t)
			kekPath := filepath.Join(t.TempDir(), "kek")
			opt := Options{LoadKEK: fileKEK(t, kekPath)}
			k := newRing(t, st, opt)
			n := 10000
			if name == "postgres" {
				n = 2500
			}
			if raceEnabled {
				n = 500
			}
			cts := make([]string, n)
			for i := range n {
				ct, err := k.Encrypt(ctx, fmt.Sprintf("user-%05d", i), "$.ssn", fmt.Appendf(nil, "secret-%d", i))
				if err != nil {
					t.Fatal(err)
				}
				cts[i] = ct
			}
			if _, err := AddKEKVersion(kekPath); err != nil {
				t.Fatal(err)
			}
			stopAt, cctx := int64(n/2), context.Background()
			cctx, cancel := context.WithCancel(cctx)
			res, err := k.Rewrap(cctx, func(done int64) {
				if done >= stopAt {
					cancel() // the operator's ^C, halfway
				}
			})
			cancel()
			if err == nil || res.Rewrapped < stopAt || res.Rewrapped >= int64(n) {
				t.Fatalf("interrupted rewrap = %+v, %v", res, err)
			}
			if total, older, _ := st.CountDataKeys(ctx, 2); total != int64(n) || older == 0 || older == int64(n) {
				t.Fatalf("after the interruption: %d keys, %d on the old KEK", total, older)
			}
			checkAll := func(stage string) {
				fresh := newRing(t, st, opt) // nothing cached: every key unwrapped from the store
				for i, ct := range cts {
					pt, _, err := fresh.Decrypt(ctx, fmt.Sprintf("user-%05d", i), "$.ssn", ct)
					if err != nil || string(pt) != fmt.Sprintf("secret-%d", i) {
						t.Fatalf("%s: subject %d: %q %v", stage, i, pt, err)
					}
				}
			}
			checkAll("halfway")
			res2, err := k.Rewrap(ctx, nil)
			if err != nil || res2.Rewrapped+res.Rewrapped != int64(n) || res2.Total != int64(n) || res2.KEKVersion != 2 {
				t.Fatalf("resumed rewrap = %+v (first run %d), %v", res2, res.Rewrapped, err)
			}
			// Version 1 can now leave the KEK file.
			b, _ := os.ReadFile(kekPath)
			var kept []string
			for _, l := range strings.Split(string(b), "\n") {
				if !strings.HasPrefix(l, "1:") {
					kept = append(kept, l)
				}
			}
			if err := os.WriteFile(kekPath, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
			checkAll("after removing KEK version 1")
		})
	}
}

// FuzzParseKEK: any text is a KEK or a clear error, never a panic, and an
// error never quotes key material.
func FuzzParseKEK(f *testing.F) {
	line, _ := NewKEKLine(3)
	f.Add(line)
	f.Add("1:" + strings.Repeat("A", 43) + "=,2:x")
	f.Add("# c\n\n 7 : abc")
	f.Fuzz(func(t *testing.T, in string) {
		k, err := ParseKEK([]byte(in), "fuzz")
		if err == nil && (k.Current() < 1 || !k.Has(k.Current())) {
			t.Fatalf("parsed %q to a KEK without a current version", in)
		}
		if err != nil && len(in) > 20 && strings.Contains(err.Error(), in) {
			t.Fatalf("error quotes the input: %v", err)
		}
	})
}

// TestKEKRotationSeenByOtherGateways: after a KEK version is added and a
// rewrap runs on one gateway, another gateway wraps its new keys with the
// new version once it rereads the KEK, and the rewrap reports what is
// still on an old version instead of claiming all is done.
func TestKEKRotationSeenByOtherGateways(t *testing.T) {
	ctx := context.Background()
	st := storetest.Backends(t)["sqlite"](t)
	kekPath := filepath.Join(t.TempDir(), "kek")
	opt := Options{LoadKEK: fileKEK(t, kekPath), ShredPoll: 20 * time.Millisecond}
	bg, clock := backgroundtest.Runner(t)
	optB := opt
	optB.Background = bg
	a, b := newRing(t, st, opt), newRing(t, st, optB)
	if _, err := a.Encrypt(ctx, "alice", "$.f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := AddKEKVersion(kekPath); err != nil {
		t.Fatal(err)
	}
	res, err := a.Rewrap(ctx, nil)
	if err != nil || res.Rewrapped != 1 || res.Remaining != 0 || res.KEKVersion != 2 {
		t.Fatalf("rewrap = %+v, %v", res, err)
	}
	if b.KEK().Current() != 1 {
		t.Fatal("the other gateway took the new KEK version before its poll")
	}
	backgroundtest.Tick(t, clock, 20*time.Millisecond, 1) // b rereads the KEK
	if v := b.KEK().Current(); v != 2 {
		t.Fatalf("the other gateway's KEK version after its poll: %d", v)
	}
	if _, err := b.Encrypt(ctx, "carol", "$.f", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, older, _ := st.CountDataKeys(ctx, 2); older != 0 {
		t.Fatalf("%d keys made after the rotation are on the old KEK version", older)
	}
	// A KEK source that lost its newest version is not taken.
	if err := os.WriteFile(kekPath, []byte(strings.SplitN(string(mustRead(t, kekPath)), "\n2:", 2)[0]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := b.reloadKEK(); err == nil || b.KEK().Current() != 2 {
		t.Fatalf("reload after losing version 2: %v, current %d", err, b.KEK().Current())
	}
}

// TestLiveKEK: the KEK a keyring lends to the signing keys follows the
// keyring's source: a version added to the file seals from the first
// call that asks for it, with no wait for the periodic reread.
func TestLiveKEK(t *testing.T) {
	ctx := context.Background()
	st := storetest.Backends(t)["sqlite"](t)
	kekPath := filepath.Join(t.TempDir(), "kek")
	k := newRing(t, st, Options{LoadKEK: fileKEK(t, kekPath), ShredPoll: time.Hour})
	live := k.LiveKEK()
	if live.Current() != 1 || live.Has(2) {
		t.Fatalf("current %d, has 2: %v", live.Current(), live.Has(2))
	}
	w1, err := live.Wrap(ctx, 1, []byte("signing key"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := AddKEKVersion(kekPath); err != nil {
		t.Fatal(err)
	}
	if !live.Has(2) || live.Current() != 2 || k.KEK().Current() != 2 {
		t.Fatalf("after kek-add: has 2 %v, current %d", live.Has(2), live.Current())
	}
	w2, err := live.Wrap(ctx, 2, []byte("signing key"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	for v, w := range map[int][]byte{1: w1, 2: w2} {
		if pt, err := live.Unwrap(ctx, v, w, []byte("ad")); err != nil || string(pt) != "signing key" {
			t.Fatalf("version %d: %q, %v", v, pt, err)
		}
	}
	if live.Has(3) {
		t.Fatal("has a version no source holds")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestKEKRereadGuards: a reread KEK source may not change a version's key
// nor drop a version data keys still use; two gateways creating the KEK
// file at once end up with one file.
func TestKEKRereadGuards(t *testing.T) {
	ctx := context.Background()
	st := storetest.Backends(t)["sqlite"](t)
	kekPath := filepath.Join(t.TempDir(), "kek")
	k := newRing(t, st, Options{LoadKEK: fileKEK(t, kekPath), ShredPoll: time.Hour})
	if _, err := k.Encrypt(ctx, "bob", "$.f", []byte("x")); err != nil {
		t.Fatal(err)
	}
	orig := mustRead(t, kekPath)
	other, _ := NewKEKLine(1)
	if err := os.WriteFile(kekPath, []byte(other+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.reloadKEK(); err == nil || !strings.Contains(err.Error(), "version 1 changed") {
		t.Errorf("a changed version 1 was taken: %v", err)
	}
	two, _ := NewKEKLine(2)
	if err := os.WriteFile(kekPath, []byte(two+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.reloadKEK(); err == nil || !strings.Contains(err.Error(), "1 data keys are wrapped by it") {
		t.Errorf("version 1 dropped while bob's key uses it: %v", err)
	}
	if err := os.WriteFile(kekPath, append(orig, []byte(two+"\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Rewrap(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kekPath, []byte(two+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := k.reloadKEK(); err != nil {
		t.Errorf("version 1 dropped after the rewrap: %v", err)
	}

	shared := filepath.Join(t.TempDir(), "kek")
	var wg sync.WaitGroup
	keks := make([]KEK, 8)
	for i := range keks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keks[i], _ = LoadKEKFile(shared, true)
		}()
	}
	wg.Wait()
	want := keks[0].(fingerprinter).fingerprints()[1]
	for i, kk := range keks {
		if kk == nil || kk.(fingerprinter).fingerprints()[1] != want {
			t.Fatalf("gateway %d loaded another KEK than gateway 0", i)
		}
	}
}
