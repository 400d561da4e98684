package tlsprobe

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/scan/tlsprobe/tlsprobetest"
)

func probe(t *testing.T, addr string, h Hello) Answer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := Probe(context.Background(), c, h)
	if err != nil {
		t.Fatalf("probe %s: %v", VersionName(h.Version), err)
	}
	return a
}

func probeV2(t *testing.T, addr string) Answer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := ProbeSSLv2(context.Background(), c)
	if err != nil {
		t.Fatalf("probe SSL 2.0: %v", err)
	}
	return a
}

func legacyIDs() []uint16 {
	var ids []uint16
	for _, s := range Legacy() {
		ids = append(ids, s.ID)
	}
	return ids
}

// TestAgainstCryptoTLS proves the hellos are well formed by having a real
// implementation (Go's) accept one, and that it refuses the legacy ones.
func TestAgainstCryptoTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS10, // #nosec G402 -- a test server that must accept the probe's TLS 1.0 hello
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused probes
	srv.StartTLS()
	defer srv.Close()
	addr := srv.Listener.Addr().String()

	for _, tc := range []struct {
		name    string
		hello   Hello
		version uint16
		suite   uint16
	}{
		{"TLS 1.2 with GCM", Hello{Version: TLS12, Suites: []uint16{0xC02F}, ServerName: "example.com"}, TLS12, 0xC02F},
		{"TLS 1.0 with CBC", Hello{Version: TLS10, Suites: []uint16{0xC013}}, TLS10, 0xC013},
		{"TLS 1.2 prefers the first", Hello{Version: TLS12, Suites: append(legacyIDs(), 0xC013)}, TLS12, 0xC013},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := probe(t, addr, tc.hello)
			if !a.Accepted || a.Version != tc.version || a.Suite != uint32(tc.suite) {
				t.Fatalf("answer %+v, want %s with 0x%04X", a, VersionName(tc.version), tc.suite)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		hello Hello
		want  string
	}{
		{"legacy suites only", Hello{Version: TLS12, Suites: legacyIDs()}, "alert handshake_failure"},
		{"SSL 3.0", Hello{Version: SSL30, Suites: ssl3}, "alert protocol_version"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := probe(t, addr, tc.hello)
			if a.Accepted || !strings.HasPrefix(a.Refusal, tc.want) {
				t.Fatalf("answer %+v, want a refusal %q", a, tc.want)
			}
		})
	}
	t.Run("SSL 2.0", func(t *testing.T) {
		if a := probeV2(t, addr); a.Accepted || a.Refusal == "" {
			t.Fatalf("answer %+v, want a refusal", a)
		}
	})
}

// legacyServer is a hand-written server of the protocols no library on
// the machine still speaks (SSL 2.0 and 3.0, RC4-MD5, EXPORT): it reads
// the hello, picks the first offered suite it accepts, and answers with a
// ServerHello, as such a server does, or with an alert.
type legacyServer struct {
	min, max uint16   // versions accepted
	suites   []uint16 // suites accepted
	sslv2    bool
	hellos   chan clientHello
}

type clientHello struct {
	version uint16
	suites  []uint16
	sni     string
}

func (ls *legacyServer) start(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	ls.hellos = make(chan clientHello, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go ls.serve(c)
		}
	}()
	return l.Addr().String()
}

