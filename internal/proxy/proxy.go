// Package proxy is the upstream stage of the gateway: it forwards an allowed
// exchange to the route's upstream with net/http/httputil.ReverseProxy.
//
// What the upstream receives is built from the exchange, never copied
// blindly from the client: the normalized path that was authorized, the
// query, and the inbound headers minus hop-by-hop headers (RFC 9110 7.6.1),
// minus every forwarding header the client could have forged (Forwarded,
// X-Forwarded-*, X-Real-IP) and minus anything in Rampart's own namespace
// (X-Rampart-*), which only Rampart may write. Fresh X-Forwarded-For/-Proto/
// -Host and the request id are then set from what the pipeline decided, and
// the stages' queued header edits applied.
//
// Connections to each upstream are pooled and reused; dialing, the wait for
// response headers and idle connections are bounded. Upstream failures
// become 502 or 504 denials; the upstream's own error text never reaches
// the client.
package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"strings"
	"sync"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/trust"
)

// Deps are what a Proxy is built with besides its upstreams section.
type Deps struct {
	// Routes is the route table; each route names its upstream.
	Routes []config.Route
	// RequestIDHeader carries the request id upstream.
	RequestIDHeader string
	// Logger receives proxy-internal errors.
	Logger *slog.Logger
}

// Proxy forwards exchanges to the upstream of their route. It is safe for
// concurrent use; Close releases idle connections.
type Proxy struct {
	byRoute    []*httputil.ReverseProxy
	transports []*http.Transport
}

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }

// New builds one reverse proxy per upstream and maps routes to them.
func New(ups map[string]config.Upstream, opt Deps) (*Proxy, error) {
	routes := opt.Routes
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	pool := &bufferPool{}
	byName := map[string]*httputil.ReverseProxy{}
	p := &Proxy{}
	for name, u := range ups {
		target, err := url.Parse(u.URL)
		if err != nil {
			return nil, fmt.Errorf("upstreams.%s.url: %w", name, err)
		}
		tr, err := transport(u, target)
		if err != nil {
			return nil, fmt.Errorf("upstreams.%s: %w", name, err)
		}
		p.transports = append(p.transports, tr)
		byName[name] = &httputil.ReverseProxy{
			Rewrite:      rewrite(target, u.PreserveHost, http.CanonicalHeaderKey(opt.RequestIDHeader)),
			Transport:    tr,
			BufferPool:   pool,
			ErrorHandler: errorHandler,
			ErrorLog:     slog.NewLogLogger(opt.Logger.Handler(), slog.LevelWarn),
		}
	}
	for i, r := range routes {
		rp, ok := byName[r.Upstream]
		if !ok {
			return nil, fmt.Errorf("routes[%d].upstream: no upstream named %q", i, r.Upstream)
		}
		p.byRoute = append(p.byRoute, rp)
	}
	return p, nil
}

