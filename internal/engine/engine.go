// Package engine runs a pipeline on net/http: it turns an *http.Request into
// a pipeline.Exchange, enforces the listener's size limits, runs the request
// stages, hands allowed requests to a terminal handler (the reverse proxy in
// gateway mode, the application in middleware mode), runs the response
// stages when the response's headers are written, renders every refusal as
// a problem document and hands the finished exchange to the observers.
//
// With Options.AwaitRecord (the gateway's audit.sync) the observers run
// before the response ends: the engine holds back the last byte of a
// Content-Length body and every flush of a response without a body, and
// net/http writes the final chunk of a streamed body (or HTTP/2's
// END_STREAM) only once the handler has returned. A record that was not
// kept aborts the response instead.
//
// It is the only package that knows net/http's request and response types on
// the request path besides the terminal; stages see the transport-neutral
// Exchange, so a faster engine can replace this one without touching them.
package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/problem"
)

// Options configures a Handler.
type Options struct {
	// MaxHeaderBytes bounds the request line and headers (431 beyond).
	MaxHeaderBytes int
	// MaxBodyBytes bounds the request body (413 beyond).
	MaxBodyBytes int64
	// MaxResponseBodyBytes bounds a response body that a stage needs whole
	// (502 beyond). Streaming responses are not bounded by it.
	MaxResponseBodyBytes int
	// NewRequestID makes a request id for refusals that happen before the
	// client stage runs.
	NewRequestID func() string
	// Logger receives the causes of failures; never request contents.
	Logger *slog.Logger
	// AwaitRecord holds back the end of every response until the
	// observers have seen the exchange and every pipeline.Committer among
	// them (the audit log in sync mode, which returns once the event is on
	// disk) has kept its record. The end is the last byte of a
	// Content-Length body, the final chunk of a streamed one (END_STREAM
	// on HTTP/2), or, for a response without a body (HEAD, 204, 304,
	// Content-Length: 0), its headers. When a record fails, the response
	// is aborted instead (the HTTP/1 connection closed, the HTTP/2 stream
	// reset), so that no client takes it for an acknowledgement.
	// Everything before the end streams as usual.
	AwaitRecord bool
}

// DefaultMaxResponseBodyBytes applies when Options leaves the bound unset.
const DefaultMaxResponseBodyBytes = 10 << 20

// Handler is an http.Handler that runs a pipeline in front of a terminal
// handler. It is safe for concurrent use.
type Handler struct {
	p        *pipeline.Pipeline
	terminal http.Handler
	opt      Options
	pool     sync.Pool
}

// New returns a Handler. The terminal handler finds the exchange with
// pipeline.FromContext(r.Context()).
func New(p *pipeline.Pipeline, terminal http.Handler, opt Options) *Handler {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.MaxResponseBodyBytes <= 0 {
		opt.MaxResponseBodyBytes = DefaultMaxResponseBodyBytes
	}
	h := &Handler{p: p, terminal: terminal, opt: opt}
	h.pool.New = func() any {
		s := &state{}
		s.x.Reset()
		return s
	}
	return h
}

// state is what one request needs, pooled as one allocation.
type state struct {
	x   pipeline.Exchange
	rw  responseWriter
	req *http.Request
	max int64
	buf bytes.Buffer // a buffered response body
}

// ReadBody reads the whole request body for a stage, bounded.
func (s *state) ReadBody() ([]byte, error) {
	r := s.req
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.max+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(b)) > s.max:
		return nil, pipeline.ErrBodyTooLarge
	case err != nil:
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	return b, nil
}

// maxRetainedBuffer bounds the response buffer kept in the pool.
const maxRetainedBuffer = 1 << 20

