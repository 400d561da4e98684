package limits

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestRecordScanner(t *testing.T) {
	for _, tc := range []struct {
		name, path, body string
		count            int64
		keep             int64
		cut              string
	}{
		{"top array", "$", `[1, 2, {"a":[1,2,3]}, "x,]"]`, 4, 2, `[1, 2]`},
		{"empty", "$", `[]`, 0, 0, `[]`},
		{"keep zero", "$", `[{"id":1},{"id":2}]`, 2, 0, `[]`},
		{"keep more", "$", `[1,2]`, 2, 5, `[1,2]`},
		{"items", "$.items", `{"total":3,"items":[{"id":1},{"id":2},{"id":3}],"next":"/p/2"}`, 3, 1, `{"total":3,"items":[{"id":1}],"next":"/p/2"}`},
		{"nested path", "$.data.items", `{"items":[1],"data":{"x":[1,2],"items":[[1],[2]]}}`, 2, 1, `{"items":[1],"data":{"x":[1,2],"items":[[1]]}}`},
		{"key in a string", "$.items", `{"a":"\"items\":[1,2]","items":[true,false,null]}`, 3, 3, ""},
		{"escaped key", "$.items", `{"it\u0065ms":[1,2]}`, 2, 2, ""},
		{"same key deeper is not it", "$.items", `{"x":{"items":[1,2,3]}}`, 0, 0, ""},
		{"not an array", "$.items", `{"items":{"a":1}}`, 0, 0, ""},
		{"object top for $", "$", `{"a":[1,2]}`, 0, 0, ""},
		{"malformed", "$", `[1,2,`, 2, 0, ""},
		{"strings with brackets", "$", `["[", "]", "\\", "\\\"]"]`, 4, 1, `["["]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := parsePath(tc.path)
			for _, chunk := range []int{1, 3, 1000} { // any chunking gives the same answer
				s := newRecordScanner(path, foldPath(path), tc.keep)
				for b := tc.body; b != ""; {
					n := min(chunk, len(b))
					_, _ = s.Write([]byte(b[:n]))
					b = b[n:]
				}
				if s.count != tc.count {
					t.Fatalf("chunk %d: count %d, want %d", chunk, s.count, tc.count)
				}
				if tc.cut != "" {
					got := string(s.truncate([]byte(tc.body)))
					if got != tc.cut {
						t.Fatalf("chunk %d: cut %s, want %s", chunk, got, tc.cut)
					}
					if !json.Valid([]byte(got)) {
						t.Fatalf("cut is not JSON: %s", got)
					}
				}
			}
		})
	}
}

func parsePath(p string) []string {
	if p == "$" {
		return nil
	}
	return strings.Split(strings.TrimPrefix(p, "$."), ".")
}

// FuzzRecordScanner checks that the scanner never panics, that on valid
// JSON its count matches encoding/json's, and that a cut body stays valid
// JSON with the kept number of records.
func FuzzRecordScanner(f *testing.F) {
	for _, s := range []string{`[1,2,3]`, `{"items":[{"a":"]"},2]}`, `[[[[]]]]`, `["\"",",",{}]`, `{"items":[]}`} {
		f.Add([]byte(s), uint8(1), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, keep uint8, items bool) {
		var path []string
		if items {
			path = []string{"items"}
		}
		s := newRecordScanner(path, foldPath(path), int64(keep))
		_, _ = s.Write(body)
		if !json.Valid(body) {
			return
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return
		}
		if items {
			if m, ok := v.(map[string]any); ok {
				v = m["items"]
			} else {
				v = nil
			}
		}
		arr, isArr := v.([]any)
		if !isArr {
			if s.count != 0 && s.found() {
				t.Fatalf("counted %d outside an array", s.count)
			}
			return
		}
		if s.count != int64(len(arr)) {
			t.Fatalf("count %d, encoding/json sees %d in %s", s.count, len(arr), body)
		}
		cut := s.truncate(body)
		if !json.Valid(cut) {
			t.Fatalf("cut %s of %s is not JSON", cut, body)
		}
		var w any
		_ = json.Unmarshal(cut, &w)
		if items {
			w = w.(map[string]any)["items"]
		}
		if got, want := len(w.([]any)), min(len(arr), int(keep)); got != want {
			t.Fatalf("cut keeps %d, want %d: %s", got, want, cut)
		}
	})
}

// TestRecordScannerNames: keys are read as jsonpath and jsonbody read
// them, and a name repeated on the path (by jsonbody.Fold) is a duplicate.
func TestRecordScannerNames(t *testing.T) {
	escaped := strings.Repeat(`\u0061`, 50) // 300 bytes as written, 50 read
	for _, tc := range []struct {
		name, path, body string
		count            int64
		dup              bool
	}{
		{"long escaped key", "$." + strings.Repeat("a", 50), `{"` + escaped + `":[1,2]}`, 2, false},
		{"invalid UTF-8 reads as U+FFFD", "$.\ufffd", "{\"\xff\":[1]}", 1, false},
		{"same name twice", "$.items", `{"items":[1],"items":[1,2,3]}`, 1, true},
		{"same name in another case", "$.items", `{"items":[1],"ITEMS":[1,2,3]}`, 1, true},
		{"folded before", "$.ssn", `{"\u017fsn":[1,2,3],"ssn":[1]}`, 1, true},
		{"repeated ancestor", "$.data.items", `{"data":{"items":[1]},"DATA":{"items":[1,2]}}`, 1, true},
		{"another case alone is another name", "$.items", `{"ITEMS":[1,2]}`, 0, false},
		{"repeats inside records are not on the path", "$.items", `{"items":[{"id":1,"id":2}],"x":{"a":1,"a":2}}`, 1, false},
		{"no names on the root path", "$", `[{"a":1,"a":2}]`, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newRecordScanner(parsePath(tc.path), foldPath(parsePath(tc.path)), 0)
			_, _ = s.Write([]byte(tc.body))
			if s.count != tc.count || s.dup != tc.dup {
				t.Fatalf("count %d, dup %v; want %d, %v", s.count, s.dup, tc.count, tc.dup)
			}
		})
	}
}
