package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func parseAll(t testing.TB, ss ...string) []Path {
	t.Helper()
	ps := make([]Path, len(ss))
	for i, s := range ss {
		ps[i] = MustParse(s)
	}
	return ps
}

// matches lists what fn saw, as "path:value" strings.
func collect(t *testing.T, doc string, paths ...string) []string {
	t.Helper()
	var got []string
	out, n, err := Rewrite([]byte(doc), parseAll(t, paths...), func(m Match) (Edit, error) {
		got = append(got, fmt.Sprintf("%d:%s", m.Path, m.Value))
		return Edit{}, nil
	})
	if err != nil {
		t.Fatalf("Rewrite(%s, %q): %v", doc, paths, err)
	}
	if string(out) != doc || n != len(got) {
		t.Fatalf("Rewrite(%s, %q) = %q, %d; want the input and %d", doc, paths, out, n, len(got))
	}
	return got
}

func TestRewriteMatches(t *testing.T) {
	const doc = `{"a": 1, "b": {"c": [10, 20, {"d": "x"}], "e f": null}, "g": [[1, 2], [3]], "h": true}`
	tests := []struct {
		paths []string
		want  string
	}{
		{[]string{"$"}, "0:" + doc},
		{[]string{"$.a"}, "0:1"},
		{[]string{"$['a']"}, "0:1"},
		{[]string{"$.b.c"}, `0:[10, 20, {"d": "x"}]`},
		{[]string{"$.b.c[0]"}, "0:10"},
		{[]string{"$.b.c[1]"}, "0:20"},
		{[]string{"$.b.c[3]"}, ""},
		{[]string{"$.b.c[2].d"}, `0:"x"`},
		{[]string{"$.b['e f']"}, "0:null"},
		{[]string{"$.b.c[*]"}, `0:10 0:20 0:{"d": "x"}`},
		{[]string{"$.*"}, `0:1 0:{"c": [10, 20, {"d": "x"}], "e f": null} 0:[[1, 2], [3]] 0:true`},
		{[]string{"$.g[*][*]"}, "0:1 0:2 0:3"},
		{[]string{"$.g[*][0]"}, "0:1 0:3"},
		{[]string{"$.*[*]"}, "0:[1, 2] 0:[3]"},
		{[]string{"$.*.*"}, `0:[10, 20, {"d": "x"}] 0:null`},
		{[]string{"$.*.*[*].*"}, `0:"x"`},
		// Typed selectors: [*] is not .* and names do not select elements.
		{[]string{"$[*]"}, ""},
		{[]string{"$.b[*]"}, ""},
		{[]string{"$.g.*"}, ""},
		{[]string{"$.a.b"}, ""},
		{[]string{"$.h[0]"}, ""},
		{[]string{"$.missing", "$.zzz[*]"}, ""},
		// Overlap: one call per value, lowest path index.
		{[]string{"$.a", "$.a"}, "0:1"},
		{[]string{"$.*", "$.a"}, `0:1 0:{"c": [10, 20, {"d": "x"}], "e f": null} 0:[[1, 2], [3]] 0:true`},
		{[]string{"$.a", "$.*"}, `0:1 1:{"c": [10, 20, {"d": "x"}], "e f": null} 1:[[1, 2], [3]] 1:true`},
		// Outer first, then (zero edit) inner, in document order.
		{[]string{"$.b.c[2].d", "$.b"}, `1:{"c": [10, 20, {"d": "x"}], "e f": null} 0:"x"`},
		{[]string{"$.g[1]", "$.g", "$.g[*][*]"}, "1:[[1, 2], [3]] 2:1 2:2 0:[3] 2:3"},
	}
	for _, tt := range tests {
		got := strings.Join(collect(t, doc, tt.paths...), " ")
		if got != tt.want {
			t.Errorf("%q:\n got %s\nwant %s", tt.paths, got, tt.want)
		}
	}
}

