package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
)

// With audit.sync, the end of a response (the last byte of its body, its
// final chunk or END_STREAM, or the whole of a response without a body) may
// reach the client only once the request's audit event is on disk. The
// tests below hold the log's fsync and look at what left the gateway.

// slowDisk is the audit log's fsync: armed, the next fsync of a segment file
// (the one that makes the request's event durable) waits for release, or
// fails.
type slowDisk struct {
	seq     *atomic.Int64 // orders durability against what clients saw
	entered chan struct{}
	release chan struct{}
	stop    chan struct{} // closed when the test ends: nothing waits any more

	mu      sync.Mutex
	armed   bool
	fail    error // when set, armed fsyncs fail instead
	durable int64 // seq when the last armed fsync completed
}

func newSlowDisk(seq *atomic.Int64) *slowDisk {
	return &slowDisk{seq: seq, entered: make(chan struct{}), release: make(chan struct{}), stop: make(chan struct{})}
}

func (d *slowDisk) arm() {
	d.mu.Lock()
	d.armed = true
	d.mu.Unlock()
}

func (d *slowDisk) fsync(f *os.File) error {
	d.mu.Lock()
	armed := d.armed && strings.HasPrefix(filepath.Base(f.Name()), "events")
	if armed {
		d.armed = false
	}
	fail := d.fail
	d.mu.Unlock()
	if !armed {
		return f.Sync()
	}
	if fail != nil {
		return fail
	}
	select {
	case d.entered <- struct{}{}:
		select {
		case <-d.release:
		case <-d.stop:
		}
	case <-d.stop:
	}
	err := f.Sync()
	d.mu.Lock()
	d.durable = d.seq.Add(1)
	d.mu.Unlock()
	return err
}

func (d *slowDisk) durableSeq() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.durable
}

// tapListener keeps every byte the gateway wrote to each connection it
// accepted, below TLS when there is TLS.
type tapListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*tapConn
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &tapConn{Conn: c}
	l.mu.Lock()
	l.conns = append(l.conns, tc)
	l.mu.Unlock()
	return tc, nil
}

func (l *tapListener) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *tapListener) conn(i int) *tapConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	if i >= len(l.conns) {
		return nil
	}
	return l.conns[i]
}

type tapConn struct {
	net.Conn
	mu  sync.Mutex
	out []byte
}

func (c *tapConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.mu.Lock()
	c.out = append(c.out, b[:n]...)
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out)
}

// readCounter counts the bytes a client read from its connection and says
// when there are more.
type readCounter struct {
	n    atomic.Int64
	more chan struct{}
}

type countConn struct {
	net.Conn
	rc *readCounter
}

func (c countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.rc.n.Add(int64(n))
	select {
	case c.rc.more <- struct{}{}:
	default:
	}
	return n, err
}

// syncProto is one way a client reaches the gateway.
type syncProto struct {
	name string
	tls  bool
	h2   bool
}

var syncProtos = []syncProto{
	{name: "http1"},
	{name: "h2c", h2: true},
	{name: "http1-tls", tls: true},
	{name: "h2-tls", tls: true, h2: true},
}

// serve puts h behind a test server speaking p, its accepted connections
// tapped.
func (p syncProto) serve(t *testing.T, h http.Handler) (*httptest.Server, *tapListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	tl := &tapListener{Listener: srv.Listener}
	srv.Listener = tl
	switch {
	case p.tls:
		srv.EnableHTTP2 = p.h2
		srv.StartTLS()
	case p.h2:
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
	default:
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, tl
}

// client returns a client on a connection of its own, speaking p only,
// whose reads rc counts.
func (p syncProto) client(srv *httptest.Server, rc *readCounter) *http.Client {
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return countConn{Conn: c, rc: rc}, nil
		},
		Protocols: new(http.Protocols),
	}
	switch {
	case p.h2 && p.tls:
		tr.Protocols.SetHTTP2(true)
	case p.h2:
		tr.Protocols.SetUnencryptedHTTP2(true)
	default:
		tr.Protocols.SetHTTP1(true)
	}
	if p.tls {
		pool := x509.NewCertPool()
		pool.AddCert(srv.Certificate())
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr}
}

