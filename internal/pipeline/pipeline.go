// Package pipeline owns the shape of a request's trip through Rampart: the
// per-request Exchange (the inbound view, the fields each stage writes,
// queued header edits, bounded on-demand bodies, the response view), the
// interfaces of request stages, response stages (BodyStage and BodyTap for
// those that read response bodies) and observers (Committer for those
// whose record can fail), the three outcomes a stage returns, and the
// Pipeline that runs them in the order it is given.
//
// It does not own any stage, the HTTP engine, the rendering of errors or
// the order: stages live in their own packages and import this one; the
// engine (package engine) turns a transport into an Exchange, buffers or
// taps bodies and renders denials (package problem); the assembly point
// (package gateway) fixes the order in code.
//
// A stage returns one of three outcomes:
//
//   - nil: the stage is satisfied; the next stage runs.
//   - a *Denial: the request is refused with the Denial's status and public
//     message; its Reason is recorded in the access log and audit event.
//   - any other error: the stage is broken; the client gets a 500 with no
//     detail and the cause is logged.
//
// Finish runs what stages deferred (Exchange.Defer), then every observer
// in order, and returns the first Committer's failure to keep its record.
// Authenticators have a fourth, local answer (authn.ErrNoCredentials) that
// never leaves the authn stage.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// RequestStage acts on a request before it reaches the upstream. It may read
// everything in the Exchange that earlier stages wrote, write its own fields
// and queue header edits for the upstream; it never writes a response.
// Implementations are immutable after construction and safe for concurrent
// use.
type RequestStage interface {
	// Name is the stage's stable name in logs, metrics and audit events.
	Name() string
	// Request returns nil, a *Denial, or an error for a broken stage.
	Request(ctx context.Context, x *Exchange) error
}

// ResponseStage acts on the response before the client sees its headers.
// It may edit x.Response.Header and x.Response.Status; returning a *Denial
// replaces the response with a problem document.
type ResponseStage interface {
	// Name is the stage's stable name in logs, metrics and audit events.
	Name() string
	// Response returns nil, a *Denial, or an error for a broken stage.
	Response(ctx context.Context, x *Exchange) error
}

// Observer sees every finished exchange exactly once, allowed, denied or
// failed: access log, metrics, anomaly detection and the audit log. Observe
// must not block on I/O, except a Committer's when the response waits for
// its record; it may not keep x, which is reused.
type Observer interface {
	Observe(x *Exchange)
}

// Committer is an Observer whose record of an exchange can fail to be kept,
// such as the audit log when its disk fails. Finish calls Commit in place
// of Observe and reports the failure, so that an engine that holds the end
// of each response until its record is kept (engine.Options.AwaitRecord)
// aborts the response rather than complete one whose record is lost.
type Committer interface {
	Observer
	// Commit records x as Observe does, and returns an error when the
	// record was not kept.
	Commit(x *Exchange) error
}

// Denial is a stage's refusal of a request. Its Message is shown to the
// client; its Cause never is. A Denial may be shared between requests
// (cached refusals): nobody modifies one after it is returned; copy it.
type Denial struct {
	// Status is the HTTP status sent to the client (4xx or 5xx).
	Status int
	// Reason is a stable, dotted code such as "route.not_found", safe to
	// show, used in logs, metrics and audit events.
	Reason string
	// Message is the public explanation; it names no internals.
	Message string
	// Header holds extra response headers such as Allow or Retry-After.
	Header http.Header
	// Errors say, for a request that broke the API's contract, which
	// parameter or body field failed and why; they never hold a value the
	// client sent. They are shown to the client.
	Errors []FieldError
	// Cause is the internal error, logged but never sent.
	Cause error
}

// FieldError is one way in which a request broke its contract: where (In
// and Name, or Pointer for the body) and which rule (Detail, such as
// "maxLength 64"). It names no value.
type FieldError struct {
	// In is "path", "query", "header", "cookie" or "body".
	In string
	// Name is the parameter's name; empty for the body.
	Name string
	// Pointer is the RFC 6901 JSON pointer into the body; empty for
	// parameters and for the body as a whole.
	Pointer string
	// Detail is the rule that failed.
	Detail string
}

// Deny returns a Denial with a status, a stable reason and a public message.
func Deny(status int, reason, message string) *Denial {
	return &Denial{Status: status, Reason: reason, Message: message}
}

func (d *Denial) Error() string {
	if d.Cause != nil {
		return fmt.Sprintf("denied %d %s: %s: %v", d.Status, d.Reason, d.Message, d.Cause)
	}
	return fmt.Sprintf("denied %d %s: %s", d.Status, d.Reason, d.Message)
}

