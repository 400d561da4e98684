package enginetest

import (
	"io"
	"net"
	"strings"
	"testing"
)

// passthrough is the worst engine there is: it copies each client
// connection's bytes to the upstream unread. The suite must catch it.
func passthrough(t *testing.T, upstream string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", strings.TrimPrefix(upstream, "http://"))
			if err != nil {
				_ = c.Close()
				continue
			}
			go func() { _, _ = io.Copy(u, c); _ = u.Close() }()
			go func() { _, _ = io.Copy(c, u); _ = c.Close() }()
		}
	}()
	return ln.Addr().String()
}

// TestSuiteCatchesPassthrough: against a gateway that forwards bytes
// unread, the smuggling cases report the unrouted request the upstream
// received, and the framing cases the ambiguous bytes. A suite that
// passed it would prove nothing.
func TestSuiteCatchesPassthrough(t *testing.T) {
	up := startUpstream(t)
	addr := passthrough(t, up.url())
	want := map[string]string{
		"CL.TE":                "UPSTREAM RECEIVED AN UNROUTED REQUEST: GET /internal/x",
		"unrouted":             "UPSTREAM RECEIVED AN UNROUTED REQUEST: GET /internal/x",
		"pipelined":            "UPSTREAM RECEIVED AN UNROUTED REQUEST: GET /internal/x",
		"TE.CL":                "ambiguous: request 1: both Transfer-Encoding and Content-Length",
		"obs-fold":             "ambiguous: request 1, line 4: folded or empty header line",
		"CL twice, same":       "ambiguous: request 1: Content-Length",
		"TE on HTTP/1.0":       "want:",
		"space in header name": "want:",
	}
	seen := map[string]bool{}
	for _, c := range Cases() {
		frag, ok := want[c.Name]
		if !ok {
			continue
		}
		seen[c.Name] = true
		_, _, problems := runCase(up, addr, c)
		if !strings.Contains(strings.Join(problems, "\n"), frag) {
			t.Errorf("%s: the suite did not report %q against a passthrough; it said:\n%s", c.Name, frag, strings.Join(problems, "\n"))
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("no case %q", name)
		}
	}
}
