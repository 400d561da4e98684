// Package tlsprobe speaks just enough of SSL 2.0, SSL 3.0 and TLS 1.0-1.2
// to ask a server whether it accepts a protocol version or a cipher suite
// that crypto/tls can no longer offer: SSL 2.0 and 3.0, NULL, EXPORT,
// single-DES, anonymous and most RC4 suites. It writes one ClientHello
// and reads the server's first answer: a ServerHello names the version
// and suite the server chose; an alert, a closed connection or anything
// that is not a handshake is a refusal. It never completes a handshake,
// so it holds no key exchange and no record encryption, and it never
// sends application data.
//
// It owns the wire format of those two messages and a catalogue of the
// legacy suites. Dialing, budgets, and what counts as a finding belong to
// the scan check that calls it (scan/misconfig).
package tlsprobe

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// Protocol versions, as they appear on the wire.
const (
	SSL20 uint16 = 0x0002
	SSL30 uint16 = 0x0300
	TLS10 uint16 = 0x0301
	TLS11 uint16 = 0x0302
	TLS12 uint16 = 0x0303
)

// VersionName names a wire version ("SSL 3.0", "TLS 1.2").
func VersionName(v uint16) string {
	switch v {
	case SSL20:
		return "SSL 2.0"
	case SSL30:
		return "SSL 3.0"
	case TLS10:
		return "TLS 1.0"
	case TLS11:
		return "TLS 1.1"
	case TLS12:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	}
	return fmt.Sprintf("version 0x%04x", v)
}

// Suite is a cipher suite that crypto/tls does not implement, with the
// reason it is broken.
type Suite struct {
	ID       uint16
	Name     string // IANA name
	Weakness string // why it is broken, in a few words
}

// Weaknesses of the legacy suites.
const (
	NoEncryption     = "no encryption (NULL cipher)"
	NoAuthentication = "no server authentication (anonymous key exchange)"
	Export           = "EXPORT-grade keys (40-56 bits)"
	SingleDES        = "single DES (56-bit key)"
	RC4              = "RC4 (biased keystream)"
)

