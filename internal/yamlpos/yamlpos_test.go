package yamlpos_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/yamlpos"
)

func TestIndex(t *testing.T) {
	doc := "openapi: 3.1.0\npaths:\n  /a~b/{id}:\n    get:\n      tags: [x, y]\n"
	idx, err := yamlpos.New([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ptr, at   string
		line, col int
	}{
		{"", "", 1, 1},
		{"/openapi", "/openapi", 1, 1},
		{"/paths/~1a~0b~1{id}", "/paths/~1a~0b~1{id}", 3, 3},
		{"/paths/~1a~0b~1{id}/get/tags/1", "/paths/~1a~0b~1{id}/get/tags/1", 5, 17},
		{"/paths/~1a~0b~1{id}/get/responses/200", "/paths/~1a~0b~1{id}/get", 4, 5},
	}
	for _, tt := range tests {
		at, p := idx.Locate(tt.ptr)
		if at != tt.at || p.Line != tt.line || p.Column != tt.col {
			t.Errorf("Locate(%q) = %q %d:%d, want %q %d:%d", tt.ptr, at, p.Line, p.Column, tt.at, tt.line, tt.col)
		}
	}
	if v, ok := idx.Scalar("/openapi"); !ok || v != "3.1.0" {
		t.Errorf("Scalar(/openapi) = %q %v", v, ok)
	}
	if _, ok := idx.Scalar("/paths"); ok {
		t.Error("Scalar(/paths) reported a mapping as a scalar")
	}
	if got := yamlpos.Pointer("paths", "/a~b", "get"); got != "/paths/~1a~0b/get" {
		t.Errorf("Pointer = %q", got)
	}
}

func TestIndexRefuses(t *testing.T) {
	tests := []struct{ name, doc, msg string }{
		{"syntax", "a: [1,\n", "not valid JSON or YAML"},
		{"empty", "", "empty document"},
		{"array", "[1, 2]", "must be a JSON or YAML object"},
		{"deep", "a: " + strings.Repeat("[", yamlpos.MaxDepth+10) + strings.Repeat("]", yamlpos.MaxDepth+10), "too deeply nested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := yamlpos.New([]byte(tt.doc))
			var se *yamlpos.SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v, want a *SyntaxError", err)
			}
			if !strings.Contains(se.Error(), tt.msg) {
				t.Errorf("err = %q, want it to contain %q", se.Error(), tt.msg)
			}
		})
	}
}

// FuzzIndex checks that indexing never panics and that every pointer it
// reports is placed inside the document, at or after its parent.
func FuzzIndex(f *testing.F) {
	for _, s := range []string{"a: 1", "{\"a\": [1, {\"b\": 2}]}", "a: &x [1]\nb: *x\n", "a:\n  b:\n    - c: d\n", "'~/': 1", "\r?", "a: 1\r\nb: 2\rc: 3", "a: 1\u0085b: 2\u2028c: 3\u2029d: 4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		idx, err := yamlpos.New(data)
		if err != nil {
			return
		}
		lines := lineCount(string(data))
		for ptr, p := range idx {
			if p.Line < 1 || p.Line > lines || p.Column < 1 {
				t.Fatalf("%q placed at %d:%d in a %d-line document", ptr, p.Line, p.Column, lines)
			}
			if ptr == "" {
				continue
			}
			parent := ptr[:strings.LastIndexByte(ptr, '/')]
			if _, ok := idx[parent]; !ok {
				t.Fatalf("%q indexed without its parent %q", ptr, parent)
			}
			if pp := idx[parent]; p.Line < pp.Line {
				t.Fatalf("%q placed at line %d, before its parent %q at %d", ptr, p.Line, parent, pp.Line)
			}
			if at, _ := idx.Locate(ptr + "/~2"); at != ptr {
				t.Fatalf("Locate(%q/~2) = %q", ptr, at)
			}
		}
	})
}

// lineCount counts lines as YAML breaks them: at LF, CRLF, a lone CR, and
// (YAML 1.1, which yaml.v3's scanner follows) NEL, LS and PS.
func lineCount(s string) int {
	n := 1
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				size++
			}
			n++
		case '\n', '\u0085', '\u2028', '\u2029':
			n++
		}
		i += size
	}
	return n
}
