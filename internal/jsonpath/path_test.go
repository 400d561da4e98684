package jsonpath

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in, canon string
		segs      []segment
	}{
		{"$", "$", nil},
		{"$.a", "$.a", []segment{{kind: segName, name: "a"}}},
		{"$.ssn", "$.ssn", []segment{{kind: segName, name: "ssn"}}},
		{"$._x-1", "$._x-1", []segment{{kind: segName, name: "_x-1"}}},
		{"$.card.number", "$.card.number", []segment{{kind: segName, name: "card"}, {kind: segName, name: "number"}}},
		{"$['a']", "$.a", []segment{{kind: segName, name: "a"}}},
		{`$["a"]`, "$.a", []segment{{kind: segName, name: "a"}}},
		{"$['a b']", "$['a b']", []segment{{kind: segName, name: "a b"}}},
		{"$['']", "$['']", []segment{{kind: segName, name: ""}}},
		{`$['it\'s']`, `$['it\'s']`, []segment{{kind: segName, name: "it's"}}},
		{`$["it's"]`, `$['it\'s']`, []segment{{kind: segName, name: "it's"}}},
		{`$["say \"hi\""]`, `$['say "hi"']`, []segment{{kind: segName, name: `say "hi"`}}},
		{`$['a\\b']`, `$['a\\b']`, []segment{{kind: segName, name: `a\b`}}},
		{`$['\u0073sn']`, `$.ssn`, []segment{{kind: segName, name: "ssn"}}},
		{`$['\uD83D\uDE00']`, "$['\U0001F600']", []segment{{kind: segName, name: "\U0001F600"}}},
		{`$['tab\there']`, `$['tab\there']`, []segment{{kind: segName, name: "tab\there"}}},
		{`$['\u0001']`, `$['\u0001']`, []segment{{kind: segName, name: "\x01"}}},
		{`$['a\/b']`, `$['a/b']`, []segment{{kind: segName, name: "a/b"}}},
		{"$['1a']", "$['1a']", []segment{{kind: segName, name: "1a"}}},
		{"$['é']", "$['é']", []segment{{kind: segName, name: "é"}}},
		{"$[0]", "$[0]", []segment{{kind: segIndex, index: 0}}},
		{"$[17]", "$[17]", []segment{{kind: segIndex, index: 17}}},
		{"$[2147483647]", "$[2147483647]", []segment{{kind: segIndex, index: 2147483647}}},
		{"$[*]", "$[*]", []segment{{kind: segAnyElem}}},
		{"$.*", "$.*", []segment{{kind: segAnyMember}}},
		{"$.items[*].email", "$.items[*].email", []segment{{kind: segName, name: "items"}, {kind: segAnyElem}, {kind: segName, name: "email"}}},
		{"$.*[*].*[3]", "$.*[*].*[3]", []segment{{kind: segAnyMember}, {kind: segAnyElem}, {kind: segAnyMember}, {kind: segIndex, index: 3}}},
		{"$" + strings.Repeat("[0]", 32), "$" + strings.Repeat("[0]", 32), nil},
	}
	for _, tt := range tests {
		p, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if tt.segs != nil && !p.Equal(Path{segs: tt.segs}) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, p.segs, tt.segs)
		}
		if got := p.String(); got != tt.canon {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.canon)
		}
		q, err := Parse(p.String())
		if err != nil || !q.Equal(p) {
			t.Errorf("round trip of %q: %v, %v", tt.in, q, err)
		}
	}
	if (Path{}).String() != "$" || !(Path{}).Equal(MustParse("$")) {
		t.Error("zero Path is not $")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", `jsonpath "": at offset 0: expected '$' at the start`},
		{"a", `at offset 0: expected '$' at the start`},
		{".a", `at offset 0: expected '$'`},
		{"$a", `at offset 1: expected '.' or '['`},
		{"$.", `at offset 2: expected member name or '*' after '.'`},
		{"$.1a", `at offset 2: expected member name`},
		{"$.a.", `at offset 4: expected member name`},
		{"$.a b", `at offset 3: expected '.' or '['`},
		{"$..a", `at offset 2: expected member name`},
		{"$.a[", `jsonpath "$.a[": at offset 4: expected quoted name, index or '*' after '['`},
		{"$[", `at offset 2: expected quoted name`},
		{"$[]", `at offset 2: expected quoted name`},
		{"$[-1]", `at offset 2: expected quoted name`},
		{"$[ 1]", `at offset 2: expected quoted name`},
		{"$[1", `at offset 3: expected ']'`},
		{"$[1 ]", `at offset 3: expected ']'`},
		{"$[01]", `at offset 2: index has a leading zero`},
		{"$[00]", `at offset 2: index has a leading zero`},
		{"$[2147483648]", `at offset 2: index larger than 2147483647`},
		{"$[99999999999999999999999]", `at offset 2: index larger than`},
		{"$[*", `at offset 3: expected ']'`},
		{"$[*x]", `at offset 3: expected ']'`},
		{"$['a'", `at offset 5: expected ']'`},
		{"$['a", `at offset 4: unterminated quoted name`},
		{`$['a\`, `at offset 5: unterminated escape`},
		{`$['\x']`, `at offset 3: invalid escape "\\x" in quoted name`},
		{`$['\u12']`, `at offset 3: invalid \u escape`},
		{`$['\uD83D']`, `at offset 3: lone surrogate`},
		{`$['\uDE00\uD83D']`, `at offset 3: lone surrogate`},
		{`$['\uD83Dx']`, `at offset 3: lone surrogate`},
		{"$['a\nb']", `at offset 4: control character in quoted name`},
		{"$['\xff']", `at offset 3: invalid UTF-8 in quoted name`},
		{"$[\"a']", `at offset 6: unterminated quoted name`},
		{"$" + strings.Repeat(".a", 33), `at offset 65: more than 32 segments`},
		{"$['" + strings.Repeat("a", 1100) + "']", `at offset 1024: path longer than 1024 bytes`},
		// ' is written \' canonically: the canonical form must fit too.
		{`$["` + strings.Repeat("'", 1000) + `"]`, `at offset 1005: canonical form 2005 bytes, longer than 1024`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("Parse(%q) = %v, want *ParseError", tt.in, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Parse(%q) = %q, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic")
		}
	}()
	MustParse("$.")
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"$", "$.a", "$['a b']", `$["\u0041\uD83D\uDE00"]`, "$[0][*].*", "$.a[", `$['\'']`, "$[12]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Offset < 0 || pe.Offset > len(s) {
				t.Fatalf("Parse(%q): bad error %v", s, err)
			}
			return
		}
		c := p.String()
		q, err := Parse(c)
		if err != nil {
			t.Fatalf("Parse(%q).String() = %q does not parse: %v", s, c, err)
		}
		if !q.Equal(p) {
			t.Fatalf("Parse(%q): %q round-trips to %q", s, c, q.String())
		}
		if q.String() != c {
			t.Fatalf("canonical form not stable: %q vs %q", c, q.String())
		}
	})
}
