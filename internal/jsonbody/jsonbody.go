// Package jsonbody owns the rules by which Rampart reads a JSON body when a
// decision depends on its members: what counts as JSON (IsJSON), when two
// member names are the same name (Fold: Unicode simple case folding, the
// way encoding/json matches names, so "ssn", "SSN" and "ſsn" (a long s)
// are one name to a Go upstream), the top-level members of an object body
// (Members), every member name at any depth (EachName), and the refusal of
// any object that repeats a name (CheckDuplicates). Parsers disagree on which copy of a repeated member
// wins; an attacker who knows that hides a field from one of them. One set
// of rules for every stage is how no two stages disagree on a body.
//
// Validity is jsonpath's (json.Valid, nesting at most jsonpath.MaxDepth),
// checked before any member is read, so a body these functions accept is
// one that jsonpath, which protect and limits rewrite bodies with, accepts
// too. It does not rewrite bodies (jsonpath does) or validate them against
// schemas.
package jsonbody

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// IsJSON reports whether a Content-Type names JSON: application/json, or an
// application/*+json type (RFC 6839), with any parameters.
func IsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")
}

// Fold returns the form of a member name under which names that
// encoding/json would match are equal: each rune is replaced by the
// smallest rune of its Unicode simple case-folding orbit (so K, k and the
// Kelvin sign are one letter, as are s, S and ſ). Invalid UTF-8 has
// already become U+FFFD in a decoded name.
func Fold(name string) string {
	ascii := true
	for i := range len(name) {
		ascii = ascii && name[i] < utf8.RuneSelf
	}
	if ascii {
		// An ASCII letter's orbit is its two cases (k and s reach out of
		// ASCII, to larger runes): the smallest is the upper case.
		// strings.ToUpper returns name itself when nothing changes.
		return strings.ToUpper(name)
	}
	var b strings.Builder
	b.Grow(len(name))
	for _, r := range name {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// Members returns the member names of a body that must be exactly one
// JSON object, in order, decoded. It refuses a body that is not valid
// JSON, is not an object, holds anything after the object, or repeats a
// member name (by Fold) at the top level.
func Members(b []byte) ([]string, error) {
	if err := valid(b); err != nil {
		return nil, err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var names []string
	seen := map[string]bool{}
	for d.More() {
		k, err := d.Token()
		if err != nil {
			return nil, err
		}
		name, _ := k.(string)
		if f := Fold(name); seen[f] {
			return nil, fmt.Errorf("duplicate member %q", TruncateName(name))
		} else {
			seen[f] = true
		}
		names = append(names, name)
		var skip json.RawMessage
		if err := d.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// CheckDuplicates refuses a JSON document that is not valid, nests deeper
// than maxDepth (at most jsonpath.MaxDepth), or has an object anywhere that
// repeats a member name (by Fold).
func CheckDuplicates(b []byte, maxDepth int) error {
	if err := valid(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	return checkValue(d, 0, min(maxDepth, jsonpath.MaxDepth))
}

func checkValue(d *json.Decoder, depth, maxDepth int) error {
	if depth > maxDepth {
		return fmt.Errorf("JSON nested deeper than %d", maxDepth)
	}
	t, err := d.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		seen := map[string]bool{}
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return err
			}
			name, _ := k.(string)
			f := Fold(name)
			if seen[f] {
				return fmt.Errorf("duplicate member %q", TruncateName(name))
			}
			seen[f] = true
			if err := checkValue(d, depth+1, maxDepth); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	case json.Delim('['):
		for d.More() {
			if err := checkValue(d, depth+1, maxDepth); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	}
	return nil
}

// EachName calls fn with every member name of a valid JSON document, at
// any depth, decoded, in document order; it stops at fn's first error and
// returns it.
func EachName(b []byte, fn func(name string) error) error {
	if err := valid(b); err != nil {
		return err
	}
	d := json.NewDecoder(bytes.NewReader(b))
	return eachName(d, fn)
}

func eachName(d *json.Decoder, fn func(string) error) error {
	t, err := d.Token()
	if err != nil {
		return err
	}
	switch t {
	case json.Delim('{'):
		for d.More() {
			k, err := d.Token()
			if err != nil {
				return err
			}
			name, _ := k.(string)
			if err := fn(name); err != nil {
				return err
			}
			if err := eachName(d, fn); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	case json.Delim('['):
		for d.More() {
			if err := eachName(d, fn); err != nil {
				return err
			}
		}
		_, err = d.Token()
		return err
	}
	return nil
}

// valid applies jsonpath's validity: one JSON value (json.Valid), nested
// at most jsonpath.MaxDepth deep.
func valid(b []byte) error {
	_, err := jsonpath.Scalars(b, func(string, []byte, jsonpath.Kind) (jsonpath.Edit, error) { return jsonpath.Edit{}, nil })
	return err
}

// TruncateName bounds a member name quoted in an error or a refusal (it
// may be the client's): 64 bytes, cut at a rune boundary.
func TruncateName(s string) string {
	if len(s) <= 64 {
		return s
	}
	cut := 64
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
