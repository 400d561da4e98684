package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"iter"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// HeaderView is a read-only Header: the inbound request's headers as
// stages see them. http.Header implements it; any other implementation
// must also be a FieldLister, or Fields lists none of its fields to the
// stages that inspect them all (the WAF).
type HeaderView interface {
	Get(name string) string
	Values(name string) []string
}

// FieldLister is a HeaderView that can list every field it holds; an
// engine whose header type is not http.Header implements it, in the
// order the fields arrived.
type FieldLister interface {
	Fields() iter.Seq2[string, string]
}

// Fields lists every header field of h, one pair per value, for the
// stages that must see all of them (the WAF): h's own order when it is a
// FieldLister; for an http.Header, which keeps no order, names sorted and
// each name's values in the order they arrived.
func Fields(h HeaderView) iter.Seq2[string, string] {
	switch h := h.(type) {
	case FieldLister:
		return h.Fields()
	case http.Header:
		return func(yield func(string, string) bool) {
			for _, name := range slices.Sorted(maps.Keys(h)) {
				for _, v := range h[name] {
					if !yield(name, v) {
						return
					}
				}
			}
		}
	default:
		return func(func(string, string) bool) {}
	}
}

// Header is the transport-neutral view of a set of HTTP headers. Names are
// case-insensitive. net/http's http.Header implements it as it is; another
// engine wraps its own header type.
type Header interface {
	Get(name string) string
	Values(name string) []string
	Set(name, value string)
	Add(name, value string)
	Del(name string)
}

// SetShared sets the header name to vals without copying them: for values
// built once at load time and shared by every request. name must be in
// canonical form and vals must never be modified by anyone.
func SetShared(h Header, name string, vals []string) {
	if hh, ok := h.(http.Header); ok {
		hh[name] = vals
		return
	}
	h.Set(name, vals[0])
}

// Outcome is what a stage decided.
type Outcome uint8

// The outcomes of a stage.
const (
	Allowed Outcome = iota
	Denied
	Failed
)

func (o Outcome) String() string {
	switch o {
	case Allowed:
		return "allow"
	case Denied:
		return "deny"
	default:
		return "error"
	}
}

// Decision is one stage's verdict on one exchange.
type Decision struct {
	Stage   string
	Outcome Outcome
	// Reason is the Denial's reason, "" when allowed.
	Reason string
}

// MaxParams bounds the route parameters of one route.
const MaxParams = 16

// Param is one named route parameter and its value.
type Param struct {
	Name, Value string
}

// Identity is who made a request, as an authenticator established it.
// Identities may be shared between requests (a verified-token cache), so an
// Identity is never modified after an authenticator returns it.
type Identity struct {
	// Subject names the principal (a user, a service).
	Subject string
	// Issuer is who vouches for the subject (a token's iss).
	Issuer string
	Roles  []string
	Groups []string
	Scopes []string
	Tenant string
	// Session identifies the sign-in session, when the credential has one.
	Session string
	// CredentialID names the credential (a key id, a token hash prefix);
	// never the secret itself.
	CredentialID string
	// Method is how the identity was established: jwt, apikey, mtls.
	Method string
	// Authenticator is the name of the authenticator in the config.
	Authenticator string
	// ExpiresAt is when the credential expires; zero when it does not.
	ExpiresAt time.Time
}

// Route is what the route stage found: the route's position in the config
// (stages keep per-route settings in slices indexed by it) and its name.
type Route struct {
	Index int
	Name  string
}

// HeaderEdit is a change to the headers sent upstream: Set with a value,
// or a deletion when Delete is true.
type HeaderEdit struct {
	Name, Value string
	Delete      bool
}

// Request is the inbound request as the engine received it. Stages read it
// and never change it: what goes upstream is built separately, from the
// normalized Exchange.Path and the queued Exchange.UpstreamEdits.
type Request struct {
	Method string
	// Host is the Host header (or :authority), port included if sent.
	Host string
	// RawPath is the path as sent, still percent-encoded.
	RawPath  string
	RawQuery string
	// Header is the request's headers, which stages only read: the view
	// has no methods that change it. What goes upstream is queued in
	// Exchange.UpstreamEdits.
	Header HeaderView
	// Peer is the address of the TCP peer (a proxy, or the client).
	Peer netip.AddrPort
	// TLS is true when the request arrived over TLS.
	TLS bool
	// ClientCert is the client's certificate when the listener verified
	// one (mTLS); nil otherwise.
	ClientCert *x509.Certificate
	// ContentLength is -1 when unknown.
	ContentLength int64
	// HeaderBytes approximates the size of the request line and headers.
	HeaderBytes int
}