func (ls *legacyServer) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var first [2]byte
	if _, err := io.ReadFull(c, first[:]); err != nil {
		return
	}
	if first[0]&0x80 != 0 { // SSL 2.0
		n := int(first[0]&0x7f)<<8 | int(first[1])
		body := make([]byte, n)
		if _, err := io.ReadFull(c, body); err != nil || !ls.sslv2 {
			return
		}
		specs := []byte{0x01, 0x00, 0x80}
		cert := []byte("not a certificate")
		msg := []byte{4, 0, 1, 0, 2}
		msg = binary.BigEndian.AppendUint16(msg, uint16(len(cert)))
		msg = binary.BigEndian.AppendUint16(msg, uint16(len(specs)))
		msg = binary.BigEndian.AppendUint16(msg, 16)
		msg = append(append(append(msg, cert...), specs...), make([]byte, 16)...)
		_, _ = c.Write(append([]byte{0x80 | byte(len(msg)>>8), byte(len(msg))}, msg...))
		return
	}
	rest := make([]byte, 3)
	if _, err := io.ReadFull(c, rest); err != nil {
		return
	}
	rec := make([]byte, int(binary.BigEndian.Uint16(rest[1:])))
	if _, err := io.ReadFull(c, rec); err != nil {
		return
	}
	h := parseClientHello(rec[4:])
	ls.hellos <- h
	alert := func(d byte) { _, _ = c.Write([]byte{21, 3, 1, 0, 2, 2, d}) }
	if h.version < ls.min {
		alert(70)
		return
	}
	v := min(h.version, ls.max)
	for _, s := range h.suites {
		if slices.Contains(ls.suites, s) {
			body := binary.BigEndian.AppendUint16(nil, v)
			body = append(body, make([]byte, 32)...)
			body = append(body, 0)
			body = binary.BigEndian.AppendUint16(body, s)
			body = append(body, 0)
			msg := append([]byte{2, 0, 0, byte(len(body))}, body...)
			// Split the ServerHello over two records, as the protocol allows.
			out := append([]byte{22, byte(v >> 8), byte(v), 0, 3}, msg[:3]...)
			out = append(out, 22, byte(v>>8), byte(v), 0, byte(len(msg)-3))
			_, _ = c.Write(append(out, msg[3:]...))
			return
		}
	}
	alert(40)
}

func parseClientHello(b []byte) clientHello {
	var h clientHello
	h.version = binary.BigEndian.Uint16(b)
	b = b[2+32:]
	b = b[1+int(b[0]):]
	n := int(binary.BigEndian.Uint16(b))
	for i := 2; i < 2+n; i += 2 {
		h.suites = append(h.suites, binary.BigEndian.Uint16(b[i:]))
	}
	b = b[2+n:]
	b = b[1+int(b[0]):]
	if len(b) < 2 {
		return h
	}
	b = b[2:]
	for len(b) >= 4 {
		typ, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		if typ == 0 {
			h.sni = string(b[4+5 : 4+l])
		}
		b = b[4+l:]
	}
	return h
}

func TestAgainstLegacyServer(t *testing.T) {
	t.Run("SSL 3.0 accepted", func(t *testing.T) {
		ls := &legacyServer{min: SSL30, max: TLS10, suites: []uint16{0x0005}}
		addr := ls.start(t)
		a := probe(t, addr, Hello{Version: SSL30, Suites: ssl3})
		if !a.Accepted || a.Version != SSL30 || a.Suite != 0x0005 {
			t.Fatalf("answer %+v, want SSL 3.0 with RC4-SHA", a)
		}
		if h := <-ls.hellos; h.version != SSL30 || h.sni != "" {
			t.Fatalf("hello %+v: want version SSL 3.0 and no extensions", h)
		}
	})
	t.Run("RC4-MD5 and EXPORT, one at a time", func(t *testing.T) {
		ls := &legacyServer{min: TLS10, max: TLS12, suites: []uint16{0x0004, 0x0003}}
		addr := ls.start(t)
		offered := legacyIDs()
		var got []string
		for range 4 {
			a := probe(t, addr, Hello{Version: TLS12, Suites: offered, ServerName: "api.example"})
			if !a.Accepted {
				break
			}
			got = append(got, SuiteName(uint16(a.Suite)))
			offered = slices.DeleteFunc(offered, func(id uint16) bool { return uint32(id) == a.Suite })
		}
		want := []string{"TLS_RSA_EXPORT_WITH_RC4_40_MD5", "TLS_RSA_WITH_RC4_128_MD5"}
		if !slices.Equal(got, want) {
			t.Fatalf("accepted %v, want %v", got, want)
		}
		if h := <-ls.hellos; h.sni != "api.example" || !slices.Contains(h.suites, scsv) {
			t.Fatalf("hello %+v: want SNI api.example and the renegotiation SCSV", h)
		}
	})
	t.Run("SSL 3.0 refused", func(t *testing.T) {
		ls := &legacyServer{min: TLS10, max: TLS12, suites: []uint16{0x0005}}
		a := probe(t, ls.start(t), Hello{Version: SSL30, Suites: ssl3})
		if a.Accepted || a.Refusal != "alert protocol_version (70)" {
			t.Fatalf("answer %+v, want protocol_version", a)
		}
	})
	t.Run("SSL 2.0 accepted", func(t *testing.T) {
		ls := &legacyServer{sslv2: true}
		a := probeV2(t, ls.start(t))
		if !a.Accepted || a.Version != SSL20 || SSLv2SpecName(a.Suite) != "SSL_CK_RC4_128_WITH_MD5" {
			t.Fatalf("answer %+v, want SSL 2.0 with RC4-MD5", a)
		}
	})
	t.Run("SSL 2.0 closed", func(t *testing.T) {
		ls := &legacyServer{}
		if a := probeV2(t, ls.start(t)); a.Accepted || a.Refusal != "closed the connection" {
			t.Fatalf("answer %+v, want closed", a)
		}
	})
}

