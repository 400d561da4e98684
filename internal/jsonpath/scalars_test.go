package jsonpath

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestScalars(t *testing.T) {
	tests := []struct{ doc, want string }{
		{`"x"`, `:"x"`},
		{` 12 `, `:12`},
		{`true`, ``},
		{`[1,"a",null,[2,[3]]]`, `:1 :"a" :2 :3`},
		{`{"a":1,"b":"x","c":true,"d":null}`, `a:1 b:"x"`},
		{`{"a":[1,[2,{"b":3,"c":[4]}],5],"d":{"e":{"f":-6.5}}}`, `a:1 a:2 b:3 c:4 a:5 f:-6.5`},
		{`{"names":{"k":"v"},"v":"k"}`, `k:"v" v:"k"`}, // member names are not values
		{`[{"a":1},2]`, `a:1 :2`},
		{`{"s\u0073n":"1","a\nb":"2","\ud83d\ude00":3}`, `ssn:"1" a` + "\n" + `b:"2" ` + "\U0001F600" + `:3`},
		{"{\"a\xffb\":1}", "a\uFFFDb:1"},
		{`{"a":"es\"c\u0041"}`, `a:"es\"c\u0041"`},
		{`{"x":1,"x":2}`, `x:1 x:2`},
		{`{"":1}`, `:1`},
	}
	for _, tt := range tests {
		var got []string
		doc := []byte(tt.doc)
		out, err := Scalars(doc, func(name string, value []byte, kind Kind) (Edit, error) {
			if (kind == String) != (value[0] == '"') || kind != String && kind != Number {
				t.Errorf("%s: %s has kind %v", tt.doc, value, kind)
			}
			got = append(got, name+":"+string(value))
			return Edit{}, nil
		})
		if err != nil || string(out) != tt.doc {
			t.Errorf("Scalars(%s) = %s, %v", tt.doc, out, err)
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("Scalars(%s):\n got %s\nwant %s", tt.doc, g, tt.want)
		}
	}
}

func TestScalarsEdits(t *testing.T) {
	doc := `{"name":"Ann","ssn":"123-45-6789","tags":["a","123-45-6789"],"n":{"ssn":5,"ok":1}}`
	out, err := Scalars([]byte(doc), func(name string, value []byte, kind Kind) (Edit, error) {
		s := string(value)
		if kind == String {
			var err error
			if s, err = DecodeString(value); err != nil {
				return Edit{}, err
			}
		}
		switch {
		case name == "ssn" && kind == Number:
			return Edit{Remove: true}, nil
		case strings.Contains(s, "123-45"):
			return Edit{Replace: AppendString(nil, "[redacted]")}, nil
		}
		return Edit{}, nil
	})
	want := `{"name":"Ann","ssn":"[redacted]","tags":["a","[redacted]"],"n":{"ok":1}}`
	if err != nil || string(out) != want {
		t.Errorf("got %s, %v\nwant %s", out, err, want)
	}
	if _, err := Scalars([]byte(`"x"`), func(string, []byte, Kind) (Edit, error) { return Edit{Remove: true}, nil }); err != ErrRemoveRoot {
		t.Errorf("remove root: %v", err)
	}
	if _, err := Scalars([]byte(`["x"]`), func(string, []byte, Kind) (Edit, error) { return Edit{}, fmt.Errorf("stop") }); err == nil || err.Error() != "stop" {
		t.Errorf("callback error: %v", err)
	}
}

func TestScalarsNameCacheCollisions(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	for i := range 500 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"n%d":%d}`, i%200, i%200)
	}
	b.WriteString("]")
	_, err := Scalars([]byte(b.String()), func(name string, value []byte, _ Kind) (Edit, error) {
		if name != "n"+string(value) {
			t.Fatalf("name %q for %s", name, value)
		}
		return Edit{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecodeString(t *testing.T) {
	tests := []string{
		`""`, `"abc"`, `"é"`, `"\u00e9"`, `"\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud83d"`, `"\ude00\ud83d"`,
		`"\ud83dx"`, `"\ud83d\u0041"`, "\"\xff\"", "\"a\xe9b\"", "\"\xed\xa0\x80\"", `"\u0000"`, "\"\u2028\"",
	}
	for _, raw := range tests {
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", raw, err)
		}
		got, err := DecodeString([]byte(raw))
		if err != nil || got != want {
			t.Errorf("DecodeString(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for _, raw := range []string{``, `abc`, `"abc`, `"a" `, ` "a"`, `"a\q"`, `"a` + "\n" + `"`, `1`, `"a"b"`} {
		if _, err := DecodeString([]byte(raw)); err == nil {
			t.Errorf("DecodeString(%q) succeeded", raw)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\n\r\t\b\f\x00\x1f\x7f", `"\n\r\t\b\f\u0000\u001f` + "\x7f" + `"`},
		{"é\U0001F600", "\"é\U0001F600\""},
		{"a\xffb", `"a\ufffdb"`},
		{"<&>\u2028", "\"<&>\u2028\""},
	}
	for _, tt := range tests {
		got := AppendString([]byte("x"), tt.in)
		if string(got) != "x"+tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[1:], tt.want)
		}
		if !json.Valid(got[1:]) {
			t.Errorf("AppendString(%q) not valid JSON", tt.in)
		}
		back, err := DecodeString(got[1:])
		if err != nil || back != strings.ToValidUTF8(tt.in, "\uFFFD") {
			t.Errorf("DecodeString(AppendString(%q)) = %q, %v", tt.in, back, err)
		}
	}
}