// complete reports whether wire, everything the gateway wrote to a
// connection, holds the whole response to a request with method: for
// HTTP/1.1 parsed as a client would; for HTTP/2 a frame that ends a stream,
// or DATA frames carrying every byte of a body of the declared length.
func (p syncProto) complete(wire []byte, method string, length int) bool {
	if !p.h2 {
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(wire)), &http.Request{Method: method})
		if err != nil {
			return false
		}
		_, err = io.Copy(io.Discard, resp.Body)
		return err == nil
	}
	data := 0
	for len(wire) >= 9 {
		n := int(wire[0])<<16 | int(wire[1])<<8 | int(wire[2])
		typ, flags, stream := wire[3], wire[4], binary.BigEndian.Uint32(wire[5:9])&0x7fffffff
		if len(wire) < 9+n {
			break // a frame still on its way
		}
		const frameData, frameHeaders, flagEndStream = 0, 1, 1
		if stream != 0 && (typ == frameData || typ == frameHeaders) && flags&flagEndStream != 0 {
			return true
		}
		if stream != 0 && typ == frameData {
			data += n
		}
		wire = wire[9+n:]
	}
	return length > 0 && data >= length
}

// syncUpstream serves bodies of any size with a Content-Length
// (/bytes/N), streamed in flushed pieces without one (/stream/N), with a
// card number for DLP to mask (/dlp/N), and bare statuses (/status/N).
func syncUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	size := func(w http.ResponseWriter, r *http.Request) (int, bool) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 || n > 8<<20 {
			http.Error(w, "bad size", http.StatusBadRequest)
			return 0, false
		}
		return n, true
	}
	mux.HandleFunc("/bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := size(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		if r.Method != http.MethodHead {
			_, _ = w.Write(pattern(n))
		}
	})
	mux.HandleFunc("/stream/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := size(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		b := pattern(n)
		for len(b) > 0 {
			k := min(len(b), 4<<10)
			_, _ = w.Write(b[:k])
			w.(http.Flusher).Flush()
			b = b[k:]
		}
	})
	mux.HandleFunc("/dlp/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, ok := size(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(dlpBody(n))
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		w.WriteHeader(code)
	})
	up := httptest.NewServer(mux)
	t.Cleanup(up.Close)
	return up
}

// pattern is n bytes that are not all alike, so that a lost or moved byte
// shows.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%23)
	}
	return b
}

const syncCard, syncCardMasked = "4111 1111 1111 1111", "**** **** **** 1111"

// dlpBody is n bytes of text with a card number up front.
func dlpBody(n int) []byte {
	b := bytes.Repeat([]byte("lorem ipsum "), n/12+1)[:n]
	copy(b, "card "+syncCard+" ")
	return b
}

// syncGateway is a gateway in front of syncUpstream with an audit log in
// sync mode on disk, as Serve assembles it.
func syncGateway(t *testing.T, disk *slowDisk) (*Gateway, string) {
	t.Helper()
	up := syncUpstream(t)
	dir := t.TempDir()
	l, err := audit.Open(audit.Options{Dir: dir, Sync: true, CheckpointEvery: time.Hour, Fsync: disk.fsync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	t.Cleanup(func() { close(disk.stop) }) // first: a test that failed midway leaves no fsync waiting
	obs := audit.NewObserver(l, nil)
	obs.Record(audit.Record{Kind: audit.KindAdmin, Action: "test.start"}) // a new log's first batch also signs its first checkpoint
	cfg := testConfig(up.URL)
	cfg.Audit.Enabled, cfg.Audit.Sync, cfg.Audit.Dir = true, true, dir
	cfg.Upstreams["api"] = config.Upstream{URL: up.URL, ResponseHeaderTimeout: config.Duration(30 * time.Second)}
	get := []string{"GET", "HEAD"}
	cfg.Routes = []config.Route{
		{Name: "bytes", Path: "/bytes/{n}", Methods: get, Upstream: "api", Public: true},
		{Name: "stream", Path: "/stream/{n}", Methods: get, Upstream: "api", Public: true},
		{Name: "status", Path: "/status/{code}", Methods: get, Upstream: "api", Public: true},
		{Name: "dlp", Path: "/dlp/{n}", Methods: get, Upstream: "api", Public: true,
			Protect: &config.RouteProtect{DLP: &config.RouteDLP{Action: "mask", Kinds: []string{"card"}}}},
	}
	config.SetDefaults(cfg)
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			t.Fatalf("config: %v", p)
		}
	}
	g, err := New(cfg, Deps{Audit: obs})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.Current().Close)
	return g, dir
}