func TestRewriteRootArray(t *testing.T) {
	got := strings.Join(collect(t, ` [ {"email":"a@x"}, {"email":"b@x","n":[1]} ] `, "$[*].email", "$[1].n[0]", "$[0]"), " ")
	want := `2:{"email":"a@x"} 0:"a@x" 0:"b@x" 1:1`
	if got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestRewriteDecodedNames(t *testing.T) {
	tests := []struct{ doc, path, want string }{
		{`{"s\u0073n": 1}`, "$.ssn", "0:1"},
		{`{"\u0073\u0073\u006E": 1}`, "$.ssn", "0:1"},
		{`{"ss\/n": 1}`, "$['ss/n']", "0:1"},
		{`{"a\"b": 1}`, `$['a"b']`, "0:1"},
		{`{"\uD83D\uDE00": 1}`, "$['\U0001F600']", "0:1"},
		{`{"\ud83d\ude00": 1}`, `$['\uD83D\uDE00']`, "0:1"},
		{`{"é": 1}`, "$['é']", "0:1"},
		{`{"\u00e9": 1}`, "$['é']", "0:1"},
		{`{"\uD83D": 1}`, "$['\uFFFD']", "0:1"},     // lone surrogate decodes to U+FFFD, as in encoding/json
		{"{\"a\xffb\": 1}", "$['a\uFFFDb']", "0:1"}, // invalid UTF-8 likewise
		{`{"ssn ": 1, "SSN": 2, "ssn": 3}`, "$.ssn", "0:3"},
		// Duplicates: every occurrence matches.
		{`{"ssn": 1, "x": 0, "ssn": 2, "s\u0073n": 3}`, "$.ssn", "0:1 0:2 0:3"},
	}
	for _, tt := range tests {
		got := strings.Join(collect(t, tt.doc, tt.path), " ")
		if got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.doc, tt.path, got, tt.want)
		}
	}
}

type editFunc func(Match) (Edit, error)

func replaceWith(s string) editFunc {
	return func(Match) (Edit, error) { return Edit{Replace: []byte(s)}, nil }
}

func remove(Match) (Edit, error) { return Edit{Remove: true}, nil }