// ServeHTTP runs the pipeline for one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.pool.Get().(*state)
	x := &s.x
	x.Reset()
	x.Start = time.Now()
	h.fill(x, r)
	ctx := r.Context()
	rw := &s.rw
	clear(rw.taps) // the last request's writers are not kept alive
	*rw = responseWriter{w: w, h: h, x: x, ctx: ctx, buf: &s.buf, taps: rw.taps[:0], await: h.opt.AwaitRecord}
	s.req, s.max = r, h.opt.MaxBodyBytes
	if s.max <= 0 {
		s.max = 1<<63 - 2
	}
	x.SetBodySource(s)

	defer func() {
		if v := recover(); v != nil {
			if rw.buffering && !rw.committed && v == http.ErrAbortHandler {
				// The terminal aborted while its response was being
				// buffered for a stage: nothing reached the client, so
				// answer properly instead of dropping the connection.
				if x.Denial == nil {
					x.Denial = &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonUpstreamAborted,
						Message: "The upstream response could not be read."}
				}
				rw.buffering = false
				h.refuse(rw, x.Denial)
				if h.release(s) {
					panic(http.ErrAbortHandler)
				}
				return
			}
			// http.ErrAbortHandler is how a proxy aborts a response whose
			// upstream failed mid-body; anything else is a bug. Either way
			// the exchange is recorded before the panic goes on.
			if err, ok := v.(error); !ok || !errors.Is(err, http.ErrAbortHandler) {
				h.opt.Logger.Error("panic serving request", "request_id", x.RequestID, "panic", v)
			}
			if x.Err == nil {
				x.Err = http.ErrAbortHandler
			}
			_ = h.finish(x) // the response is aborted either way
			panic(v)
		}
		if h.release(s) {
			// The record failed while the response's end was held: abort
			// it (net/http closes the connection or resets the stream).
			panic(http.ErrAbortHandler)
		}
	}()

	if d := h.limits(x, r, rw); d != nil {
		x.Decisions = append(x.Decisions, pipeline.Decision{Stage: "listener", Outcome: pipeline.Denied, Reason: d.Reason})
		h.refuse(rw, d)
		return
	}
	if err := h.p.Request(ctx, x); err != nil {
		h.refuse(rw, err)
		return
	}
	if body, ok := x.BufferedRequestBody(); ok {
		// A stage read or replaced the body: send what it saw.
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}
	h.terminal.ServeHTTP(rw, r.WithContext(pipeline.WithExchange(ctx, x)))
	if rw.buffering && !rw.committed {
		rw.flushBuffered()
		return
	}
	switch {
	case x.Denial != nil && !rw.wroteHeader:
		// The terminal refused (upstream down or slow, body too large).
		x.Decisions = append(x.Decisions, pipeline.Decision{Stage: "upstream", Outcome: pipeline.Denied, Reason: x.Denial.Reason})
		h.refuse(rw, x.Denial)
	case !rw.wroteHeader:
		rw.WriteHeader(http.StatusOK)
	}
}

// release finishes the exchange and returns its state to the pool. When
// the end of the response waits for the record (AwaitRecord), it sends
// the held byte once the observers have run, or reports with abort that a
// record failed and the response must be aborted.
func (h *Handler) release(s *state) (abort bool) {
	err := h.finish(&s.x)
	if rw := &s.rw; rw.await {
		switch {
		case err != nil:
			abort = true
			h.opt.Logger.Warn("response aborted: its record was not kept", "request_id", s.x.RequestID, "error", err)
		case rw.held:
			_, _ = rw.w.Write(rw.last[:]) // an error means the client left; nothing to tell it
		}
	}
	s.req = nil
	if s.buf.Cap() > maxRetainedBuffer {
		s.buf = bytes.Buffer{}
	}
	s.buf.Reset()
	h.pool.Put(s)
	return abort
}

// finish hands the exchange to the observers; it returns a record's
// failure.
func (h *Handler) finish(x *pipeline.Exchange) error {
	if x.RequestID == "" && h.opt.NewRequestID != nil {
		x.RequestID = h.opt.NewRequestID()
	}
	x.Duration = time.Since(x.Start)
	return h.p.Finish(x)
}

// fill copies what stages may see of r into x.In.
func (h *Handler) fill(x *pipeline.Exchange, r *http.Request) {
	in := &x.In
	in.Method = r.Method
	in.Host = r.Host
	in.Header = r.Header
	in.TLS = r.TLS != nil
	if in.TLS && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		in.ClientCert = r.TLS.VerifiedChains[0][0] // verified by the listener, never merely presented
	}
	in.ContentLength = r.ContentLength
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' { // absolute-form, or a request built in-process
		uri = r.URL.EscapedPath()
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
	}
	in.RawPath, in.RawQuery, _ = strings.Cut(uri, "?")
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		in.Peer = ap
	}
	n := len(r.Method) + len(uri) + len(r.Host) + 16
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	in.HeaderBytes = n
}

// limits enforces the listener's size limits and framing rules before
// any stage runs.
func (h *Handler) limits(x *pipeline.Exchange, r *http.Request, rw *responseWriter) *pipeline.Denial {
	if h.opt.MaxHeaderBytes > 0 && x.In.HeaderBytes > h.opt.MaxHeaderBytes {
		return pipeline.Deny(http.StatusRequestHeaderFieldsTooLarge, ReasonListenerHeadersTooLarge,
			"The request headers are too large.")
	}
	if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
		// A chunked request may have come with a Content-Length too,
		// which net/http drops before the handler can see it: a proxy in
		// front that framed it by that length sent the rest of its
		// chunked body as the next request (CL.TE). RFC 9112 6.1: the
		// server MUST close the connection after responding to such a
		// request, so every chunked request ends its connection and
		// nothing after its body is read as a request. (net/http ignores
		// Transfer-Encoding in HTTP/1.0, golang/go#12785, and closes
		// those connections anyway unless asked to keep them.)
		rw.closeAfter = true
	}
	if h.opt.MaxBodyBytes > 0 {
		if r.ContentLength > h.opt.MaxBodyBytes {
			return pipeline.Deny(http.StatusRequestEntityTooLarge, pipeline.ReasonListenerBodyTooLarge,
				"The request body is too large.")
		}
		if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			r.Body = http.MaxBytesReader(rw.w, r.Body, h.opt.MaxBodyBytes)
		}
	}
	return nil
}