// syncCase is one request and what the client must get.
type syncCase struct {
	name   string
	method string
	path   string
	status int
	body   []byte // the whole body the client must read
	length int    // the body's Content-Length, for the HTTP/2 wire check (0: none declared)
}

func syncCases() []syncCase {
	var cs []syncCase
	for _, n := range []int{16, 1 << 10, 12 << 10, 64 << 10, 256 << 10, 1 << 20} {
		s := strconv.Itoa(n)
		cs = append(cs,
			syncCase{name: "content-length/" + s, method: "GET", path: "/bytes/" + s, status: 200, body: pattern(n), length: n},
			// Streamed: the final chunk (HTTP/1.1) or END_STREAM (HTTP/2)
			// is the response's end.
			syncCase{name: "streamed/" + s, method: "GET", path: "/stream/" + s, status: 200, body: pattern(n)})
	}
	for _, n := range []int{1 << 10, 64 << 10, 1 << 20} {
		s := strconv.Itoa(n)
		masked := bytes.Replace(dlpBody(n), []byte(syncCard), []byte(syncCardMasked), 1)
		cs = append(cs, syncCase{name: "buffered-dlp/" + s, method: "GET", path: "/dlp/" + s, status: 200, body: masked, length: len(masked)})
	}
	return append(cs,
		syncCase{name: "head", method: "HEAD", path: "/bytes/65536", status: 200},
		// Without a Content-Length the proxy flushes the headers at once,
		// and for HEAD the headers are the whole response.
		syncCase{name: "head-streamed", method: "HEAD", path: "/stream/65536", status: 200},
		syncCase{name: "204", method: "GET", path: "/status/204", status: 204},
		syncCase{name: "304", method: "GET", path: "/status/304", status: 304},
		syncCase{name: "empty-200", method: "GET", path: "/bytes/0", status: 200, body: []byte{}},
		// Refusals are problem documents the engine writes itself.
		syncCase{name: "denied-404", method: "GET", path: "/nowhere", status: 404},
		syncCase{name: "denied-405", method: "POST", path: "/bytes/16", status: 405},
	)
}

type syncResult struct {
	resp *http.Response
	body []byte
	err  error
	seq  int64 // when the client had the whole response
}

// wait returns what ch delivers, failing the test when nothing comes for
// a long while (a hang, not a measurement).
func wait[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("no %s after 60s", what)
		panic("unreachable")
	}
}

// TestSyncHoldsResponseEnd holds the audit log's fsync for each request
// and checks that the response is not complete anywhere — on the wire the
// gateway wrote, nor at a client that has read all of it — until the
// request's event is durable; and that, once it is, the client gets the
// whole response. Every size, framing and protocol the net/http engine
// serves: Content-Length bodies of 16 B to 1 MiB, streamed (chunked)
// bodies, bodies buffered for DLP, HEAD, 204, 304, an empty 200, problem
// documents, over HTTP/1.1 and HTTP/2, with and without TLS.
func TestSyncHoldsResponseEnd(t *testing.T) {
	var seq atomic.Int64
	disk := newSlowDisk(&seq)
	g, dir := syncGateway(t, disk)
	for _, p := range syncProtos {
		t.Run(p.name, func(t *testing.T) {
			srv, tl := p.serve(t, g)
			for _, tc := range syncCases() {
				t.Run(tc.name, func(t *testing.T) {
					runSyncCase(t, p, srv, tl, disk, &seq, dir, tc)
				})
			}
		})
	}
}

