package limits

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/jsonbody"
	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// FuzzSameRecords is the records scanner's part of the differential JSON
// test (jsonbody's FuzzSameMembers is the rest): on any body that jsonpath
// reads, for every path of object keys in the body (and case variants of
// them) that jsonpath can spell, the streaming scanner, fed in two chunks, sees what jsonbody and
// jsonpath see. It calls a name on the path duplicated exactly when an
// object on the path has two members of that name by jsonbody.Fold (so
// never on a body jsonbody accepts), and otherwise counts as many records
// as jsonpath selects with path[*] and finds the array exactly when
// jsonpath selects one at the path.
func FuzzSameRecords(f *testing.F) {
	for _, s := range []string{
		`[1,2,3]`, `{"items":[1,2]}`, `{"it\u0065ms":[1,2]}`, `{"data":{"items":[[1],[2]],"x":[]}}`,
		`{"items":[1],"items":[1,2,3]}`, `{"items":[1],"ITEMS":[1,2,3]}`, `{"ITEMS":[1,2]}`,
		`{"data":{"items":[1]},"DATA":{"items":[1,2]}}`, `{"\u017fsn":[1],"ssn":[1,2]}`,
		`{"` + strings.Repeat(`\u0061`, 50) + `":[1,2]}`, "{\"\xff\":[1]}", `{"a b":[{"c":[1]}]}`,
		`{"items":{"a":1}}`, `[{"x":1,"X":2}]`, `{"items":[{"id":1,"id":2}]}`,
	} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, body []byte, split uint16) {
		if _, err := jsonpath.Scalars(body, func(string, []byte, jsonpath.Kind) (jsonpath.Edit, error) { return jsonpath.Edit{}, nil }); err != nil {
			return // not JSON to jsonpath (or deeper than it reads): nothing to compare
		}
		accepted := jsonbody.CheckDuplicates(body, jsonpath.MaxDepth) == nil
		for _, path := range keyPaths(body) {
			s := newRecordScanner(path, foldPath(path), 0)
			at := int(split) % (len(body) + 1)
			_, _ = s.Write(body[:at])
			_, _ = s.Write(body[at:])
			p, ok := quotedPath(path)
			if !ok {
				continue // too long for jsonpath to compare with
			}
			dup := dupOnPath(t, body, path)
			if dup && accepted {
				t.Fatalf("%q: jsonbody accepts it, yet %q has a duplicate on its path", body, path)
			}
			if s.dup != dup {
				t.Fatalf("%q path %q: the scanner says duplicate %v, jsonbody.Fold says %v", body, path, s.dup, dup)
			}
			if dup {
				continue // refused: the count does not matter
			}
			n, isArray := selectRecords(t, body, p)
			if s.count != int64(n) || s.found() != isArray {
				t.Fatalf("%q path %q: the scanner counts %d (array found %v), jsonpath %d (%v)", body, path, s.count, s.found(), n, isArray)
			}
		}
	})
}

// keyPaths returns the records paths to try on a body that jsonpath
// reads: $, every path of object keys in it that config.RecordsPath could
// spell as far as length goes (at most 16 keys of at most 256 bytes), and
// for each an upper-case variant of its last key; at most 64 of them.
func keyPaths(body []byte) [][]string {
	paths := [][]string{nil}
	var walk func(v any, prefix []string)
	walk = func(v any, prefix []string) {
		m, ok := v.(map[string]any)
		if !ok || len(prefix) == 16 {
			return
		}
		for k, sub := range m {
			if len(paths) >= 64 || len(k) > 256 || k == "" {
				continue
			}
			p := append(append([]string(nil), prefix...), k)
			paths = append(paths, p)
			if up := strings.ToUpper(k); up != k && len(up) <= 256 {
				paths = append(paths, append(append([]string(nil), prefix...), up))
			}
			walk(sub, p)
		}
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		walk(v, nil)
	}
	return paths
}

// selectRecords returns how many array elements jsonpath selects with
// p[*] and whether it selects an array at p.
func selectRecords(t *testing.T, body []byte, p string) (int, bool) {
	t.Helper()
	_, n, err := jsonpath.Rewrite(body, []jsonpath.Path{jsonpath.MustParse(p + "[*]")}, nil)
	if err != nil {
		t.Fatalf("%q: jsonpath reads it but not with %s[*]: %v", body, p, err)
	}
	isArray := false
	_, _, err = jsonpath.Rewrite(body, []jsonpath.Path{jsonpath.MustParse(p)}, func(m jsonpath.Match) (jsonpath.Edit, error) {
		isArray = isArray || m.Kind == jsonpath.Array
		return jsonpath.Edit{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n, isArray
}

// dupOnPath reports whether an object on path (the body, then the objects
// that jsonpath selects at each shorter prefix) holds two members whose
// names jsonbody.Fold makes the same as the next key of the path.
func dupOnPath(t *testing.T, body []byte, path []string) bool {
	t.Helper()
	objects := [][]byte{body}
	for i, key := range path {
		var next [][]byte
		for _, o := range objects {
			if objectDup(t, o, key) {
				return true
			}
			if i < len(path)-1 {
				next = append(next, members(t, o, key)...)
			}
		}
		objects = next
	}
	return false
}

// objectDup reports whether v is an object with two members that fold to
// key's fold.
func objectDup(t *testing.T, v []byte, key string) bool {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(v))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	seen := 0
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if name, _ := k.(string); jsonbody.Fold(name) == jsonbody.Fold(key) {
			seen++
		}
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return seen > 1
}

// members returns the values that jsonpath selects as v's member key.
func members(t *testing.T, v []byte, key string) [][]byte {
	t.Helper()
	var out [][]byte
	p, _ := quotedPath([]string{key}) // a prefix of a path that jsonpath spells
	_, _, err := jsonpath.Rewrite(v, []jsonpath.Path{jsonpath.MustParse(p)}, func(m jsonpath.Match) (jsonpath.Edit, error) {
		out = append(out, bytes.Clone(m.Value))
		return jsonpath.Edit{}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// quotedPath writes a path of object keys in jsonpath's grammar,
// $["k1"]["k2"], or reports false when jsonpath cannot spell it with [*]
// after it (longer than jsonpath.MaxPathBytes).
func quotedPath(keys []string) (string, bool) {
	b := []byte{'$'}
	for _, k := range keys {
		b = append(b, '[')
		b = jsonpath.AppendString(b, k)
		b = append(b, ']')
	}
	_, err := jsonpath.Parse(string(b) + "[*]")
	return string(b), err == nil
}