// refuse records err in the exchange and renders it, unless the response
// has already started.
func (h *Handler) refuse(rw *responseWriter, err error) {
	x := rw.x
	if x.RequestID == "" && h.opt.NewRequestID != nil {
		x.RequestID = h.opt.NewRequestID()
	}
	if !x.ClientIP.IsValid() {
		x.ClientIP = x.In.Peer.Addr().Unmap() // refused before the client stage: the peer is all we know
	}
	d, ok := pipeline.AsDenial(err)
	if !ok {
		h.opt.Logger.Error("stage failed", "request_id", x.RequestID, "error", err)
		x.Err = err
		d = &pipeline.Denial{Status: http.StatusInternalServerError, Reason: ReasonInternal,
			Message: "The gateway failed to process the request."}
	}
	x.Denial = d
	if d.Cause != nil && d.Status >= 500 {
		h.opt.Logger.Warn("request refused", "request_id", x.RequestID, "reason", d.Reason, "error", d.Cause)
	}
	if rw.committed {
		return // too late: the response is on its way
	}
	rw.rendering, rw.discard, rw.wroteHeader, rw.buffering = true, false, false, false
	x.Response.Body, x.Response.Buffered = nil, false
	problem.WriteErrors(rw, d.Status, d.Reason, d.Message, x.RequestID, d.Header, problemErrors(d.Errors))
	rw.rendering, rw.discard = false, true
}

// problemErrors turns a Denial's field errors into the problem
// document's errors member; nil for none.
func problemErrors(errs []pipeline.FieldError) []problem.Error {
	if len(errs) == 0 {
		return nil
	}
	out := make([]problem.Error, len(errs))
	for i, e := range errs {
		out[i] = problem.Error{In: e.In, Parameter: e.Name, Pointer: e.Pointer, Detail: e.Detail}
	}
	return out
}

// responseWriter runs the response stages when the response's headers are
// written and counts body bytes.
type responseWriter struct {
	w   http.ResponseWriter
	h   *Handler
	x   *pipeline.Exchange
	ctx context.Context

	wroteHeader bool
	committed   bool // the status line went to the client
	buffering   bool // the body is collected for a BodyStage
	overflow    bool // the buffered body passed the limit
	buf         *bytes.Buffer
	rendering   bool // writing Rampart's own problem document
	discard     bool // the response was replaced; drop the rest
	taps        []io.Writer
	// closeAfter ends the connection after this response: the request
	// was chunked (see Handler.limits).
	closeAfter bool

	// With AwaitRecord, how the committed response ends (see commit).
	await    bool    // Options.AwaitRecord
	bodyless bool    // no body: the headers are the end, never flushed early
	headBody bool    // a HEAD response: body writes are dropped here
	hold     bool    // a Content-Length body: its last byte is held back
	clen     int64   // its declared length
	sent     int64   // body bytes taken so far, the held one included
	held     bool    // last holds the body's last byte, for release
	last     [1]byte // the held byte
}

func (rw *responseWriter) Header() http.Header { return rw.w.Header() }

func (rw *responseWriter) WriteHeader(code int) {
	if rw.wroteHeader || rw.discard {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		rw.w.WriteHeader(code) // informational: passed through
		return
	}
	rw.wroteHeader = true
	x := rw.x
	x.Response.Status = code
	x.Response.Header = rw.w.Header()
	if !rw.rendering && code != http.StatusSwitchingProtocols && rw.h.p.WantsResponseBody(x) {
		rw.buffering = true // the stages run on the whole body, in flushBuffered
		return
	}
	if rw.rendering {
		// Rampart's own problem document: every stage adds its headers;
		// a stage's objection cannot replace a refusal.
		rw.h.p.ResponseAll(rw.ctx, x)
	} else if err := rw.h.p.Response(rw.ctx, x); err != nil {
		rw.h.refuse(rw, err)
		return
	}
	if !rw.rendering {
		rw.taps = rw.h.p.Taps(rw.x, rw.taps[:0])
	}
	rw.commit(code)
}

