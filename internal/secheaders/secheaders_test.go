package secheaders

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func TestResponse(t *testing.T) {
	h := config.Headers{
		HSTS:         config.HSTS{MaxAge: config.Duration(365 * 24 * time.Hour), IncludeSubdomains: true, Preload: true},
		CacheControl: "no-store",
		Remove:       []string{"server", "X-Powered-By"},
		Set:          map[string]string{"x-frame-options": "DENY"},
	}
	routes := []config.Route{{Name: "a"}, {Name: "b", CacheControl: "private, max-age=60"}}
	s, err := New(h, Deps{Routes: routes})
	if err != nil {
		t.Fatal(err)
	}
	run := func(tls bool, route int, upstream http.Header) http.Header {
		x := &pipeline.Exchange{}
		x.Reset()
		x.In.TLS = tls
		x.Route = &pipeline.Route{Index: route}
		x.Response.Header = upstream
		if err := s.Response(context.Background(), x); err != nil {
			t.Fatal(err)
		}
		return upstream
	}
	got := run(true, 0, http.Header{"Server": {"nginx"}, "X-Powered-By": {"PHP"}, "X-Frame-Options": {"ALLOW"}})
	want := map[string]string{
		"Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
		"X-Content-Type-Options":    "nosniff",
		"Cache-Control":             "no-store",
		"X-Frame-Options":           "DENY",
		"Server":                    "",
		"X-Powered-By":              "",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if got := run(false, 0, http.Header{}); got.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS on plain HTTP")
	}
	if got := run(true, 1, http.Header{}); got.Get("Cache-Control") != "private, max-age=60" {
		t.Errorf("route override: %q", got.Get("Cache-Control"))
	}
	if got := run(true, 0, http.Header{"Cache-Control": {"max-age=5"}}); got.Get("Cache-Control") != "max-age=5" {
		t.Errorf("upstream's Cache-Control replaced: %q", got.Get("Cache-Control"))
	}
	off, err := New(config.Headers{HSTS: config.HSTS{Disabled: true}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	x := &pipeline.Exchange{}
	x.Reset()
	x.In.TLS, x.Response.Header = true, http.Header{}
	_ = off.Response(context.Background(), x)
	if x.Response.Header.Get("Strict-Transport-Security") != "" {
		t.Error("disabled HSTS sent")
	}
}
