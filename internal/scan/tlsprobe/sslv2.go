package tlsprobe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// SSL 2.0 cipher specs (three bytes each), all of them broken.
var sslv2Specs = []struct {
	code uint32
	name string
}{
	{0x010080, "SSL_CK_RC4_128_WITH_MD5"},
	{0x020080, "SSL_CK_RC4_128_EXPORT40_WITH_MD5"},
	{0x030080, "SSL_CK_RC2_128_CBC_WITH_MD5"},
	{0x040080, "SSL_CK_RC2_128_CBC_EXPORT40_WITH_MD5"},
	{0x050080, "SSL_CK_IDEA_128_CBC_WITH_MD5"},
	{0x060040, "SSL_CK_DES_64_CBC_WITH_MD5"},
	{0x0700C0, "SSL_CK_DES_192_EDE3_CBC_WITH_MD5"},
}

// SSLv2SpecName names an SSL 2.0 cipher spec ("no cipher spec" for 0,
// a SERVER-HELLO that offered none).
func SSLv2SpecName(code uint32) string {
	if code == 0 {
		return "no cipher spec"
	}
	for _, s := range sslv2Specs {
		if s.code == code {
			return s.name
		}
	}
	return fmt.Sprintf("0x%06X", code)
}

// MarshalSSLv2 encodes an SSL 2.0 CLIENT-HELLO offering every SSL 2.0
// cipher spec, with challenge as its 16-byte challenge.
func MarshalSSLv2(challenge [16]byte) []byte {
	specs := make([]byte, 0, 3*len(sslv2Specs))
	for _, s := range sslv2Specs {
		specs = append(specs, binary.BigEndian.AppendUint32(nil, s.code)[1:]...) // three bytes on the wire
	}
	msg := []byte{1, 0, 2}                                       // CLIENT-HELLO, version 0.2
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(specs))) // #nosec G115 -- 21 bytes
	msg = binary.BigEndian.AppendUint16(msg, 0)                  // no session id
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(challenge)))
	msg = append(msg, specs...)
	msg = append(msg, challenge[:]...)
	hdr := binary.BigEndian.AppendUint16(nil, uint16(len(msg))|0x8000) // #nosec G115 -- 42 bytes
	return append(hdr, msg...)
}

// ReadSSLv2Answer reads the server's answer to an SSL 2.0 hello. A
// server that answers in TLS (an alert) or closes the connection refused.
func ReadSSLv2Answer(r io.Reader) (Answer, error) {
	var hdr [2]byte
	if n, err := io.ReadFull(r, hdr[:]); err != nil {
		if refusal := silent(err); n == 0 && refusal != "" {
			return Answer{Refusal: refusal}, nil
		}
		return Answer{}, fmt.Errorf("reading a record header: %w", err)
	}
	if hdr[0]&0x80 == 0 {
		// A TLS record (an alert, most often), or a three-byte SSL 2.0
		// header; servers answer a hello with neither.
		return Answer{Refusal: fmt.Sprintf("answered with something other than SSL 2.0 (first bytes %q)", printable(hdr[:]))}, nil
	}
	n := int(hdr[0]&0x7f)<<8 | int(hdr[1])
	if n == 0 {
		return Answer{}, errors.New("empty SSL 2.0 record")
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(r, data); err != nil {
		return Answer{}, fmt.Errorf("reading a %d-byte SSL 2.0 record: %w", n, err)
	}
	switch data[0] {
	case 0: // ERROR
		return Answer{Refusal: "SSL 2.0 error message"}, nil
	case 4: // SERVER-HELLO
	default:
		return Answer{}, fmt.Errorf("SSL 2.0 message type %d, not a SERVER-HELLO", data[0])
	}
	// type(1) session_id_hit(1) cert_type(1) version(2) cert_len(2)
	// specs_len(2) conn_id_len(2), then certificate and specs.
	if len(data) < 11 {
		return Answer{}, fmt.Errorf("SSL 2.0 SERVER-HELLO of %d bytes is too short", len(data))
	}
	v := binary.BigEndian.Uint16(data[3:])
	certLen := int(binary.BigEndian.Uint16(data[5:]))
	specsLen := int(binary.BigEndian.Uint16(data[7:]))
	if specsLen%3 != 0 {
		return Answer{}, fmt.Errorf("SSL 2.0 SERVER-HELLO with %d bytes of cipher specs", specsLen)
	}
	if len(data) < 11+certLen+specsLen {
		return Answer{}, errors.New("SSL 2.0 SERVER-HELLO shorter than its certificate and cipher specs")
	}
	if specsLen == 0 {
		// SSL 2.0 on, every cipher off: OpenSSL before 1.0.2f still
		// negotiated one (CVE-2015-3197), and the protocol is on anyway.
		return Answer{Accepted: true, Version: v}, nil
	}
	s := data[11+certLen:]
	return Answer{Accepted: true, Version: v, Suite: uint32(s[0])<<16 | uint32(s[1])<<8 | uint32(s[2])}, nil
}

// ProbeSSLv2 sends an SSL 2.0 hello on conn and reads the answer, within
// ctx and at most 5 seconds. It does not close conn.
func ProbeSSLv2(ctx context.Context, conn net.Conn) (Answer, error) {
	var challenge [16]byte
	if _, err := rand.Read(challenge[:]); err != nil {
		return Answer{}, err
	}
	return exchange(ctx, conn, MarshalSSLv2(challenge), ReadSSLv2Answer)
}