// commit sends the status and headers on to net/http, which writes them
// with the first body bytes, at a flush or when the handler returns. With
// AwaitRecord it first notes how the response will end, so that the end
// waits for the record: a Content-Length body's last byte is held, a
// response without a body is never flushed, and the rest ends only when
// the handler returns (the final chunk, END_STREAM, a close).
func (rw *responseWriter) commit(code int) {
	rw.committed = true
	if rw.closeAfter {
		rw.w.Header().Set("Connection", "close")
	}
	if rw.await {
		rw.clen, rw.sent, rw.held = -1, 0, false
		if cl := rw.w.Header().Get("Content-Length"); cl != "" {
			// Parsed as net/http parses it: a length it would reject
			// makes a streamed response, which ends after the handler.
			if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
				rw.clen = n
			}
		}
		rw.headBody = rw.x.In.Method == http.MethodHead
		rw.bodyless = rw.headBody || !bodyAllowed(code) || rw.clen == 0
		rw.hold = !rw.bodyless && rw.clen > 0
	}
	rw.w.WriteHeader(code)
}

// send writes body bytes to net/http. With AwaitRecord the last byte of a
// Content-Length body is kept back for release, and a HEAD response's body
// (which net/http drops) is dropped here, before HTTP/2 could send the
// headers, and with them the response's end, when its buffer fills.
func (rw *responseWriter) send(b []byte) (int, error) {
	if !rw.hold {
		if rw.headBody {
			return len(b), nil
		}
		return rw.w.Write(b)
	}
	rest := rw.clen - rw.sent
	switch {
	case len(b) == 0:
		return 0, nil
	case int64(len(b)) > rest:
		// More than declared: refused whole, as net/http refuses it, and
		// so is everything after.
		rw.sent = rw.clen + 1
		return 0, http.ErrContentLength
	case int64(len(b)) < rest:
		n, err := rw.w.Write(b)
		rw.sent += int64(n)
		return n, err
	}
	if len(b) > 1 {
		n, err := rw.w.Write(b[:len(b)-1])
		rw.sent += int64(n)
		if err != nil {
			return n, err
		}
	}
	rw.last[0], rw.held = b[len(b)-1], true
	rw.sent++
	return len(b), nil
}

func (rw *responseWriter) Write(b []byte) (int, error) {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.discard {
		return len(b), nil
	}
	if rw.buffering {
		if rw.buf.Len()+len(b) > rw.h.opt.MaxResponseBodyBytes {
			rw.overflow = true
			rw.x.Denial = &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonUpstreamResponseTooLarge,
				Message: "The upstream response is too large to inspect."}
			return 0, errResponseTooLarge
		}
		return rw.buf.Write(b)
	}
	n, err := rw.send(b)
	rw.x.Response.Bytes += int64(n)
	for _, t := range rw.taps {
		_, _ = t.Write(b[:n])
	}
	return n, err
}

// errResponseTooLarge stops the terminal from copying a response that
// cannot be buffered.
var errResponseTooLarge = errors.New("response body exceeds max_response_body_bytes")

// flushBuffered runs the response stages on the whole buffered body and
// sends the result.
func (rw *responseWriter) flushBuffered() {
	x := rw.x
	rw.buffering = false
	if rw.overflow {
		rw.h.refuse(rw, x.Denial)
		return
	}
	x.Response.Body, x.Response.Buffered = rw.buf.Bytes(), true
	if err := rw.h.p.Response(rw.ctx, x); err != nil {
		rw.h.refuse(rw, err)
		return
	}
	h := rw.w.Header()
	if x.In.Method != http.MethodHead && bodyAllowed(x.Response.Status) {
		h.Set("Content-Length", strconv.Itoa(len(x.Response.Body)))
	}
	rw.commit(x.Response.Status)
	n, _ := rw.send(x.Response.Body)
	x.Response.Bytes += int64(n)
}

func bodyAllowed(status int) bool {
	return status >= 200 && status != http.StatusNoContent && status != http.StatusNotModified
}

// Flush sends buffered data to the client, for streaming responses; it is
// a no-op while a body is being collected for a stage, and, with
// AwaitRecord, for a response without a body, whose headers are its end.
func (rw *responseWriter) Flush() {
	if !rw.wroteHeader {
		rw.WriteHeader(http.StatusOK)
	}
	if rw.buffering || rw.discard || rw.bodyless {
		return
	}
	_ = http.NewResponseController(rw.w).Flush()
}

// Unwrap lets http.ResponseController reach the connection (hijacking for
// protocol upgrades, deadlines).
func (rw *responseWriter) Unwrap() http.ResponseWriter { return rw.w }
