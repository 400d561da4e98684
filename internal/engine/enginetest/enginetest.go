// Package enginetest is the conformance suite every HTTP/1.1 engine of
// Rampart must pass: size limits, timeouts, header hygiene, framing,
// pipelining, upgrade refusal and a request smuggling corpus, each case
// sent as raw bytes to a running gateway and checked on both sides: what
// the client got back, and what the upstream really received on the
// wire.
//
// It owns the cases and the upstream that records them; it does not know
// how an engine is built: the caller's Start function runs a gateway with
// the routes and limits this package documents, and Run drives it. It is
// imported only by tests.
package enginetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The limits the gateway under test must be started with.
const (
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes = 4096
	// MaxBodyBytes bounds a request body (413 beyond).
	MaxBodyBytes = 1024
	// ReadHeaderTimeout bounds the time to send the request head.
	ReadHeaderTimeout = 500 * time.Millisecond
	// IdleTimeout bounds an idle keep-alive connection.
	IdleTimeout = time.Second
)

// Start runs the gateway under test and returns the host:port of its
// plaintext HTTP/1.1 listener. The gateway forwards GET, HEAD and POST
// requests for /public/{rest...} to upstream (an http:// URL) without
// asking for credentials, routes nothing else, and applies the limits
// above. It stops the gateway when t ends.
type Start func(t *testing.T, upstream string) string

// Received is one request as the upstream parsed it off the wire.
type Received struct {
	Method, Target, Proto string
	Header                http.Header
	// TransferEncoding and ContentLength are the framing the upstream
	// read (net/http's view of the headers).
	TransferEncoding []string
	ContentLength    int64
	Body             string
	Trailer          http.Header
}

// upstream is a plain TCP server that parses what it receives with
// net/http's request reader, records every request and every byte, and
// answers each request by its path.
type upstream struct {
	ln net.Listener
	mu sync.Mutex
	// got holds the requests in the order they were read.
	got []Received
	// raw holds every byte each connection carried, in order.
	raw []*bytes.Buffer
	// desync holds what a connection carried that did not parse as a
	// request: evidence that the gateway's framing and the upstream's
	// disagreed.
	desync []string
	wg     sync.WaitGroup
}

func startUpstream(t *testing.T) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				u.serve(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
	})
	return u
}

func (u *upstream) url() string { return "http://" + u.ln.Addr().String() }

func (u *upstream) serve(c net.Conn) {
	defer c.Close()
	raw := &bytes.Buffer{}
	u.mu.Lock()
	u.raw = append(u.raw, raw)
	u.mu.Unlock()
	br := bufio.NewReader(io.TeeReader(c, lockedWriter{&u.mu, raw}))
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			if !errors.Is(err, io.EOF) && !isTimeout(err) {
				u.note(fmt.Sprintf("unparsable request: %v", err))
			}
			return
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			u.note(fmt.Sprintf("unreadable body of %s %s: %v", req.Method, req.RequestURI, err))
			return
		}
		u.mu.Lock()
		u.got = append(u.got, Received{Method: req.Method, Target: req.RequestURI, Proto: req.Proto, Header: req.Header,
			TransferEncoding: req.TransferEncoding, ContentLength: req.ContentLength, Body: string(body), Trailer: req.Trailer})
		u.mu.Unlock()
		if _, err := c.Write(answer(req)); err != nil {
			return
		}
	}
}

func (u *upstream) note(s string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.desync = append(u.desync, s)
}

// reset forgets what was received so far.
func (u *upstream) reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.got, u.desync = nil, nil
	for _, b := range u.raw {
		b.Reset()
	}
}

func (u *upstream) snapshot() ([]Received, []string, string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	var raw strings.Builder
	for _, b := range u.raw {
		raw.Write(b.Bytes())
	}
	return append([]Received(nil), u.got...), append([]string(nil), u.desync...), raw.String()
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// answer is the upstream's response to req, by path:
// /public/chunked streams a chunked body with a trailer, /public/both
// answers with both Content-Length and chunked framing (the upstream
// half of response smuggling), /public/nocontent answers 204; anything
// else echoes the method, the target and the body length.
func answer(req *http.Request) []byte {
	switch req.URL.Path {
	case "/public/chunked":
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n" +
			"5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: 42\r\n\r\n")
	case "/public/both":
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" +
			"5\r\nhello\r\n0\r\n\r\n")
	case "/public/nocontent":
		return []byte("HTTP/1.1 204 No Content\r\n\r\n")
	}
	body := fmt.Sprintf("%s %s %d", req.Method, req.RequestURI, req.ContentLength)
	head := "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if req.Method == http.MethodHead {
		return []byte(head)
	}
	return []byte(head + body)
}