// Response is the upstream's (or handler's) response as the client is about
// to get it. Response stages may edit it.
type Response struct {
	Status int
	Header Header
	// Bytes is the number of body bytes written to the client so far.
	Bytes int64
	// Body is the whole response body when a response stage asked for it
	// (BodyStage); stages may replace it. nil when the response streams.
	Body []byte
	// Buffered is true when Body holds the whole body.
	Buffered bool
	// Records is how many records (JSON array elements) the response took
	// to the client, when a stage counted them (routes with a records
	// threshold); 0 otherwise.
	Records int64
	// Findings counts, by kind, the sensitive values data-loss prevention
	// found in the response (never the values); nil when it found none or
	// did not look. FindingsAction is what was done about them: report,
	// mask or block.
	Findings       []Finding
	FindingsAction string
}

// Inspection is what the inputs stage found in one request: the WAF's
// matched rules and anomaly score, and how the request broke the API's
// contract. It holds no value the client sent.
type Inspection struct {
	// WAFRules are the ids of the Core Rule Set rules that matched, in
	// ascending order; never the matched data.
	WAFRules []int
	// WAFScore is the inbound anomaly score the matched rules add up to.
	WAFScore int
	// Contract lists how the request broke the API's contract; in report
	// mode the request passed anyway.
	Contract []FieldError
}

// Finding counts the sensitive values of one kind (card, ssn, jwt...) in
// a response.
type Finding struct {
	Kind  string
	Count int
}

// BodyStage is implemented by response stages that need the whole response
// body of some exchanges (to mask, encrypt or count what it holds). The
// engine then buffers that response, bounded, before any response stage
// runs; other responses stream untouched.
type BodyStage interface {
	WantsResponseBody(x *Exchange) bool
}

// ErrBodyTooLarge is returned by RequestBody when the body exceeds the
// listener's limit.
var ErrBodyTooLarge = errors.New("body too large")

// Exchange is the per-request state, owned by the engine and handed to each
// stage in turn. Each field is written by one stage, named on the field, and
// read by the stages after it. An Exchange is reused across requests: no
// stage or observer may keep a pointer to it past its call.
type Exchange struct {
	// In is the inbound request, set by the engine.
	In Request
	// Start is when the engine received the request.
	Start time.Time

	// RequestID identifies the exchange in logs and in the client's error
	// documents. Written by the client stage.
	RequestID string
	// ClientIP is the real client address, through trusted proxies only.
	// Written by the client stage.
	ClientIP netip.Addr
	// Scheme is "https" when the client's connection is TLS, here or at a
	// trusted proxy that says so in X-Forwarded-Proto; else "http".
	// Written by the client stage.
	Scheme string

	// Path is the normalized path: decoded, without dot segments, duplicate
	// or trailing slashes. Every later stage and the upstream see this one.
	// Written by the route stage.
	Path string
	// Query is the query string as forwarded: every byte outside RFC 3986's
	// query characters percent-encoded, so nothing the client sends can
	// break the upstream's request line. Written by the route stage.
	Query string
	// Route is the matched route; nil until then. Written by the route stage.
	Route *Route
	// Params are the route's named parameters.
	Params []Param

	// Inputs is what the inputs stage found in the request. Written by the
	// inputs stage; zero on routes that inspect nothing.
	Inputs Inspection

	// Identity is who made the request; nil on public routes. Written by
	// the authn stage.
	Identity *Identity

	// UpstreamEdits are header changes for the upstream request, queued by
	// any request stage and applied by the engine.
	UpstreamEdits []HeaderEdit
	// ResponseHeaders are headers a request stage sets on the response,
	// whatever it turns out to be (the upstream's, or a refusal), such as
	// rate-limit state. They are applied before the response stages run.
	ResponseHeaders []HeaderEdit

	// deferred run when the exchange finishes, before the observers.
	deferred []func()

	// Response is set by the engine before the response stages run.
	Response Response
	// Denial is the refusal that ended the exchange, if any.
	Denial *Denial
	// Err is the failure that ended the exchange, if any.
	Err error
	// Decisions holds each stage's verdict, in order.
	Decisions []Decision
	// Duration is the time from Start to the last byte written.
	Duration time.Duration

	paramBuf [MaxParams]Param

	readBody     BodySource
	body         []byte
	bodyErr      error
	bodyRead     bool
	bodyReplaced bool
}