func TestNotTLS(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if a := probe(t, addr, Hello{Version: TLS12, Suites: legacyIDs()}); a.Accepted || !strings.Contains(a.Refusal, "other than TLS") {
		t.Fatalf("plain HTTP: answer %+v", a)
	}
}

func TestProbeHonoursContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() { // accepts and says nothing
		c, err := l.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := Probe(ctx, c, Hello{Version: TLS12, Suites: legacyIDs()}); err == nil {
		t.Fatal("a silent server gave no error")
	}
}

// errReader fails every read with err.
type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// A server that says nothing until the probe's deadline refused; one that
// stops in the middle of an answer sent a malformed one.
func TestSilentServer(t *testing.T) {
	for _, read := range []func(io.Reader) (Answer, error){ReadAnswer, ReadSSLv2Answer} {
		a, err := read(errReader{os.ErrDeadlineExceeded})
		if err != nil || a.Accepted || !strings.Contains(a.Refusal, "did not answer") {
			t.Errorf("silent: %+v, %v", a, err)
		}
		if _, err := read(io.MultiReader(bytes.NewReader([]byte{22}), errReader{os.ErrDeadlineExceeded})); err == nil {
			t.Error("cut after one byte: no error")
		}
	}
}

func TestReadAnswerMalformed(t *testing.T) {
	for name, in := range map[string][]byte{
		"huge record":        {22, 3, 3, 0xff, 0xff},
		"cut record":         {22, 3, 3, 0, 10, 2, 0},
		"not server hello":   {22, 3, 3, 0, 4, 11, 0, 0, 0},
		"short server hello": {22, 3, 3, 0, 6, 2, 0, 0, 2, 3, 3},
		"long session id":    append([]byte{22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3}, append(make([]byte, 32), 33, 0, 0, 0)...),
		"short alert":        {21, 3, 3, 0, 1, 2},
		"application data":   {23, 3, 3, 0, 1, 0},
		"empty record":       {22, 3, 3, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			if a, err := ReadAnswer(bytes.NewReader(in)); err == nil {
				t.Fatalf("accepted %x as %+v", in, a)
			}
		})
	}
}

func FuzzReadAnswer(f *testing.F) {
	hello := Hello{Version: TLS12, Suites: []uint16{0x0004}}.Marshal([32]byte{})
	f.Add(hello)
	f.Add([]byte{21, 3, 3, 0, 2, 2, 40})
	f.Add(append([]byte{22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3}, append(make([]byte, 32), 0, 0, 4, 0)...))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadAnswer(bytes.NewReader(b))
		if err == nil && !a.Accepted && a.Refusal == "" {
			t.Fatalf("neither accepted nor refused nor an error: %+v", a)
		}
	})
}