func TestRewriteEdits(t *testing.T) {
	tests := []struct {
		doc   string
		paths []string
		fn    editFunc
		want  string
	}{
		{`{"a":1,"b":2}`, []string{"$.a"}, replaceWith(`"x"`), `{"a":"x","b":2}`},
		{` { "a" : 1 , "b" : 2 } `, []string{"$.b"}, replaceWith(`{"k":[1]}`), ` { "a" : 1 , "b" : {"k":[1]} } `},
		{` 12 `, []string{"$"}, replaceWith(`"x"`), ` "x" `},
		{`[1,2,3]`, []string{"$[*]"}, replaceWith(`0`), `[0,0,0]`},
		{`{"a":{"b":1}}`, []string{"$.a", "$.a.b"}, replaceWith(`2`), `{"a":2}`},
		{`{"a":{"b":1}}`, []string{"$.a.b", "$.a"}, func(m Match) (Edit, error) {
			if m.Path == 1 {
				return Edit{}, nil // outer zero edit: inner visited
			}
			return Edit{Replace: []byte(`"enc"`)}, nil
		}, `{"a":{"b":"enc"}}`},
		{`{"ssn":"1","card":{"number":"4111","cvv":"1"},"items":[{"email":"a"},{"email":"b"}]}`,
			[]string{"$.ssn", "$.card.number", "$.items[*].email"}, replaceWith(`"***"`),
			`{"ssn":"***","card":{"number":"***","cvv":"1"},"items":[{"email":"***"},{"email":"***"}]}`},

		// Removal from objects: first, middle, last, only, all, with whitespace.
		{`{"a":1,"b":2,"c":3}`, []string{"$.a"}, remove, `{"b":2,"c":3}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.b"}, remove, `{"a":1,"c":3}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.c"}, remove, `{"a":1,"b":2}`},
		{`{"a":1}`, []string{"$.a"}, remove, `{}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.*"}, remove, `{}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.a", "$.b"}, remove, `{"c":3}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.b", "$.c"}, remove, `{"a":1}`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.a", "$.c"}, remove, `{"b":2}`},
		{`{ "a" : 1 , "b" : 2 , "c" : 3 }`, []string{"$.a"}, remove, `{ "b" : 2 , "c" : 3 }`},
		{`{ "a" : 1 , "b" : 2 , "c" : 3 }`, []string{"$.b"}, remove, `{ "a" : 1 , "c" : 3 }`},
		{`{ "a" : 1 , "b" : 2 , "c" : 3 }`, []string{"$.c"}, remove, `{ "a" : 1 , "b" : 2 }`},
		{"{\n  \"a\": 1,\n  \"b\": 2\n}", []string{"$.a"}, remove, "{\n  \"b\": 2\n}"},
		{"{\n  \"a\": 1,\n  \"b\": 2\n}", []string{"$.b"}, remove, "{\n  \"a\": 1\n}"},
		{`{ "a" : 1 }`, []string{"$.a"}, remove, `{  }`},
		{`{"a":1,"a":2,"b":3,"a":4}`, []string{"$.a"}, remove, `{"b":3}`},
		// Removal from arrays.
		{`[1,2,3]`, []string{"$[0]"}, remove, `[2,3]`},
		{`[1,2,3]`, []string{"$[1]"}, remove, `[1,3]`},
		{`[1,2,3]`, []string{"$[2]"}, remove, `[1,2]`},
		{`[1]`, []string{"$[0]"}, remove, `[]`},
		{`[1,2,3]`, []string{"$[*]"}, remove, `[]`},
		{`[ 1 , 2 , 3 ]`, []string{"$[*]"}, remove, `[  ]`},
		{`[ 1 , 2 , 3 ]`, []string{"$[0]", "$[1]"}, remove, `[ 3 ]`},
		{`[ 1 , 2 , 3 ]`, []string{"$[0]", "$[2]"}, remove, `[ 2 ]`},
		{`[ 1 , 2 , 3 ]`, []string{"$[1]", "$[2]"}, remove, `[ 1 ]`},
		{`[[1,2],[3,4]]`, []string{"$[*][0]"}, remove, `[[2],[4]]`},
		{`{"items":[{"email":"a","n":1},{"n":2,"email":"b"}]}`, []string{"$.items[*].email"}, remove, `{"items":[{"n":1},{"n":2}]}`},
		// Mixed remove and replace.
		{`[1,2,3,4]`, []string{"$[*]"}, func(m Match) (Edit, error) {
			if m.Value[0]%2 == 1 {
				return Edit{Remove: true}, nil
			}
			return Edit{Replace: []byte(`"even"`)}, nil
		}, `["even","even"]`},
		{`{"a":1,"b":2,"c":3}`, []string{"$.*"}, func(m Match) (Edit, error) {
			if string(m.Value) == "2" {
				return Edit{Replace: []byte(`20`)}, nil
			}
			return Edit{Remove: true}, nil
		}, `{"b":20}`},
		{`{"a":{"x":1,"y":2},"b":[1,{"y":3}]}`, []string{"$.a.y", "$.b[0]", "$.b[1].y"}, remove, `{"a":{"x":1},"b":[{}]}`},
		// Remove wins over Replace.
		{`[1,2]`, []string{"$[0]"}, func(Match) (Edit, error) { return Edit{Replace: []byte("9"), Remove: true}, nil }, `[2]`},
	}
	for _, tt := range tests {
		doc := []byte(tt.doc)
		out, _, err := Rewrite(doc, parseAll(t, tt.paths...), tt.fn)
		if err != nil {
			t.Errorf("%s %q: %v", tt.doc, tt.paths, err)
			continue
		}
		if string(out) != tt.want {
			t.Errorf("%s %q:\n got %s\nwant %s", tt.doc, tt.paths, out, tt.want)
		}
		if !json.Valid(out) {
			t.Errorf("%s %q: output %s not valid", tt.doc, tt.paths, out)
		}
		if string(doc) != tt.doc {
			t.Errorf("%s %q: input modified", tt.doc, tt.paths)
		}
	}
}

func TestRewriteNoCopy(t *testing.T) {
	doc := []byte(`{"a":[1,2,{"b":"c"}],"ssn":"x"}`)
	for _, fn := range []editFunc{nil, func(Match) (Edit, error) { return Edit{}, nil }} {
		out, n, err := Rewrite(doc, parseAll(t, "$.a[*]", "$.ssn", "$.nope"), fn)
		if err != nil || n != 4 {
			t.Fatalf("Rewrite: %d, %v", n, err)
		}
		if len(out) != len(doc) || &out[0] != &doc[0] {
			t.Error("Rewrite without edits copied the document")
		}
	}
	out, n, err := Rewrite(doc, nil, nil)
	if err != nil || n != 0 || &out[0] != &doc[0] {
		t.Errorf("Rewrite with no paths: %d, %v", n, err)
	}
	out, err = Scalars(doc, func(string, []byte, Kind) (Edit, error) { return Edit{}, nil })
	if err != nil || &out[0] != &doc[0] {
		t.Errorf("Scalars without edits copied or failed: %v", err)
	}
}

func TestRewriteKinds(t *testing.T) {
	doc := `{"s":"x","n":-1.5e3,"o":{},"a":[],"t":true,"f":false,"z":null}`
	want := map[string]Kind{`"x"`: String, "-1.5e3": Number, "{}": Object, "[]": Array, "true": True, "false": False, "null": Null}
	_, n, err := Rewrite([]byte(doc), parseAll(t, "$.*"), func(m Match) (Edit, error) {
		if want[string(m.Value)] != m.Kind {
			t.Errorf("%s: kind %v", m.Value, m.Kind)
		}
		return Edit{}, nil
	})
	if err != nil || n != 7 {
		t.Fatalf("Rewrite: %d, %v", n, err)
	}
	if String.String() != "string" || Null.String() != "null" || Kind(0).String() != "invalid" || Kind(99).String() != "Kind(99)" {
		t.Error("Kind.String")
	}
}

func TestRewriteCallbackErrors(t *testing.T) {
	boom := errors.New("boom")
	_, n, err := Rewrite([]byte(`[1,2,3]`), parseAll(t, "$[*]"), func(m Match) (Edit, error) {
		if string(m.Value) == "2" {
			return Edit{}, boom
		}
		return Edit{}, nil
	})
	if err != boom || n != 2 {
		t.Errorf("callback error: %d, %v", n, err)
	}
	if _, _, err := Rewrite([]byte(` {"a":1} `), parseAll(t, "$"), remove); err != ErrRemoveRoot {
		t.Errorf("remove root: %v", err)
	}
	if _, _, err := Rewrite([]byte(`[1]`), parseAll(t, "$[0]"), replaceWith("")); err != ErrEmptyReplace {
		t.Errorf("empty replace: %v", err)
	}
	// A syntax error after an edit still fails the whole rewrite.
	out, _, err := Rewrite([]byte(`[1,2,]`), parseAll(t, "$[0]"), replaceWith("0"))
	if err == nil || out != nil {
		t.Errorf("error after edit: %q, %v", out, err)
	}
}

func TestRewriteManyPaths(t *testing.T) {
	var names []string
	var doc strings.Builder
	doc.WriteString("{")
	for i := range 150 {
		names = append(names, fmt.Sprintf("$.k%d.v", i))
		if i > 0 {
			doc.WriteString(",")
		}
		fmt.Fprintf(&doc, `"k%d":{"v":%d}`, i, i)
	}
	doc.WriteString("}")
	n := 0
	_, count, err := Rewrite([]byte(doc.String()), parseAll(t, names...), func(m Match) (Edit, error) {
		if string(m.Value) != fmt.Sprint(m.Path) {
			t.Errorf("path %d matched %s", m.Path, m.Value)
		}
		n++
		return Edit{}, nil
	})
	if err != nil || count != 150 || n != 150 {
		t.Errorf("got %d/%d matches, %v", count, n, err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	deep := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	tests := []struct {
		doc  string
		off  int
		want string
	}{
		{``, 0, "unexpected end of input looking for beginning of value"},
		{`   `, 3, "unexpected end of input"},
		{`{`, 1, "unexpected end of input looking for object member name"},
		{`{"a"`, 4, "unexpected end of input after object member name"},
		{`{"a":`, 5, "unexpected end of input looking for beginning of value"},
		{`{"a":1`, 6, "unexpected end of input after object member value"},
		{`{"a":1,}`, 7, "invalid character '}' looking for object member name"},
		{`{"a" 1}`, 5, "invalid character '1' after object member name"},
		{`{a:1}`, 1, "invalid character 'a' looking for object member name"},
		{`{"a":1 "b":2}`, 7, `invalid character '"' after object member value`},
		{`[1,2`, 4, "unexpected end of input after array element"},
		{`[1,]`, 3, "invalid character ']' looking for beginning of value"},
		{`[1 2]`, 3, "invalid character '2' after array element"},
		{`[,1]`, 1, "invalid character ',' looking for beginning of value"},
		{`{"a":1}}`, 7, "invalid character '}' after top-level value"},
		{`1 2`, 2, "invalid character '2' after top-level value"},
		{`{} x`, 3, "after top-level value"},
		{`"abc`, 4, "unexpected end of input in string"},
		{`"a\`, 3, "unexpected end of input in string escape"},
		{`"a\x"`, 3, `invalid escape 'x' in string`},
		{`"a\u12x4"`, 6, `invalid character 'x' in \u escape`},
		{`"a\u12"`, 6, `invalid character '"' in \u escape`},
		{"\"a\tb\"", 2, `invalid control character '\x09' in string`},
		{"\"a\x00b\"", 2, `invalid control character '\x00' in string`},
		{`tru`, 3, "unexpected end of input in literal true"},
		{`trUe`, 2, "invalid character 'U' in literal true"},
		{`nul`, 3, "in literal null"},
		{`falsy`, 4, "in literal false"},
		{`-`, 1, "unexpected end of input in numeric literal"},
		{`-a`, 1, "invalid character 'a' in numeric literal"},
		{`01`, 1, "invalid character '1' after top-level value"},
		{`1.`, 2, "after decimal point"},
		{`1.e3`, 2, "after decimal point"},
		{`1e`, 2, "in exponent"},
		{`1e+`, 3, "in exponent"},
		{`.5`, 0, "invalid character '.' looking for beginning of value"},
		{`+1`, 0, "invalid character '+'"},
		{"\xef\xbb\xbf{}", 0, `invalid character '\xef'`},
		{`[1,2]x`, 5, "after top-level value"},
		{deep(129), 128, "nesting deeper than 128"},
		{`{"a":` + deep(128) + `}`, 132, "nesting deeper than 128"},
	}
	paths := [][]Path{nil, parseAll(t, "$"), parseAll(t, "$.*", "$[*]", "$[0][0]", "$.a[0]")}
	for _, tt := range tests {
		if json.Valid([]byte(tt.doc)) && !strings.Contains(tt.want, "deeper") {
			t.Errorf("%q is valid JSON", tt.doc)
		}
		check := func(what string, err error) {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Errorf("%s(%q) = %v, want *SyntaxError", what, tt.doc, err)
				return
			}
			if se.Offset != tt.off || !strings.Contains(se.Msg, tt.want) {
				t.Errorf("%s(%q) = %v, want offset %d and %q", what, tt.doc, err, tt.off, tt.want)
			}
			if errors.Is(err, ErrTooDeep) != strings.Contains(tt.want, "deeper") {
				t.Errorf("%s(%q): errors.Is(ErrTooDeep) wrong", what, tt.doc)
			}
		}
		for _, ps := range paths {
			out, _, err := Rewrite([]byte(tt.doc), ps, nil)
			if out != nil {
				t.Errorf("Rewrite(%q) returned output with an error", tt.doc)
			}
			check("Rewrite", err)
		}
		_, err := Scalars([]byte(tt.doc), func(string, []byte, Kind) (Edit, error) { return Edit{}, nil })
		check("Scalars", err)
	}
	// 128 levels is fine.
	for _, doc := range []string{deep(128), `{"a":` + deep(127) + `}`} {
		if _, _, err := Rewrite([]byte(doc), parseAll(t, "$[0][0]"), nil); err != nil {
			t.Errorf("depth 128: %v", err)
		}
	}
	err := &SyntaxError{Offset: 4, Msg: "unexpected end of input"}
	if err.Error() != "jsonpath: invalid JSON at offset 4: unexpected end of input" {
		t.Errorf("Error() = %q", err.Error())
	}
}

func TestValidAgreesWithEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`0`, `-0`, `-0.0e-0`, `1E+10`, `123.456`, `""`, `"\u00e9\n\/"`, "\"\xff\xfe\"", "\"\xed\xa0\x80\"",
		`{}`, `[]`, ` [ ] `, "\t{\r\n}\n", `{"":""}`, `[null,true,false]`, `"\ud800"`, "\"\u2028\"", "\"\x7f\"",
	} {
		if !json.Valid([]byte(doc)) {
			t.Fatalf("%q not valid per encoding/json", doc)
		}
		if _, _, err := Rewrite([]byte(doc), parseAll(t, "$"), nil); err != nil {
			t.Errorf("Rewrite(%q): %v", doc, err)
		}
	}
}
