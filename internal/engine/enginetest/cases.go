package enginetest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// get is a well-formed GET of path, kept alive.
func get(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: gw\r\n\r\n" }

// smuggled is the request every smuggling case hides: a route the
// gateway does not have, so the upstream must never see it.
const smuggled = "GET /internal/x HTTP/1.1\r\nHost: gw\r\n\r\n"

// post is a POST of /public/a with the given framing headers and body.
func post(headers, body string) string {
	return "POST /public/a HTTP/1.1\r\nHost: gw\r\n" + headers + "\r\n" + body
}

func cl(s string) string { return "Content-Length: " + strconv.Itoa(len(s)) + "\r\n" }

// Cases returns the conformance corpus. Each case says what it guards
// against; Run checks the outcome it states and, for every case, that
// the upstream received nothing unrouted and nothing ambiguous.
func Cases() []Case {
	one := func(s string) []string { return []string{s} }
	chunkedSmuggle := "0\r\n\r\n" + smuggled
	return []Case{
		// Baseline and routing.
		{Name: "get", Why: "a plain GET is forwarded", Parts: one(get("/public/a")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "unrouted", Why: "no route, no upstream request", Parts: one(get("/internal/x")), Outcome: Outcome{Want: []int{404}}},
		{Name: "pipelined", Why: "pipelined requests are answered in order, each routed on its own",
			Parts: one(get("/public/a") + get("/public/b") + smuggled), Outcome: Outcome{Want: []int{200, 200, 404}, Upstream: []string{"/public/a", "/public/b"}}},
		{Name: "connection close", Why: "Connection: close ends the connection after the response",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"), Outcome: Outcome{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}},
		{Name: "http/1.0 without host", Why: "HTTP/1.0 has no Host requirement; the connection closes after it",
			Parts: one("GET /public/a HTTP/1.0\r\n\r\n"), Outcome: Outcome{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}},
		{Name: "http/1.1 without host", Why: "RFC 9112 3.2: a 1.1 request without Host is refused with 400",
			Parts: one("GET /public/a HTTP/1.1\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "two hosts", Why: "RFC 9112 3.2: more than one Host is refused with 400",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nHost: other\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "invalid host", Why: "a Host with a space is refused",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw other\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "absolute-form unrouted", Why: "an absolute-form target is routed by its path: no route, no upstream request",
			Parts: one("GET http://gw/internal/x HTTP/1.1\r\nHost: gw\r\n\r\n"), Outcome: Outcome{Want: []int{404}}},
		{Name: "absolute-form", Why: "an absolute-form target reaches the upstream in origin form",
			Parts: one("GET http://other.example/public/a HTTP/1.1\r\nHost: gw\r\n\r\n"), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "asterisk", Why: "OPTIONS * names no route: net/http answers it itself (200, empty body), others refuse it",
			Parts: one("OPTIONS * HTTP/1.1\r\nHost: gw\r\n\r\n"), Outcome: Outcome{Want: []int{200}}, Alt: []Outcome{{Want: []int{400}}, {Want: []int{404}}}},

		// The request line and header syntax.
		{Name: "request line with extra token", Why: "RFC 9112 3: a malformed request line is refused with 400",
			Parts: one("GET /public/a HTTP/1.1 x\r\nHost: gw\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "HTTP/0.9", Why: "a request line without a version is refused",
			Parts: one("GET /public/a\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "space in header name", Why: "RFC 9112 5.1: whitespace between a field name and its colon is refused with 400 (Transfer-Encoding : chunked)",
			Parts: one(post("Transfer-Encoding : chunked\r\n"+cl(chunkedSmuggle), chunkedSmuggle)), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "invalid header name", Why: "a field name that is not a token is refused",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nBad<Header>: 1\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "NUL in value", Why: "RFC 9110 5.5: NUL in a field value is refused",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nX-A: a\x00b\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CR in value", Why: "RFC 9110 5.5: a bare CR in a field value is refused",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nX-A: a\rb\r\n\r\n"), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "obs-fold", Why: "RFC 9112 5.2: a folded header is refused, or unfolded before it is forwarded",
			Parts:   one("GET /public/a HTTP/1.1\r\nHost: gw\r\nX-A: a\r\n b\r\n\r\n"),
			Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}, Alt: []Outcome{{Want: []int{400}, Closed: true}},
			Check: func(t *testing.T, got []Received, _ []Reply) {
				if len(got) == 1 && got[0].Header.Get("X-A") != "a b" {
					t.Errorf("upstream X-A %q, want the value unfolded, \"a b\"", got[0].Header.Get("X-A"))
				}
			}},
		{Name: "bare LF", Why: "RFC 9112 2.2: bare LF line ends may be read as CRLF; forwarded with CRLF",
			Parts: one("GET /public/a HTTP/1.1\nHost: gw\n\n"), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "header too large", Why: "a head past max_header_bytes gets 431",
			Parts: one("GET /public/a HTTP/1.1\r\nHost: gw\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n"), Outcome: Outcome{Want: []int{431}}},

		// Request smuggling: Content-Length against Transfer-Encoding.
		{Name: "CL.TE", Why: "RFC 9112 6.1: with both, the request is framed by chunked alone or refused, and the connection closes after it: what follows its chunked body is never read as a request",
			Parts:   one(post("Content-Length: "+strconv.Itoa(len(chunkedSmuggle))+"\r\nTransfer-Encoding: chunked\r\n", chunkedSmuggle)),
			Outcome: Outcome{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}, Alt: []Outcome{{Want: []int{400}, Closed: true}}},
		{Name: "TE.CL", Why: "with both, the gateway never frames by Content-Length, and closes the connection after the response",
			Parts:   one(post("Transfer-Encoding: chunked\r\nContent-Length: 4\r\n", "5c\r\n"+smuggled+strings.Repeat("x", 0x5c-len(smuggled))+"\r\n0\r\n\r\n")),
			Outcome: Outcome{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}, Alt: []Outcome{{Want: []int{400}, Closed: true}}},
		{Name: "TE xchunked", Why: "an unknown transfer coding is refused, not ignored in favour of Content-Length",
			Parts: one(post("Transfer-Encoding: xchunked\r\n"+cl(chunkedSmuggle), chunkedSmuggle)), Outcome: Outcome{Want: []int{501}, Closed: true}},
		{Name: "TE chunked, identity", Why: "a coding list is refused",
			Parts: one(post("Transfer-Encoding: chunked, identity\r\n", chunkedSmuggle)), Outcome: Outcome{Want: []int{501}, Closed: true}},
		{Name: "TE twice", Why: "two Transfer-Encoding lines are refused",
			Parts: one(post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", chunkedSmuggle)), Outcome: Outcome{Want: []int{501}, Closed: true}},
		{Name: "TE upper case", Why: "coding names are case-insensitive (RFC 9112 7)",
			Parts: one(post("Transfer-Encoding: CHUNKED\r\n", "3\r\nabc\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "TE tab", Why: "OWS may be a tab",
			Parts: one(post("Transfer-Encoding:\tchunked\r\n", "3\r\nabc\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "TE on HTTP/1.0", Why: "RFC 9112 6.1: chunked in a 1.0 request is faulty framing: refused, or ignored (net/http, golang/go#12785) and the connection closed after the response",
			Parts:   one("POST /public/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedSmuggle),
			Outcome: Outcome{Want: []int{400}, Closed: true}, Alt: []Outcome{{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}}},
		{Name: "TE on HTTP/1.0 kept alive", Why: "with keep-alive, an ignored chunked body is read as the next request: its size line is no request line, so it is refused and the connection closed",
			Parts:   one("POST /public/a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n" + "26\r\n" + smuggled + "\r\n0\r\n\r\n"),
			Outcome: Outcome{Want: []int{400}, Closed: true}, Alt: []Outcome{{Want: []int{200, 400}, Closed: true, Upstream: []string{"/public/a"}}}},
		{Name: "CL twice, different", Why: "RFC 9112 6.3: differing Content-Lengths are refused",
			Parts: one(post("Content-Length: 3\r\nContent-Length: 4\r\n", "abcd")), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CL twice, same", Why: "identical Content-Lengths may be read as one; forwarded as one",
			Parts: one(post("Content-Length: 3\r\nContent-Length: 3\r\n", "abc")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "CL signed", Why: "Content-Length is digits only",
			Parts: one(post("Content-Length: +3\r\n", "abc")), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CL hex", Why: "Content-Length is decimal",
			Parts: one(post("Content-Length: 0x3\r\n", "abc")), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CL negative", Why: "Content-Length is not negative",
			Parts: one(post("Content-Length: -1\r\n", "abc")), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CL overflow", Why: "a Content-Length past int64 is refused",
			Parts: one(post("Content-Length: 99999999999999999999\r\n", "abc")), Outcome: Outcome{Want: []int{400}, Closed: true}},
		{Name: "CL past the limit", Why: "a body past max_body_bytes gets 413 before it is forwarded",
			Parts: one(post("Content-Length: "+strconv.Itoa(MaxBodyBytes+1)+"\r\n", strings.Repeat("a", MaxBodyBytes+1))), Outcome: Outcome{Want: []int{413}}},

		// Chunked bodies.
		{Name: "chunked", Why: "a chunked body is forwarded whole",
			Parts: one(post("Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}},
			Check: func(t *testing.T, got []Received, _ []Reply) {
				if len(got) == 1 && got[0].Body != "abcde" {
					t.Errorf("upstream body %q, want abcde", got[0].Body)
				}
			}},
		{Name: "chunk extension", Why: "chunk extensions are read and dropped",
			Parts: one(post("Transfer-Encoding: chunked\r\n", "3;ext=\"x\"\r\nabc\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "chunk size overflow", Why: "a chunk size past 64 bits is refused",
			Parts: one(post("Transfer-Encoding: chunked\r\n", "fffffffffffffffff\r\nabc\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{400}, Closed: true, Truncated: true}},
		{Name: "chunk size bare LF", Why: "CVE-2025-22871: a bare LF ending a chunk size line is refused",
			Parts: one(post("Transfer-Encoding: chunked\r\n", "3\nabc\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{400}, Closed: true, Truncated: true}},
		{Name: "chunked past the limit", Why: "a chunked body past max_body_bytes gets 413",
			Parts: one(post("Transfer-Encoding: chunked\r\n", strconv.FormatInt(MaxBodyBytes+1, 16)+"\r\n"+strings.Repeat("a", MaxBodyBytes+1)+"\r\n0\r\n\r\n")), Outcome: Outcome{Want: []int{413}, Closed: true, Truncated: true}},

		// Hop-by-hop headers, upgrades, Expect.
		{Name: "hop-by-hop", Why: "RFC 9110 7.6.1: Connection and the fields it lists never reach the upstream",
			Parts:   one("GET /public/a HTTP/1.1\r\nHost: gw\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\r\n"),
			Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}},
			Check: func(t *testing.T, got []Received, _ []Reply) {
				for _, g := range got {
					for _, h := range []string{"X-Secret", "Keep-Alive", "Proxy-Connection"} {
						if v := g.Header.Values(h); len(v) > 0 {
							t.Errorf("upstream received %s: %q", h, v)
						}
					}
				}
			}},
		{Name: "upgrade", Why: "a protocol upgrade is never passed on: refused, or forwarded as a plain request without Upgrade",
			Parts:   one("GET /public/a HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
			Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}, Alt: []Outcome{{Want: []int{400}}},
			Check: func(t *testing.T, got []Received, _ []Reply) {
				for _, g := range got {
					if g.Header.Get("Upgrade") != "" || strings.Contains(strings.ToLower(g.Header.Get("Connection")), "upgrade") {
						t.Errorf("upstream received an upgrade: %v", g.Header)
					}
				}
			}},
		{Name: "expect 100-continue", Why: "the gateway answers 100 Continue itself, reads the body, forwards the request",
			Parts: []string{post("Content-Length: 3\r\nExpect: 100-continue\r\n", ""), "abc"}, Pause: 200 * time.Millisecond,
			Outcome: Outcome{Want: []int{100, 200}, Upstream: []string{"/public/a"}}},

		// Responses.
		{Name: "chunked response", Why: "a chunked response reaches the client whole",
			Parts: one(get("/public/chunked")), Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/chunked"}},
			Check: func(t *testing.T, _ []Received, r []Reply) {
				if len(r) == 1 && r[0].Body != "hello world" {
					t.Errorf("client body %q, want hello world", r[0].Body)
				}
			}},
		{Name: "response with both framings", Why: "an upstream answer with Content-Length and chunked is read as chunked and sent one way",
			Parts: one(get("/public/both") + get("/public/a")), Outcome: Outcome{Want: []int{200, 200}, Upstream: []string{"/public/both", "/public/a"}},
			Check: func(t *testing.T, _ []Received, r []Reply) {
				if len(r) > 0 && r[0].Body != "hello" {
					t.Errorf("client body %q, want hello", r[0].Body)
				}
				if len(r) > 0 && r[0].Header.Get("Content-Length") != "" && len(r[0].Header.Values("Transfer-Encoding")) > 0 {
					t.Errorf("client got both framings: %v", r[0].Header)
				}
			}},
		{Name: "HEAD", Why: "a HEAD response has no body; the connection stays usable",
			Parts: one("HEAD /public/a HTTP/1.1\r\nHost: gw\r\n\r\n"), Head: true, Outcome: Outcome{Want: []int{200}, Upstream: []string{"/public/a"}}},
		{Name: "204", Why: "a 204 response has no body",
			Parts: one(get("/public/nocontent") + get("/public/a")), Outcome: Outcome{Want: []int{204, 200}, Upstream: []string{"/public/nocontent", "/public/a"}}},

		// Timeouts.
		{Name: "slow headers", Why: "a head not complete within read_header_timeout closes the connection, nothing forwarded",
			Parts: []string{"GET /public/a HTTP/1.1\r\n", "Host: gw\r\n\r\n"}, Pause: ReadHeaderTimeout + 500*time.Millisecond, Outcome: Outcome{Closed: true}},
		{Name: "idle", Why: "a keep-alive connection idle past idle_timeout is closed",
			Parts: []string{get("/public/a"), ""}, Pause: IdleTimeout + 200*time.Millisecond, Outcome: Outcome{Want: []int{200}, Closed: true, Upstream: []string{"/public/a"}}},
	}
}
