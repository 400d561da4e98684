package jsonbody

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

func TestIsJSON(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/json": true, "application/json; charset=utf-8": true, "Application/JSON": true,
		"application/problem+json": true, "application/vnd.api+json": true,
		"text/json": false, "text/x+json": false, "application/jsonx": false, "application/x-www-form-urlencoded": false,
		"": false, "application/json; =": false,
	} {
		if got := IsJSON(ct); got != want {
			t.Errorf("IsJSON(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestFold(t *testing.T) {
	for _, same := range [][2]string{{"role", "ROLE"}, {"kid", "\u212aid"}, {"ssn", "\u017fsn"}, {"Owner", "oWNER"}} {
		if Fold(same[0]) != Fold(same[1]) {
			t.Errorf("%q and %q fold apart", same[0], same[1])
		}
	}
	if Fold("role") == Fold("roles") {
		t.Error("role and roles fold together")
	}
}

func TestMembers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  string
	}{
		{`{"a":1,"b":{"a":2},"c":[1]}`, []string{"a", "b", "c"}, ""},
		{` {"s\u0073n": "x"} `, []string{"ssn"}, ""},
		{`{"role":"user","ROLE":"admin"}`, nil, "duplicate member"},
		{`{"kid":1,"` + "\u212a" + `id":2}`, nil, "duplicate member"},
		{`{"a":1}{"a":2}`, nil, "invalid"},
		{`{"a":1} x`, nil, "invalid"},
		{`[1,2]`, nil, "not a JSON object"},
		{`{"a":`, nil, "unexpected end"},
		{strings.Repeat("[", 200) + strings.Repeat("]", 200), nil, "deeper"},
	} {
		got, err := Members([]byte(tc.in))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Members(%.40q): %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("Members(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckDuplicates(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"a":{"b":1,"c":[{"d":1}]}}`:     true,
		`{"a":{"b":1,"B":2}}`:             false,
		`[{"x":1},{"x":1}]`:               true, // different objects
		`[{"x":1,"X":1}]`:                 false,
		`{"a":[[[[1]]]]}`:                 true,
		`{"a":{"b":{"c":{"d":{"e":1}}}}}`: true,
	} {
		if err := CheckDuplicates([]byte(in), 32); (err == nil) != ok {
			t.Errorf("CheckDuplicates(%s) = %v", in, err)
		}
	}
	if err := CheckDuplicates([]byte(`{"a":{"b":{"c":1}}}`), 2); err == nil {
		t.Error("nesting past maxDepth accepted")
	}
}

// FuzzSameMembers is the differential test: for any body, jsonbody,
// jsonpath and encoding/json agree on whether it is JSON, and on an object
// that Members accepts, each member name selects exactly one value through
// jsonpath and encoding/json keeps every member (no copy hidden behind
// another).
func FuzzSameMembers(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"role":"x","ROLE":"y"}`, `{"s\u0073n":1,"ssn":2}`, `{"a":{"b":[1,{"c":2}]}}`,
		`{"\ud800":1}`, "{\"\xff\":1}", `[]`, `{"a":1}{}`, `{"k":1,"` + "\u212a" + `":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				panic(fmt.Sprintf("no answer within 10 s for %q", b))
			}
		}()
		_, perr := jsonpath.Scalars(b, func(string, []byte, jsonpath.Kind) (jsonpath.Edit, error) { return jsonpath.Edit{}, nil })
		if (valid(b) == nil) != (perr == nil) {
			t.Fatalf("jsonbody and jsonpath disagree on validity of %q", b)
		}
		if perr == nil && !json.Valid(b) {
			t.Fatalf("jsonpath accepts %q, encoding/json does not", b)
		}
		names, err := Members(b)
		if err != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("Members accepts %q, encoding/json cannot read it: %v", b, err)
		}
		if len(m) != len(names) {
			t.Fatalf("%q: Members sees %d members, encoding/json keeps %d", b, len(names), len(m))
		}
		for _, name := range names {
			p, err := jsonpath.Parse("$[" + quote(name) + "]")
			if err != nil {
				continue // a name jsonpath's grammar cannot spell (lone surrogates became U+FFFD)
			}
			_, n, err := jsonpath.Rewrite(b, []jsonpath.Path{p}, func(jsonpath.Match) (jsonpath.Edit, error) { return jsonpath.Edit{}, nil })
			if err != nil || n != 1 {
				t.Fatalf("%q: member %q selects %d values through jsonpath (%v), want 1", b, name, n, err)
			}
		}
	})
}

// quote writes name as a jsonpath quoted member name.
func quote(name string) string {
	var b bytes.Buffer
	b.WriteByte('\'')
	for _, r := range name {
		switch r {
		case '\'', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			if r < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte("0123456789abcdef"[r>>4])
				b.WriteByte("0123456789abcdef"[r&15])
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// slowFold is Fold without its ASCII shortcut.
func slowFold(name string) string {
	var b strings.Builder
	for _, r := range name {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

func TestFoldASCIIShortcut(t *testing.T) {
	for c := range 128 {
		if s := string(rune(c)); Fold(s) != slowFold(s) {
			t.Errorf("Fold(%q) = %q, want %q", s, Fold(s), slowFold(s))
		}
	}
}

func TestSpellings(t *testing.T) {
	s := NewSpellings([]string{"user", "ssn"})
	for body, want := range map[string]string{
		`{"user":{"ssn":"1"}}`:      "",
		`{"user":{"SSN":"1"}}`:      "SSN",
		`{"USER":{"ssn":"1"}}`:      "USER",
		`{"user":{"\u017fsn":"1"}}`: "\u017fsn",
		`{"user":{"s\u0053n":"1"}}`: "sSn",
		`{"note":"SSN in a value"}`: "",
		`{"users":[{"ssns":"x"}]}`:  "",
	} {
		if got, err := s.Variant([]byte(body)); err != nil || got != want {
			t.Errorf("Variant(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
}

// FuzzSpellingsPrefilter: the byte prefilter never hides a variant that
// reading every name finds.
func FuzzSpellingsPrefilter(f *testing.F) {
	for _, s := range []string{`{"user":{"SSN":"1"}}`, `{"ssn":1}`, `{"s\u0053n":1}`, `{"\u017fsn":1}`, `[{"uSer":[]}]`} {
		f.Add([]byte(s))
	}
	s := NewSpellings([]string{"user", "ssn"})
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, err := s.Variant(b)
		var slow string
		serr := EachName(b, func(name string) error {
			if sp, ok := s.byFold[Fold(name)]; ok && !sp[name] && slow == "" {
				slow = name
			}
			return nil
		})
		if err == nil && serr == nil && fast != slow {
			t.Fatalf("%q: Variant %q, every name read %q", b, fast, slow)
		}
	})
}
