// Package server owns listening sockets: one http.Server per configured
// address with the configured timeouts and size limits, TLS with HTTP/2 on
// HTTPS listeners, the plaintext listener that only redirects to HTTPS, and
// graceful shutdown.
//
// It does not own what is served (package gateway builds the handler) or
// the TLS policy (package tlsconf).
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/rampart-gw/rampart/internal/config"
)

// Listener is one address to serve.
type Listener struct {
	Name    string
	Address string
	// TLS, when set, makes the listener serve HTTPS.
	TLS *tls.Config
	// HTTP2 enables HTTP/2 on a TLS listener.
	HTTP2 bool
	// ExtraALPN are further protocols offered in the TLS handshake, such
	// as "acme-tls/1" for ACME's TLS-ALPN-01 challenge.
	ExtraALPN []string
	Handler   http.Handler
}

// Group serves a set of listeners and shuts them down together.
type Group struct {
	log     *slog.Logger
	servers []*http.Server
	addrs   []net.Addr
	errs    chan error
	wg      sync.WaitGroup
}

// Start binds every listener and serves them in the background. If any
// address cannot be bound, the ones already bound are closed.
func Start(ls []Listener, s config.Server, log *slog.Logger) (*Group, error) {
	g := &Group{log: log, errs: make(chan error, len(ls))}
	var bound []net.Listener
	for _, l := range ls {
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			for _, b := range bound {
				_ = b.Close()
			}
			return nil, fmt.Errorf("listening on %s (%s): %w", l.Address, l.Name, err)
		}
		bound = append(bound, ln)
	}
	for i, l := range ls {
		srv := &http.Server{
			Handler:           l.Handler,
			ReadHeaderTimeout: s.ReadHeaderTimeout.Std(),
			ReadTimeout:       s.ReadTimeout.Std(),
			WriteTimeout:      s.WriteTimeout.Std(),
			IdleTimeout:       s.IdleTimeout.Std(),
			// The engine answers 431 with a problem document up to the
			// configured limit; net/http cuts off anything past twice that.
			MaxHeaderBytes: 2 * int(s.MaxHeaderBytes),
			ErrorLog:       slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		}
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		ln := bound[i]
		if l.TLS != nil {
			tc := l.TLS.Clone()
			if l.HTTP2 {
				srv.Protocols.SetHTTP2(true)
				tc.NextProtos = []string{"h2", "http/1.1"}
			} else {
				tc.NextProtos = []string{"http/1.1"}
			}
			tc.NextProtos = append(tc.NextProtos, l.ExtraALPN...)
			srv.TLSConfig = tc
			ln = tls.NewListener(ln, tc)
		}
		g.servers = append(g.servers, srv)
		g.addrs = append(g.addrs, bound[i].Addr())
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				g.errs <- fmt.Errorf("serving %s: %w", l.Name, err)
			}
		}()
	}
	return g, nil
}

// Addrs returns the bound addresses, in the order of the listeners.
func (g *Group) Addrs() []net.Addr { return g.addrs }

// Err delivers the first error of a listener that stopped on its own.
func (g *Group) Err() <-chan error { return g.errs }

// Shutdown stops accepting, lets in-flight requests finish until ctx ends,
// then closes what is left.
func (g *Group) Shutdown(ctx context.Context) error {
	var errs []error
	for _, s := range g.servers {
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = s.Close()
		}
	}
	g.wg.Wait()
	return errors.Join(errs...)
}

// Redirect answers every request with a 308 to the same host, path and query
// on HTTPS at httpsPort. The host is taken from the request only when it is
// a syntactically valid host name or IP, so the redirect cannot be turned
// into a header injection.
func Redirect(httpsPort int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !validHost(host) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			http.Error(w, "use HTTPS", http.StatusBadRequest)
			return
		}
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		target := "https://" + host
		if httpsPort != 443 {
			target += ":" + strconv.Itoa(httpsPort)
		}
		uri := r.URL.EscapedPath()
		if !strings.HasPrefix(uri, "/") || strings.HasPrefix(uri, "//") {
			uri = "/"
		}
		if r.URL.RawQuery != "" {
			uri += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target+uri)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