func FuzzReadSSLv2Answer(f *testing.F) {
	f.Add(MarshalSSLv2([16]byte{}))
	f.Add([]byte{0x80, 14, 4, 0, 1, 0, 2, 0, 0, 0, 3, 0, 0, 1, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ReadSSLv2Answer(bytes.NewReader(b))
		if err == nil && !a.Accepted && a.Refusal == "" {
			t.Fatalf("neither accepted nor refused nor an error: %+v", a)
		}
	})
}

// enumerate offers the legacy suites until the server refuses, removing
// each accepted one, as the scan check does.
func enumerate(t *testing.T, addr string) []string {
	offered := legacyIDs()
	var got []string
	for range len(offered) {
		a := probe(t, addr, Hello{Version: TLS12, Suites: offered})
		if !a.Accepted {
			break
		}
		got = append(got, SuiteName(uint16(a.Suite)))
		offered = slices.DeleteFunc(offered, func(id uint16) bool { return uint32(id) == a.Suite })
	}
	slices.Sort(got)
	return got
}

// TestAgainstOpenSSL runs the probe against a real server that still
// offers suites crypto/tls cannot: OpenSSL with NULL and anonymous suites
// at security level 0.
func TestAgainstOpenSSL(t *testing.T) {
	addr := tlsprobetest.OpenSSLServer(t, "NULL-SHA:NULL-SHA256:AECDH-NULL-SHA:ECDHE-RSA-NULL-SHA:ADH-AES128-SHA:@SECLEVEL=0", "-tls1_2").Addr
	got := enumerate(t, addr)
	want := []string{"TLS_DH_anon_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_NULL_SHA", "TLS_ECDH_anon_WITH_NULL_SHA", "TLS_RSA_WITH_NULL_SHA", "TLS_RSA_WITH_NULL_SHA256"}
	if !slices.Equal(got, want) {
		t.Fatalf("accepted %v, want %v", got, want)
	}
	if a := probe(t, addr, Hello{Version: SSL30, Suites: ssl3}); a.Accepted {
		t.Fatalf("SSL 3.0: %+v (OpenSSL 3 has no SSL 3.0)", a)
	}
	t.Run("sslscan agrees", func(t *testing.T) {
		bin, err := exec.LookPath("sslscan")
		if err != nil {
			t.Skip("sslscan is not installed (apt-get install sslscan; .ci/run does)")
		}
		out, err := exec.Command(bin, "--no-colour", "--no-heartbleed", "--no-renegotiation", "--no-compression", "--no-fallback", "--no-check-certificate", "--xml=-", addr).Output() // #nosec G204 -- the test's own arguments
		if err != nil {
			t.Fatalf("sslscan: %v", err)
		}
		var theirs []string
		for _, m := range regexp.MustCompile(`<cipher status="(?:preferred|accepted)" sslversion="TLSv1\.2"[^>]*cipher="([^"]+)"`).FindAllStringSubmatch(string(out), -1) {
			theirs = append(theirs, m[1])
		}
		if len(theirs) == 0 {
			t.Fatalf("sslscan found no suites:\n%s", out)
		}
		// sslscan names suites the OpenSSL way; map ours to them.
		openssl := map[string]string{"TLS_DH_anon_WITH_AES_128_CBC_SHA": "ADH-AES128-SHA", "TLS_ECDHE_RSA_WITH_NULL_SHA": "ECDHE-RSA-NULL-SHA",
			"TLS_ECDH_anon_WITH_NULL_SHA": "AECDH-NULL-SHA", "TLS_RSA_WITH_NULL_SHA": "NULL-SHA", "TLS_RSA_WITH_NULL_SHA256": "NULL-SHA256"}
		var ours []string
		for _, g := range got {
			ours = append(ours, openssl[g])
		}
		slices.Sort(ours)
		slices.Sort(theirs)
		if !slices.Equal(ours, theirs) {
			t.Fatalf("rampart found %v, sslscan found %v", ours, theirs)
		}
	})
}