// legacy lists the suites a probe offers in TLS 1.0-1.2 hellos: every
// suite that is broken outright, most of which crypto/tls cannot offer
// (it still implements three RC4 suites; they are here too, so that RC4
// is judged like the rest).
var legacy = []Suite{
	{0x0001, "TLS_RSA_WITH_NULL_MD5", NoEncryption},
	{0x0002, "TLS_RSA_WITH_NULL_SHA", NoEncryption},
	{0x003B, "TLS_RSA_WITH_NULL_SHA256", NoEncryption},
	{0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA", NoEncryption},
	{0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA", NoEncryption},
	{0xC015, "TLS_ECDH_anon_WITH_NULL_SHA", NoEncryption},
	{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5", Export},
	{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5", Export},
	{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", Export},
	{0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA", Export},
	{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA", Export},
	{0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5", Export},
	{0x0009, "TLS_RSA_WITH_DES_CBC_SHA", SingleDES},
	{0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA", SingleDES},
	{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA", SingleDES},
	{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5", NoAuthentication},
	{0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA", NoAuthentication},
	{0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", NoAuthentication},
	{0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", NoAuthentication},
	{0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", NoAuthentication},
	{0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", NoAuthentication},
	{0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", NoAuthentication},
	{0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA", NoAuthentication},
	{0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA", NoAuthentication},
	{0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", NoAuthentication},
	{0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", NoAuthentication},
	{0x0004, "TLS_RSA_WITH_RC4_128_MD5", RC4},
	{0x0005, "TLS_RSA_WITH_RC4_128_SHA", RC4},
	{0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", RC4},
	{0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA", RC4},
	{0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA", RC4}, // OpenSSL's DHE-DSS-RC4-SHA; not in the IANA registry
	{0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA", RC4},
	{0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA", RC4},
}

// ssl3 is what SSL3Suites returns.
var ssl3 = []uint16{
	0x002F, 0x0035, 0x000A, 0x0005, 0x0004, // AES-CBC, 3DES, RC4 with RSA
	0x0033, 0x0039, 0x0016, // DHE-RSA
	0x0009, 0x0015, 0x0003, 0x0006, 0x0008, 0x0014, // DES, EXPORT
	0x0001, 0x0002, // NULL
}

// scsv is TLS_EMPTY_RENEGOTIATION_INFO_SCSV (RFC 5746), offered in every
// hello so that servers that insist on secure renegotiation still answer.
const scsv = 0x00FF

// Legacy returns the catalogue of legacy suites, in the order a probe
// offers them.
func Legacy() []Suite { return append([]Suite(nil), legacy...) }

// SuiteName names a suite from the catalogue, or gives its number.
func SuiteName(id uint16) string {
	if s, ok := Lookup(id); ok {
		return s.Name
	}
	return fmt.Sprintf("0x%04X", id)
}

// Lookup returns the catalogue entry for id.
func Lookup(id uint16) (Suite, bool) {
	for _, s := range legacy {
		if s.ID == id {
			return s, true
		}
	}
	return Suite{}, false
}

// Hello is one ClientHello to send.
type Hello struct {
	// Version is the highest version offered (SSL30 to TLS12).
	Version uint16
	// Suites are the cipher suites offered, best first.
	Suites []uint16
	// ServerName is sent as SNI in TLS hellos when it is a host name.
	ServerName string
}

// Answer is what the server said to a hello.
type Answer struct {
	// Accepted is true when the server answered with a ServerHello.
	Accepted bool
	// Version and Suite are the ServerHello's choice (SSL 2.0: the
	// first cipher spec, as its three-byte code).
	Version uint16
	Suite   uint32
	// Refusal says how the server refused (an alert's name, "closed
	// the connection", "answered with something else").
	Refusal string
}

// Marshal encodes h as a TLS (or SSL 3.0) record holding a ClientHello,
// with random as its 32-byte random.
func (h Hello) Marshal(random [32]byte) []byte {
	var body []byte
	body = binary.BigEndian.AppendUint16(body, h.Version)
	body = append(body, random[:]...)
	body = append(body, 0) // no session id
	suites := append(append([]uint16(nil), h.Suites...), scsv)
	body = binary.BigEndian.AppendUint16(body, uint16(2*len(suites))) // #nosec G115 -- a few dozen suites
	for _, s := range suites {
		body = binary.BigEndian.AppendUint16(body, s)
	}
	body = append(body, 1, 0) // compression: null only
	if h.Version >= TLS10 {
		ext := extensions(h)
		body = binary.BigEndian.AppendUint16(body, uint16(len(ext))) // #nosec G115 -- bounded by the host name
		body = append(body, ext...)
	}
	// client_hello, then its 24-bit length.
	msg := []byte{1}
	msg = append(msg, binary.BigEndian.AppendUint32(nil, uint32(len(body)))[1:]...) // #nosec G115 -- a 24-bit length of a body under 2^14
	msg = append(msg, body...)
	recVersion := TLS10
	if h.Version < TLS10 {
		recVersion = h.Version
	}
	rec := []byte{22}
	rec = binary.BigEndian.AppendUint16(rec, recVersion)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(msg))) // #nosec G115 -- well under 2^14
	return append(rec, msg...)
}

func extensions(h Hello) []byte {
	var out []byte
	add := func(typ uint16, data []byte) {
		out = binary.BigEndian.AppendUint16(out, typ)
		out = binary.BigEndian.AppendUint16(out, uint16(len(data))) // #nosec G115 -- small
		out = append(out, data...)
	}
	if name := h.ServerName; name != "" && net.ParseIP(name) == nil && len(name) < 256 {
		var sni []byte
		sni = binary.BigEndian.AppendUint16(sni, uint16(len(name)+3)) // #nosec G115 -- checked above
		sni = append(sni, 0)                                          // host_name
		sni = binary.BigEndian.AppendUint16(sni, uint16(len(name)))   // #nosec G115 -- checked above
		sni = append(sni, name...)
		add(0, sni)
	}
	// supported_groups: x25519, secp256r1, secp384r1.
	add(10, []byte{0, 6, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18})
	// ec_point_formats: uncompressed.
	add(11, []byte{1, 0})
	if h.Version >= TLS12 {
		// signature_algorithms: RSA and ECDSA with SHA-256/384/1, RSA-PSS.
		add(13, []byte{0, 14, 0x04, 0x01, 0x04, 0x03, 0x08, 0x04, 0x05, 0x01, 0x05, 0x03, 0x02, 0x01, 0x02, 0x03})
	}
	return out
}

// Limits on what a probe reads: a record may hold 2^14 bytes plus
// expansion (RFC 5246, 6.2.3); a ServerHello is far smaller.
const (
	maxRecord    = 1<<14 + 2048
	maxHandshake = 1 << 16
)

// ReadAnswer reads the server's answer to a TLS or SSL 3.0 hello: the
// records up to the first handshake message or alert. An error means the
// answer was malformed or cut short after it had started; a server that
// answers with something else entirely is a refusal, not an error.
func ReadAnswer(r io.Reader) (Answer, error) {
	var hs []byte
	first := true
	for {
		var hdr [5]byte
		if n, err := io.ReadFull(r, hdr[:]); err != nil {
			if first && n == 0 {
				if refusal := silent(err); refusal != "" {
					return Answer{Refusal: refusal}, nil
				}
			}
			return Answer{}, fmt.Errorf("reading a record header: %w", err)
		}
		typ, n := hdr[0], int(binary.BigEndian.Uint16(hdr[3:]))
		if first && (typ < 20 || typ > 23 || hdr[1] != 3) {
			return Answer{Refusal: fmt.Sprintf("answered with something other than TLS (first bytes %q)", printable(hdr[:]))}, nil
		}
		first = false
		if n == 0 || n > maxRecord {
			return Answer{}, fmt.Errorf("record of %d bytes (limit %d)", n, maxRecord)
		}
		data := make([]byte, n)
		if _, err := io.ReadFull(r, data); err != nil {
			return Answer{}, fmt.Errorf("reading a %d-byte record: %w", n, err)
		}
		switch typ {
		case 21: // alert
			if len(hs) > 0 {
				return Answer{}, errors.New("alert in the middle of a handshake message")
			}
			if n < 2 {
				return Answer{}, errors.New("alert record shorter than 2 bytes")
			}
			return Answer{Refusal: "alert " + AlertName(data[1])}, nil
		case 22: // handshake
			hs = append(hs, data...)
			if len(hs) < 4 {
				continue
			}
			if hs[0] != 2 {
				return Answer{}, fmt.Errorf("first handshake message is type %d, not a ServerHello", hs[0])
			}
			mlen := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
			if mlen > maxHandshake {
				return Answer{}, fmt.Errorf("ServerHello of %d bytes (limit %d)", mlen, maxHandshake)
			}
			if len(hs) < 4+mlen {
				continue
			}
			return parseServerHello(hs[4 : 4+mlen])
		default:
			return Answer{}, fmt.Errorf("record type %d before the ServerHello", typ)
		}
	}
}

func parseServerHello(b []byte) (Answer, error) {
	// version(2) random(32) session_id(1+n) cipher_suite(2) compression(1)
	if len(b) < 35 {
		return Answer{}, fmt.Errorf("ServerHello of %d bytes is too short", len(b))
	}
	v := binary.BigEndian.Uint16(b)
	sid := int(b[34])
	if sid > 32 {
		return Answer{}, fmt.Errorf("ServerHello session id of %d bytes (limit 32)", sid)
	}
	if len(b) < 35+sid+3 {
		return Answer{}, fmt.Errorf("ServerHello of %d bytes is too short for its session id", len(b))
	}
	cs := binary.BigEndian.Uint16(b[35+sid:])
	return Answer{Accepted: true, Version: v, Suite: uint32(cs)}, nil
}

// Probe sends h on conn and reads the answer, within ctx and at most
// 5 seconds. It does not close conn.
func Probe(ctx context.Context, conn net.Conn, h Hello) (Answer, error) {
	var random [32]byte
	if _, err := rand.Read(random[:]); err != nil {
		return Answer{}, err
	}
	return exchange(ctx, conn, h.Marshal(random), ReadAnswer)
}

func exchange(ctx context.Context, conn net.Conn, hello []byte, read func(io.Reader) (Answer, error)) (Answer, error) {
	deadline := time.Now().Add(5 * time.Second)
	ctxBound := false // the caller's deadline comes first
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline, ctxBound = d, true
	}
	if err := conn.SetDeadline(deadline); err != nil {
		return Answer{}, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(hello); err != nil {
		if isReset(err) {
			return Answer{Refusal: "closed the connection"}, nil
		}
		return Answer{}, fmt.Errorf("sending the hello: %w", err)
	}
	a, err := read(io.LimitReader(conn, maxHandshake+maxRecord))
	if ctx.Err() != nil {
		// Ended by the caller, not by the server: no answer to judge.
		return Answer{}, ctx.Err()
	}
	if ctxBound && !time.Now().Before(deadline) {
		return Answer{}, context.DeadlineExceeded
	}
	return a, err
}

// silent names the refusal of a server that sent nothing: it closed or
// reset the connection, or let the probe's deadline pass ("" for any
// other error).
func silent(err error) string {
	switch {
	case errors.Is(err, io.EOF) || isReset(err):
		return "closed the connection"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "did not answer within the probe's time"
	}
	return ""
}

// isReset reports a peer that dropped the connection: how many servers
// refuse a protocol they do not speak.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '.'
		}
		out[i] = c
	}
	return string(out)
}

// AlertName names a TLS alert description (RFC 8446, 6).
func AlertName(d byte) string {
	names := map[byte]string{0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac", 22: "record_overflow",
		40: "handshake_failure", 42: "bad_certificate", 47: "illegal_parameter", 50: "decode_error", 51: "decrypt_error",
		70: "protocol_version", 71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
		90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension", 112: "unrecognized_name"}
	if n, ok := names[d]; ok {
		return fmt.Sprintf("%s (%d)", n, d)
	}
	return fmt.Sprintf("%d", d)
}

// SSL3Suites returns what an SSL 3.0 hello offers: every classic suite, so
// that a server which speaks SSL 3.0 at all finds one it accepts.
func SSL3Suites() []uint16 { return append([]uint16(nil), ssl3...) }
