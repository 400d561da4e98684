package jsonpath

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"unsafe"
)

var fuzzPaths = []Path{
	MustParse("$.a"), MustParse("$.*"), MustParse("$[*]"), MustParse("$[0]"), MustParse("$.a[*].b"),
	MustParse("$[*].*"), MustParse("$.*[1]"), MustParse("$['a b']"), MustParse("$[*][*]"), MustParse("$.*.*"),
}

func FuzzRewrite(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[1,2,3]}`, `[{"a":1},{"b":2}]`, ` [ [1 , 2] , [] , {} ] `, `{"a":[{"b":"x"},{"b":null,"c":1}]}`,
		`{"a b":true,"\u0061":false}`, `"str"`, `-1.5e+3`, `[`, `{"a":}`, "\"\xff\"", `[1,2,]`, `{"a":1}x`,
	} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(3))
		f.Add([]byte(s), uint8(14))
	}
	f.Fuzz(func(t *testing.T, doc []byte, mode uint8) {
		paths := fuzzPaths
		if mode&1 == 1 {
			paths = append([]Path{{}}, fuzzPaths...) // with $ first: overlaps everything
		}
		if !checkNoEdits(t, doc, paths) {
			return
		}
		checkEdits(t, doc, mode, paths)
		checkScalarEdits(t, doc, mode)
	})
}

// checkNoEdits checks that Rewrite and Scalars agree with each other and
// with json.Valid on whether doc is JSON (only ErrTooDeep refuses valid
// JSON), that an error is a *SyntaxError with an offset inside doc, and
// that a rewrite with no edits returns doc itself. It reports whether doc
// was accepted.
func checkNoEdits(t *testing.T, doc []byte, paths []Path) bool {
	t.Helper()
	valid := json.Valid(doc)
	out, _, err := Rewrite(doc, paths, func(Match) (Edit, error) { return Edit{}, nil })
	_, serr := Scalars(doc, func(string, []byte, Kind) (Edit, error) { return Edit{}, nil })
	if (err == nil) != (serr == nil) {
		t.Fatalf("Rewrite and Scalars disagree on %q: %v / %v", doc, err, serr)
	}
	if err != nil {
		var se *SyntaxError
		if !errors.As(err, &se) || se.Offset < 0 || se.Offset > len(doc) {
			t.Fatalf("Rewrite(%q): bad error %v", doc, err)
		}
		if valid && !errors.Is(err, ErrTooDeep) {
			t.Fatalf("Rewrite(%q) = %v, but json.Valid", doc, err)
		}
		return false
	}
	if !valid {
		t.Fatalf("Rewrite(%q) succeeded but !json.Valid", doc)
	}
	if unsafe.SliceData(out) != unsafe.SliceData(doc) || len(out) != len(doc) {
		t.Fatalf("Rewrite(%q) with no edits returned a different slice", doc)
	}
	return true
}

// fuzzEdit returns the edit for the i-th match under mode. Bit 1 off:
// replace every match with "x". On: remove matches (all of them with bit
// 2, else two in three), except the root, which cannot be removed. Bit 3
// on: zero edits for every other match, so that insides of matches are
// visited too.
func fuzzEdit(mode uint8) func(i int, m Match) Edit {
	return func(i int, m Match) Edit {
		isRoot := mode&1 == 1 && m.Path == 0
		switch {
		case mode&8 != 0 && i%2 == 0:
			return Edit{}
		case mode&2 != 0 && !isRoot && (mode&4 != 0 || i%3 != 0):
			return Edit{Remove: true}
		}
		return Edit{Replace: []byte(`"x"`)}
	}
}

// checkEdits rewrites a valid doc with mode's edits and checks that the
// result is valid JSON and that the matches and the result are the
// reference implementation's.
func checkEdits(t *testing.T, doc []byte, mode uint8, paths []Path) {
	t.Helper()
	editFor := fuzzEdit(mode)
	var seen []string
	out, _, err := Rewrite(doc, paths, func(m Match) (Edit, error) {
		seen = append(seen, fmt.Sprintf("%d:%v", m.Path, m.Kind))
		return editFor(len(seen), m), nil
	})
	if err != nil {
		t.Fatalf("Rewrite(%q) with edits: %v", doc, err)
	}
	if !json.Valid(out) {
		t.Fatalf("Rewrite(%q) mode %d = %q, not valid JSON", doc, mode, out)
	}
	tree, err := refTree(doc)
	if err != nil {
		t.Fatalf("reference decoder failed on valid %q: %v", doc, err)
	}
	wantTree, wantSeen := refRewrite(tree, paths, editFor)
	if !slices.Equal(seen, wantSeen) {
		t.Fatalf("Rewrite(%q) mode %d matched %q, reference %q", doc, mode, seen, wantSeen)
	}
	gotTree, err := refTree(out)
	if err != nil || !gotTree.equal(wantTree) {
		t.Fatalf("Rewrite(%q) mode %d = %s\n got %v\nwant %v (%v)", doc, mode, out, gotTree, wantTree, err)
	}
}

// checkScalarEdits replaces or removes every scalar of a valid doc and
// checks that the result is valid JSON (or the root could not be removed).
func checkScalarEdits(t *testing.T, doc []byte, mode uint8) {
	t.Helper()
	out, err := Scalars(doc, func(_ string, v []byte, _ Kind) (Edit, error) {
		if len(v)%2 == 0 && mode&1 == 0 {
			return Edit{Remove: true}, nil
		}
		return Edit{Replace: []byte(`"x"`)}, nil
	})
	if err != nil && err != ErrRemoveRoot || err == nil && !json.Valid(out) {
		t.Fatalf("Scalars(%q) = %q, %v", doc, out, err)
	}
}

func FuzzDecodeString(f *testing.F) {
	for _, s := range []string{`""`, `"a\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"\n"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, err := DecodeString(raw)
		valid := json.Valid(raw)
		if err == nil && !valid {
			t.Fatalf("DecodeString(%q) accepted invalid JSON", raw)
		}
		if err != nil && valid && len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
			t.Fatalf("DecodeString(%q): %v, but it is a valid string token", raw, err)
		}
		if err != nil {
			return
		}
		var want string
		if jerr := json.Unmarshal(raw, &want); jerr != nil || got != want {
			t.Fatalf("DecodeString(%q) = %q, json says %q (%v)", raw, got, want, jerr)
		}
		back, err := DecodeString(AppendString(nil, got))
		if err != nil || back != got {
			t.Fatalf("AppendString round trip of %q: %q, %v", got, back, err)
		}
	})
}