// BodySource reads a whole request body, bounded by the listener's limit.
type BodySource interface {
	ReadBody() ([]byte, error)
}

// SetBodySource is called by the engine with what reads the request body.
// Stages use RequestBody.
func (x *Exchange) SetBodySource(src BodySource) { x.readBody = src }

// RequestBody reads the whole request body once, bounded by the listener's
// max_body_bytes, and keeps it: the upstream still receives it. It returns
// ErrBodyTooLarge past the limit. Stages that do not need the body must not
// call it, so that other requests stream.
func (x *Exchange) RequestBody() ([]byte, error) {
	if x.bodyRead || x.bodyReplaced {
		return x.body, x.bodyErr
	}
	x.bodyRead = true
	if x.readBody == nil {
		return nil, nil
	}
	x.body, x.bodyErr = x.readBody.ReadBody()
	return x.body, x.bodyErr
}

// ReplaceRequestBody sets the body sent upstream (after field encryption,
// for example); the engine fixes Content-Length.
func (x *Exchange) ReplaceRequestBody(b []byte) {
	x.body, x.bodyErr, x.bodyReplaced = b, nil, true
}

// BufferedRequestBody returns the body a stage read or replaced, and
// whether there is one; the engine sends it upstream in place of the stream.
func (x *Exchange) BufferedRequestBody() ([]byte, bool) {
	return x.body, (x.bodyRead && x.bodyErr == nil && x.readBody != nil) || x.bodyReplaced
}

// Reset clears x for reuse, keeping its buffers.
func (x *Exchange) Reset() {
	edits, decisions, resp := x.UpstreamEdits[:0], x.Decisions[:0], x.ResponseHeaders[:0]
	clear(x.deferred)
	deferred := x.deferred[:0]
	*x = Exchange{} // drops body references too: nothing of a request outlives it
	x.UpstreamEdits, x.Decisions, x.ResponseHeaders, x.deferred = edits, decisions, resp, deferred
	x.Params = x.paramBuf[:0]
}

// Param returns the value of the named route parameter, or "".
func (x *Exchange) Param(name string) string {
	for _, p := range x.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

// SetUpstreamHeader queues a header to be set on the upstream request.
func (x *Exchange) SetUpstreamHeader(name, value string) {
	x.UpstreamEdits = append(x.UpstreamEdits, HeaderEdit{Name: name, Value: value})
}

// DelUpstreamHeader queues a header to be removed from the upstream request.
func (x *Exchange) DelUpstreamHeader(name string) {
	x.UpstreamEdits = append(x.UpstreamEdits, HeaderEdit{Name: name, Delete: true})
}

// SetResponseHeader queues a header for the response to the client.
func (x *Exchange) SetResponseHeader(name, value string) {
	x.ResponseHeaders = append(x.ResponseHeaders, HeaderEdit{Name: name, Value: value})
}

// Defer registers f to run once when the exchange finishes, after the
// response was written and before the observers see it, whatever the
// outcome. Stages release what they hold for the request's duration (a
// concurrency slot) this way.
func (x *Exchange) Defer(f func()) { x.deferred = append(x.deferred, f) }

func (x *Exchange) decide(stage string, err error) {
	d := Decision{Stage: stage}
	if err != nil {
		if den, ok := AsDenial(err); ok {
			d.Outcome, d.Reason = Denied, den.Reason
		} else {
			d.Outcome, d.Reason = Failed, "internal"
		}
	}
	x.Decisions = append(x.Decisions, d)
}

type ctxKey struct{}

// WithExchange returns a context that carries x, for the parts of an engine
// that only see a context (a reverse proxy's rewrite hook).
func WithExchange(ctx context.Context, x *Exchange) context.Context {
	return context.WithValue(ctx, ctxKey{}, x)
}

// FromContext returns the Exchange carried by ctx, or nil.
func FromContext(ctx context.Context) *Exchange {
	x, _ := ctx.Value(ctxKey{}).(*Exchange)
	return x
}
