// Package secheaders is the response stage that sets security headers on
// every response the client gets, upstream answers and Rampart's own
// problem documents alike: Strict-Transport-Security on HTTPS (RFC 6797),
// X-Content-Type-Options: nosniff (no MIME sniffing of API payloads into
// HTML), a Cache-Control default such as no-store for routes that serve
// personal data, and removal of headers that fingerprint the upstream
// (Server, X-Powered-By).
//
// It does not own CORS or Content-Security-Policy for HTML (set them with
// headers.set) nor body-level protections (package protect, later).
package secheaders

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Stage is the security-headers response stage. It is immutable and safe
// for concurrent use.
type Stage struct {
	hsts         []string // nil when disabled
	remove       []string
	set          []header
	cacheControl [][]string // per route index; nil leaves the upstream's
}

// header is a name in canonical form and its value, built once and shared
// by every response (see pipeline.SetShared).
type header struct {
	name  string
	value []string
}

var nosniff = []string{"nosniff"}

// Deps are what the headers stage is built with besides its config
// section.
type Deps struct {
	// Routes is the route table; a route may override headers.
	Routes []config.Route
}

// New compiles the headers section and the routes' overrides.
func New(h config.Headers, d Deps) (*Stage, error) {
	routes := d.Routes
	s := &Stage{}
	if !h.HSTS.Disabled {
		v := "max-age=" + strconv.FormatInt(int64(h.HSTS.MaxAge.Std().Seconds()), 10)
		if h.HSTS.IncludeSubdomains {
			v += "; includeSubDomains"
		}
		if h.HSTS.Preload {
			v += "; preload"
		}
		s.hsts = []string{v}
	}
	for _, name := range h.Remove {
		s.remove = append(s.remove, http.CanonicalHeaderKey(name))
	}
	for _, name := range slices.Sorted(maps.Keys(h.Set)) {
		s.set = append(s.set, header{http.CanonicalHeaderKey(name), []string{h.Set[name]}})
	}
	s.cacheControl = make([][]string, len(routes))
	for i, r := range routes {
		switch {
		case r.CacheControl != "":
			s.cacheControl[i] = []string{r.CacheControl}
		case h.CacheControl != "":
			s.cacheControl[i] = []string{h.CacheControl}
		}
	}
	return s, nil
}

// Name returns "headers".
func (s *Stage) Name() string { return "headers" }

// Response edits the response headers; it never refuses.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange) error {
	h := x.Response.Header
	for _, name := range s.remove {
		h.Del(name)
	}
	pipeline.SetShared(h, "X-Content-Type-Options", nosniff)
	if (x.In.TLS || x.Scheme == "https") && s.hsts != nil {
		pipeline.SetShared(h, "Strict-Transport-Security", s.hsts)
	}
	if x.Route != nil && x.Route.Index < len(s.cacheControl) {
		if cc := s.cacheControl[x.Route.Index]; cc != nil && h.Get("Cache-Control") == "" {
			pipeline.SetShared(h, "Cache-Control", cc)
		}
	}
	for _, kv := range s.set {
		pipeline.SetShared(h, kv.name, kv.value)
	}
	return nil
}
