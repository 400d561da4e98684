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
	hsts         string
	remove       []string
	set          [][2]string
	cacheControl []string // per route index; "" leaves the upstream's
}

// New compiles the headers section and the routes' overrides.
func New(h config.Headers, routes []config.Route) *Stage {
	s := &Stage{}
	if !h.HSTS.Disabled {
		v := "max-age=" + strconv.FormatInt(int64(h.HSTS.MaxAge.Std().Seconds()), 10)
		if h.HSTS.IncludeSubdomains {
			v += "; includeSubDomains"
		}
		if h.HSTS.Preload {
			v += "; preload"
		}
		s.hsts = v
	}
	for _, name := range h.Remove {
		s.remove = append(s.remove, http.CanonicalHeaderKey(name))
	}
	for _, name := range slices.Sorted(maps.Keys(h.Set)) {
		s.set = append(s.set, [2]string{http.CanonicalHeaderKey(name), h.Set[name]})
	}
	s.cacheControl = make([]string, len(routes))
	for i, r := range routes {
		s.cacheControl[i] = h.CacheControl
		if r.CacheControl != "" {
			s.cacheControl[i] = r.CacheControl
		}
	}
	return s
}

// Name returns "headers".
func (s *Stage) Name() string { return "headers" }

// Response edits the response headers; it never refuses.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange) error {
	h := x.Response.Header
	for _, name := range s.remove {
		h.Del(name)
	}
	h.Set("X-Content-Type-Options", "nosniff")
	if x.In.TLS && s.hsts != "" {
		h.Set("Strict-Transport-Security", s.hsts)
	}
	if x.Route != nil && x.Route.Index < len(s.cacheControl) {
		if cc := s.cacheControl[x.Route.Index]; cc != "" && h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", cc)
		}
	}
	for _, kv := range s.set {
		h.Set(kv[0], kv[1])
	}
	return nil
}
