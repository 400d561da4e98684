package jsonbody

import (
	"bytes"
	"errors"
)

// Spellings is a set of member names as a config spells them (the names
// on the paths a route encrypts), for finding members that a Go upstream
// would read as one of them but that are spelled otherwise ("SSN" or
// "ſsn" for ssn): a path matching names exactly misses those.
type Spellings struct {
	byFold map[string]map[string]bool // Fold(name) -> spellings
	names  [][]byte
	ascii  bool // every name is ASCII: the byte prefilter is exact enough
}

// NewSpellings returns the set of names.
func NewSpellings(names []string) *Spellings {
	s := &Spellings{byFold: map[string]map[string]bool{}, ascii: true}
	for _, n := range names {
		f := Fold(n)
		if s.byFold[f] == nil {
			s.byFold[f] = map[string]bool{}
		}
		if !s.byFold[f][n] {
			s.byFold[f][n] = true
			s.names = append(s.names, []byte(n))
		}
		for i := range len(n) {
			s.ascii = s.ascii && n[i] < 0x80
		}
	}
	return s
}

// Variant returns the first member name of the JSON document b that folds
// to one of the names but is spelled otherwise, or "" when there is none.
// A document without a JSON escape, without the two non-ASCII letters that
// fold onto ASCII ones (ſ and the Kelvin sign) and where every
// case-insensitive occurrence of each name is an exact one cannot hold
// such a member: it is answered without decoding. Otherwise every member
// name is read (EachName).
func (s *Spellings) Variant(b []byte) (string, error) {
	if len(s.byFold) == 0 || s.ascii && !s.mayHold(b) {
		return "", nil
	}
	var found string
	err := EachName(b, func(name string) error {
		if sp, ok := s.byFold[Fold(name)]; ok && !sp[name] {
			found = name
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return found, nil
	}
	return "", err
}

var (
	errFound = errors.New("found")
	longS    = []byte("\u017f")
	kelvin   = []byte("\u212a")
)

// mayHold is the byte prefilter of Variant.
func (s *Spellings) mayHold(b []byte) bool {
	if bytes.Contains(b, []byte(`\u`)) || bytes.Contains(b, longS) || bytes.Contains(b, kelvin) {
		return true
	}
	for _, n := range s.names {
		if asciiFoldCount(b, n) > bytes.Count(b, n) {
			return true
		}
	}
	return false
}

// asciiFoldCount counts the occurrences of the ASCII name n in b, letters
// in any case.
func asciiFoldCount(b, n []byte) int {
	count := 0
	for i := 0; i+len(n) <= len(b); i++ {
		j := 0
		for j < len(n) && lowerASCII(b[i+j]) == lowerASCII(n[j]) {
			j++
		}
		if j == len(n) {
			count++
		}
	}
	return count
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
