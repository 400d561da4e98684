package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// The ciphertext format, version 1. A ciphertext is text, so that it fits
// in a JSON string or a database column as it is:
//
//	"rampart:v1:" base64url-without-padding( keyID[8] || nonce[12] || AES-256-GCM ciphertext || tag[16] )
//
// The key id is the data key's random, opaque id: it names neither the
// subject nor the version, and a reader finds both in the store. The
// associated data binds the format, the subject, the field, the key
// version and the key id (see fieldAD), so a ciphertext moved to another
// subject or another field, or to another version of the key, does not
// authenticate. A later format gets a new prefix; readers keep reading v1.
const (
	// Prefix starts every version 1 ciphertext.
	Prefix   = "rampart:v1:"
	keyIDLen = 8
	nonceLen = 12
	tagLen   = 16
	// Overhead is what encryption adds to the plaintext, in raw bytes,
	// before base64.
	Overhead = keyIDLen + nonceLen + tagLen

	// MaxSubject and MaxField bound the subject and field names.
	MaxSubject = 256
	MaxField   = 1024
)

// Errors of Decrypt. Each names what went wrong without echoing the
// ciphertext or any key.
var (
	// ErrMalformed: the value is not a Rampart ciphertext of a format
	// this build reads, or it is truncated.
	ErrMalformed = errors.New("not a well-formed rampart ciphertext")
	// ErrKeyGone: no data key has the ciphertext's key id, because the
	// subject was shredded, or the ciphertext comes from another store.
	ErrKeyGone = errors.New("its data key no longer exists (shredded, or made by another store)")
	// ErrWrongSubject: the ciphertext was made for another subject than
	// the one the caller expects.
	ErrWrongSubject = errors.New("it was encrypted for another subject")
	// ErrAuthentication: the ciphertext does not authenticate: it was
	// altered, or moved from another field.
	ErrAuthentication = errors.New("it does not authenticate for this subject and field (altered, or moved from another field)")
	// ErrBadName: the subject or field name is empty or too long.
	ErrBadName = errors.New("bad subject or field name")
)

// IsCiphertext reports whether s looks like a Rampart ciphertext (it may
// still be malformed).
func IsCiphertext(s string) bool { return strings.HasPrefix(s, Prefix) }

// sealed is a parsed ciphertext.
type sealed struct {
	keyID [keyIDLen]byte
	nonce []byte
	ct    []byte // ciphertext || tag
}

func parse(s string) (sealed, error) {
	rest, ok := strings.CutPrefix(s, Prefix)
	if !ok {
		if strings.HasPrefix(s, "rampart:v") {
			return sealed{}, fmt.Errorf("%w: unknown format version", ErrMalformed)
		}
		return sealed{}, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return sealed{}, fmt.Errorf("%w: bad base64", ErrMalformed)
	}
	if len(raw) < Overhead {
		return sealed{}, fmt.Errorf("%w: truncated", ErrMalformed)
	}
	var c sealed
	copy(c.keyID[:], raw)
	c.nonce = raw[keyIDLen : keyIDLen+nonceLen]
	c.ct = raw[keyIDLen+nonceLen:]
	return c, nil
}

// encode appends the text form of a ciphertext to dst.
func encode(dst []byte, keyID [keyIDLen]byte, nonce, ct []byte) []byte {
	raw := make([]byte, 0, Overhead+len(ct))
	raw = append(append(append(raw, keyID[:]...), nonce...), ct...)
	dst = append(dst, Prefix...)
	return base64.RawURLEncoding.AppendEncode(dst, raw)
}

// fieldAD is the associated data of a field ciphertext.
func fieldAD(subject, field string, version int, keyID [keyIDLen]byte) []byte {
	return ad("rampart/field/v1", subject, field, version, keyID)
}

// wrapAD is the associated data of a wrapped data key: a wrapped key moved
// to another subject's row, version or id does not unwrap.
func wrapAD(subject string, version int, keyID [keyIDLen]byte) []byte {
	return ad("rampart/dek/v1", subject, "", version, keyID)
}

// ad encodes its parts unambiguously: a label, then each string with a
// 2-byte length, the version as 4 bytes, and the key id.
func ad(label, subject, field string, version int, keyID [keyIDLen]byte) []byte {
	b := make([]byte, 0, len(label)+1+2+len(subject)+2+len(field)+4+keyIDLen)
	b = append(b, label...)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(subject))) // #nosec G115 -- bounded by MaxSubject
	b = append(b, subject...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(field))) // #nosec G115 -- bounded by MaxField
	b = append(b, field...)
	b = binary.BigEndian.AppendUint32(b, uint32(version)) // #nosec G115 -- versions are positive and small
	return append(b, keyID[:]...)
}

func keyIDString(id [keyIDLen]byte) string { return hex.EncodeToString(id[:]) }

func parseKeyID(s string) ([keyIDLen]byte, error) {
	var id [keyIDLen]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != keyIDLen {
		return id, fmt.Errorf("bad data key id %q", s)
	}
	copy(id[:], b)
	return id, nil
}

func checkNames(subject, field string) error {
	switch {
	case subject == "":
		return fmt.Errorf("%w: the subject is empty", ErrBadName)
	case len(subject) > MaxSubject:
		return fmt.Errorf("%w: the subject is longer than %d bytes", ErrBadName, MaxSubject)
	case len(field) > MaxField:
		return fmt.Errorf("%w: the field name is longer than %d bytes", ErrBadName, MaxField)
	}
	return nil
}

// LooksSealed reports whether b is a well-formed Rampart ciphertext: the
// prefix, then unpadded base64url that decodes to at least the overhead.
// (It may still fail to decrypt.) DLP skips such values: they are random
// bytes, and the fields they belong to are handled by decryption.
func LooksSealed(b []byte) bool {
	rest, ok := bytes.CutPrefix(b, []byte(Prefix))
	if !ok || base64.RawURLEncoding.DecodedLen(len(rest)) < Overhead {
		return false
	}
	for _, c := range rest {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return len(rest)%4 != 1 // a length base64 cannot produce
}