// Unwrap returns the internal cause.
func (d *Denial) Unwrap() error { return d.Cause }

// AsDenial returns err as a *Denial, if it is one.
func AsDenial(err error) (*Denial, bool) {
	var d *Denial
	ok := errors.As(err, &d)
	return d, ok
}

// Pipeline runs stages in the order it was given, which the assembly point
// fixes in code. It is immutable and safe for concurrent use.
type Pipeline struct {
	request   []RequestStage
	response  []ResponseStage
	observers []observer
}

// observer is an Observer and, when it is one, the same as a Committer.
type observer struct {
	o Observer
	c Committer
}

// New returns a Pipeline over the given stages and observers; nil entries
// (stages a config leaves off) are dropped.
func New(request []RequestStage, response []ResponseStage, observers []Observer) *Pipeline {
	p := &Pipeline{}
	for _, s := range request {
		if s != nil {
			p.request = append(p.request, s)
		}
	}
	for _, s := range response {
		if s != nil {
			p.response = append(p.response, s)
		}
	}
	for _, o := range observers {
		if o != nil {
			c, _ := o.(Committer)
			p.observers = append(p.observers, observer{o: o, c: c})
		}
	}
	return p
}

// Request runs the request stages until one refuses or fails. It records
// each stage's decision in x and returns the first non-nil outcome.
func (p *Pipeline) Request(ctx context.Context, x *Exchange) error {
	for _, s := range p.request {
		if err := s.Request(ctx, x); err != nil {
			x.decide(s.Name(), err)
			return err
		}
		x.decide(s.Name(), nil)
	}
	return nil
}

// Response runs the response stages until one refuses or fails.
func (p *Pipeline) Response(ctx context.Context, x *Exchange) error {
	applyResponseHeaders(x)
	for _, s := range p.response {
		if err := s.Response(ctx, x); err != nil {
			x.decide(s.Name(), err)
			return err
		}
	}
	return nil
}

// ResponseAll runs every response stage, ignoring refusals, for responses
// that are already refusals (problem documents): each stage still adds its
// headers.
func (p *Pipeline) ResponseAll(ctx context.Context, x *Exchange) {
	applyResponseHeaders(x)
	for _, s := range p.response {
		_ = s.Response(ctx, x)
	}
}

// WantsResponseBody reports whether any response stage needs the whole
// response body of x.
func (p *Pipeline) WantsResponseBody(x *Exchange) bool {
	for _, s := range p.response {
		if b, ok := s.(BodyStage); ok && b.WantsResponseBody(x) {
			return true
		}
	}
	return false
}

// BodyTap is implemented by a response stage that reads a streamed
// response body as it passes to the client, without holding it: the engine
// writes every chunk the client receives to the writer TapResponseBody
// returns (nil: not interested). It is asked once, after the response
// stages ran on a response that is not buffered; a stage learns that the
// body has ended through Exchange.Defer.
type BodyTap interface {
	TapResponseBody(x *Exchange) io.Writer
}

// Taps appends to buf the writers of the stages that tap x's response
// body.
func (p *Pipeline) Taps(x *Exchange, buf []io.Writer) []io.Writer {
	for _, s := range p.response {
		if t, ok := s.(BodyTap); ok {
			if w := t.TapResponseBody(x); w != nil {
				buf = append(buf, w)
			}
		}
	}
	return buf
}

// Finish runs what stages deferred (Exchange.Defer), then hands the
// finished exchange to every observer, in order. It returns the first
// failure of a Committer to keep its record; every observer runs either
// way.
func (p *Pipeline) Finish(x *Exchange) error {
	for i := len(x.deferred) - 1; i >= 0; i-- {
		x.deferred[i]()
	}
	clear(x.deferred)
	x.deferred = x.deferred[:0]
	var first error
	for _, o := range p.observers {
		if o.c == nil {
			o.o.Observe(x)
			continue
		}
		if err := o.c.Commit(x); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// applyResponseHeaders sets the headers request stages queued for the
// response.
func applyResponseHeaders(x *Exchange) {
	if x.Response.Header == nil {
		return
	}
	for _, e := range x.ResponseHeaders {
		if e.Delete {
			x.Response.Header.Del(e.Name)
		} else {
			x.Response.Header.Set(e.Name, e.Value)
		}
	}
}

// StageNames lists the request and response stages in order, for docs and
// tests.
func (p *Pipeline) StageNames() (request, response []string) {
	for _, s := range p.request {
		request = append(request, s.Name())
	}
	for _, s := range p.response {
		response = append(response, s.Name())
	}
	return request, response
}