func runSyncCase(t *testing.T, p syncProto, srv *httptest.Server, tl *tapListener, disk *slowDisk, seq *atomic.Int64, dir string, tc syncCase) {
	t.Helper()
	rc := &readCounter{more: make(chan struct{}, 1)}
	c := p.client(srv, rc)
	defer c.CloseIdleConnections()
	first := tl.accepted() // the request's connection is the next one
	disk.arm()
	done := make(chan syncResult, 1)
	go func() {
		req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if err != nil {
			done <- syncResult{err: err}
			return
		}
		resp, err := c.Do(req)
		if err != nil {
			done <- syncResult{err: err}
			return
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		done <- syncResult{resp: resp, body: body, err: err, seq: seq.Add(1)}
	}()

	wait(t, disk.entered, "fsync of the event") // the gateway is now waiting for the disk
	released := false
	defer func() {
		if !released { // failed midway: let the log go on for the next case
			disk.release <- struct{}{}
		}
	}()
	conn := tl.conn(first)
	if conn == nil {
		t.Fatal("the request's connection was not accepted")
	}
	wire := conn.written()
	if !p.tls && p.complete(wire, tc.method, tc.length) {
		t.Errorf("the gateway wrote the whole response (%d bytes on the wire) before its audit event was on disk", len(wire))
	}
	// The client reads everything the gateway wrote; it must still lack
	// the end of the response.
	var early *syncResult
	for early == nil && rc.n.Load() < int64(len(wire)) {
		select {
		case <-rc.more:
		case r := <-done:
			early = &r
		}
	}
	if early == nil {
		select {
		case r := <-done:
			early = &r
		default:
		}
	}
	if early != nil && early.err == nil {
		t.Errorf("the client had the whole response (%d body bytes) before its audit event was on disk", len(early.body))
	}
	disk.release <- struct{}{}
	released = true
	r := early
	if r == nil {
		got := wait(t, done, "response")
		r = &got
	}
	if r.err != nil {
		t.Fatalf("after the event was on disk: %v", r.err)
	}
	if want := 1 + boolInt(p.h2); r.resp.ProtoMajor != want {
		t.Errorf("HTTP/%d, want HTTP/%d", r.resp.ProtoMajor, want)
	}
	if r.resp.StatusCode != tc.status {
		t.Fatalf("status %d, want %d: %.200s", r.resp.StatusCode, tc.status, r.body)
	}
	if tc.body != nil && !bytes.Equal(r.body, tc.body) {
		t.Errorf("body: %d bytes, want %d (first difference matters)", len(r.body), len(tc.body))
	}
	if r.seq < disk.durableSeq() {
		t.Errorf("the client had the whole response before its event was durable")
	}
	id := r.resp.Header.Get("X-Request-Id")
	if id == "" {
		t.Fatal("no X-Request-Id")
	}
	var ev *audit.Event
	if err := audit.Each(dir, func(_ int64, e audit.Event, _ []byte) error {
		if e.RequestID == id {
			ev = &e
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	switch {
	case ev == nil:
		t.Errorf("no audit event for %s", id)
	case ev.Status != tc.status || (tc.method != "HEAD" && ev.Bytes != int64(len(r.body))):
		t.Errorf("event: status %d, %d bytes; the client got %d, %d bytes", ev.Status, ev.Bytes, r.resp.StatusCode, len(r.body))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestSyncFailedRecordAborts fails the audit log's disk: in sync mode no
// response may then be acknowledged. Each is aborted (the connection
// closed, or the HTTP/2 stream reset) before its end, whatever its shape.
func TestSyncFailedRecordAborts(t *testing.T) {
	var seq atomic.Int64
	disk := newSlowDisk(&seq)
	g, _ := syncGateway(t, disk)
	disk.mu.Lock()
	disk.fail = errors.New("injected: the disk is gone")
	disk.mu.Unlock()
	cases := []syncCase{
		{name: "content-length/16", method: "GET", path: "/bytes/16"},
		{name: "content-length/262144", method: "GET", path: "/bytes/262144"},
		{name: "streamed/65536", method: "GET", path: "/stream/65536"},
		{name: "buffered-dlp/65536", method: "GET", path: "/dlp/65536"},
		{name: "head", method: "HEAD", path: "/bytes/65536"},
		{name: "204", method: "GET", path: "/status/204"},
		{name: "denied-404", method: "GET", path: "/nowhere"},
	}
	for _, p := range syncProtos {
		t.Run(p.name, func(t *testing.T) {
			srv, _ := p.serve(t, g)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					disk.arm() // the first request's fsync fails; the log then refuses every event
					c := p.client(srv, &readCounter{more: make(chan struct{}, 1)})
					defer c.CloseIdleConnections()
					req, err := http.NewRequest(tc.method, srv.URL+tc.path, nil)
					if err != nil {
						t.Fatal(err)
					}
					resp, err := c.Do(req)
					if err == nil {
						var body []byte
						body, err = io.ReadAll(resp.Body)
						_ = resp.Body.Close()
						if err == nil {
							t.Fatalf("acknowledged (%d, %d body bytes) though its audit event was not written", resp.StatusCode, len(body))
						}
					}
					t.Logf("aborted: %v", err)
				})
			}
		})
	}
}