// transport builds the pooled connections to one upstream.
func transport(u config.Upstream, target *url.URL) (*http.Transport, error) {
	dialer := &net.Dialer{Timeout: u.ConnectTimeout.Std(), KeepAlive: -1}
	tr := &http.Transport{
		Proxy:                 nil, // never through an environment proxy
		DialContext:           dialer.DialContext,
		MaxIdleConns:          u.MaxIdleConns,
		MaxIdleConnsPerHost:   u.MaxIdleConns,
		IdleConnTimeout:       u.IdleConnTimeout.Std(),
		ResponseHeaderTimeout: u.ResponseHeaderTimeout.Std(),
		TLSHandshakeTimeout:   u.ConnectTimeout.Std(),
		ExpectContinueTimeout: 1e9,
	}
	if target.Scheme != "https" {
		return tr, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: u.TLS.ServerName}
	if u.TLS.CAFile != "" {
		pool, err := trust.LoadPool(u.TLS.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		tc.RootCAs = pool
	}
	if u.TLS.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(u.TLS.CertFile, u.TLS.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading tls client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = tc
	tr.ForceAttemptHTTP2 = true
	return tr, nil
}

// overrides are inbound headers that some frameworks and servers believe
// over the request line or the TCP peer: path and method overrides (Symfony,
// IIS URL Rewrite, Express method-override) would let the upstream serve
// another resource or method than the one routed, and client-IP headers
// would let a client choose its address. Rampart's X-Forwarded-For is the
// only client address the upstream gets.
var overrides = map[string]bool{
	"X-Original-Url": true, "X-Rewrite-Url": true, "X-Original-Uri": true, "X-Override-Url": true,
	"X-Http-Method-Override": true, "X-Http-Method": true, "X-Method-Override": true,
	"True-Client-Ip": true, "X-Client-Ip": true, "X-Cluster-Client-Ip": true, "Cf-Connecting-Ip": true,
	"Fastly-Client-Ip": true, "X-Originating-Ip": true, "X-Remote-Ip": true, "X-Remote-Addr": true,
	"Client-Ip": true,
	// Protocol upgrades are not proxied: a tunnel would carry requests past
	// routing (h2c smuggling). WebSocket support will be a route opt-in.
	"Upgrade": true, "Http2-Settings": true,
}

// spoofable reports whether an inbound header is removed before
// forwarding: Rampart's own namespace, forwarding headers, overrides, and
// any name with an underscore, which CGI, WSGI and Rack servers turn into a
// dash so that X_Forwarded_For would collide with X-Forwarded-For
// (CVE-2024-45614; nginx drops them by default too).
func spoofable(name string) bool {
	return strings.IndexByte(name, '_') >= 0 || hasPrefixFold(name, "X-Forwarded-") || hasPrefixFold(name, "X-Rampart-") ||
		strings.EqualFold(name, "Forwarded") || strings.EqualFold(name, "X-Real-Ip") || overrides[http.CanonicalHeaderKey(name)]
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func rewrite(target *url.URL, preserveHost bool, idHeader string) func(*httputil.ProxyRequest) {
	return func(pr *httputil.ProxyRequest) {
		x := pipeline.FromContext(pr.In.Context())
		out := pr.Out
		// The path and query that were routed, never the raw ones.
		out.URL.Path, out.URL.RawPath, out.URL.RawQuery = x.Path, "", x.Query
		pr.SetURL(target)
		if preserveHost {
			out.Host = pr.In.Host
		}
		upstreamHeaders(x, out.Header, pr.In.RemoteAddr, pr.In.Host, idHeader)
	}
}

// upstreamHeaders turns the inbound headers h into what an upstream gets:
// spoofable headers removed, X-Forwarded-For/-Host/-Proto and the request
// id set by Rampart, then the stages' edits (identity headers).
func upstreamHeaders(x *pipeline.Exchange, h http.Header, remoteAddr, host, idHeader string) {
	for name := range h {
		if spoofable(name) {
			delete(h, name)
		}
	}
	if strings.EqualFold(h.Get("Connection"), "upgrade") {
		h.Del("Connection")
	}
	// One backing array for the per-request values.
	vals := make([]string, 3)
	vals[0], vals[1], vals[2] = clientIP(x, remoteAddr), host, x.RequestID
	h["X-Forwarded-For"], h["X-Forwarded-Host"], h[idHeader] = vals[0:1:1], vals[1:2:2], vals[2:3:3]
	if x.Scheme == "https" {
		h["X-Forwarded-Proto"] = protoHTTPS
	} else {
		h["X-Forwarded-Proto"] = protoHTTP
	}
	for _, e := range x.UpstreamEdits {
		if e.Delete {
			h.Del(e.Name)
		} else {
			h.Set(e.Name, e.Value)
		}
	}
}

// hopByHop are the headers of one connection (RFC 9110, 7.6.1), which
// httputil.ReverseProxy drops too.
var hopByHop = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// removeHopByHop deletes the hop-by-hop headers and those Connection
// names.
func removeHopByHop(h http.Header) {
	for _, v := range h["Connection"] {
		for _, name := range strings.Split(v, ",") {
			if name = textproto.TrimString(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopByHop {
		h.Del(name)
	}
}

// Local returns a terminal that hands allowed requests to an in-process
// handler (middleware mode) as the proxy hands them to an upstream: the
// routed path and query, never the raw ones; hop-by-hop headers and
// spoofable inbound headers (X-Rampart-*, forwarding headers, overrides)
// removed; X-Forwarded-For,
// -Host, -Proto and the request id set; the stages' header edits
// applied. The handler finds the exchange with pipeline.FromContext.
func Local(next http.Handler, requestIDHeader string) http.Handler {
	idHeader := http.CanonicalHeaderKey(requestIDHeader)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := pipeline.FromContext(r.Context())
		out := r.Clone(r.Context())
		out.URL.Path, out.URL.RawPath, out.URL.RawQuery = x.Path, "", x.Query
		out.RequestURI = out.URL.RequestURI()
		removeHopByHop(out.Header)
		upstreamHeaders(x, out.Header, r.RemoteAddr, r.Host, idHeader)
		next.ServeHTTP(w, out)
	})
}

// Shared, never modified header values.
var (
	protoHTTPS = []string{"https"}
	protoHTTP  = []string{"http"}
)

// clientIP formats the client's address, reusing the peer's text from
// remoteAddr when the client is the peer itself.
func clientIP(x *pipeline.Exchange, remoteAddr string) string {
	if x.ClientIP == x.In.Peer.Addr() {
		if host, _, err := net.SplitHostPort(remoteAddr); err == nil && !strings.Contains(host, "%") {
			return host
		}
	}
	return x.ClientIP.String()
}

// errorHandler turns a failed round trip into a denial on the exchange; the
// engine renders it.
func errorHandler(_ http.ResponseWriter, r *http.Request, err error) {
	{
		x := pipeline.FromContext(r.Context())
		var maxErr *http.MaxBytesError
		var netErr net.Error
		// r is the outgoing request, its body wrapped by ReverseProxy:
		// the client's is found through the context.
		body, _ := r.Context().Value(clientBodyKey{}).(*clientBody)
		switch {
		case errors.As(err, &maxErr) || body != nil && errors.As(body.err, &maxErr):
			x.Denial = &pipeline.Denial{Status: http.StatusRequestEntityTooLarge, Reason: pipeline.ReasonListenerBodyTooLarge,
				Message: "The request body is too large."}
		case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
			// The client went away; nobody is left to answer.
			x.Denial = &pipeline.Denial{Status: 499, Reason: ReasonClientClosed, Message: "The client closed the request.", Cause: err}
		case body != nil && body.err != nil:
			// A malformed chunk, or a client that stopped sending: the
			// upstream got a request that ends early, which it cannot
			// take for a whole one.
			x.Denial = &pipeline.Denial{Status: http.StatusBadRequest, Reason: ReasonRequestBodyInvalid,
				Message: "The request body could not be read.", Cause: body.err}
		case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout()):
			x.Denial = &pipeline.Denial{Status: http.StatusGatewayTimeout, Reason: ReasonUpstreamTimeout,
				Message: "The upstream did not answer in time.", Cause: err}
		default:
			x.Denial = &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonUpstreamUnavailable,
				Message: "The upstream could not be reached.", Cause: err}
		}
		x.Err = err
	}
}

// ServeHTTP forwards the exchange carried by r's context.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := pipeline.FromContext(r.Context())
	if r.Body != nil && r.Body != http.NoBody {
		// The body streams to the upstream; when reading it fails, the
		// transport's error is the client's fault, not the upstream's
		// (see errorHandler).
		body := &clientBody{ReadCloser: r.Body}
		r = r.WithContext(context.WithValue(r.Context(), clientBodyKey{}, body))
		r.Body = body
	}
	p.byRoute[x.Route.Index].ServeHTTP(w, r)
}

// clientBodyKey finds a request's clientBody in its context.
type clientBodyKey struct{}

// clientBody is a request body that remembers why reading it failed.
type clientBody struct {
	io.ReadCloser
	err error
}

func (b *clientBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && b.err == nil {
		b.err = err
	}
	return n, err
}

// Close releases idle upstream connections.
func (p *Proxy) Close() {
	for _, t := range p.transports {
		t.CloseIdleConnections()
	}
}
