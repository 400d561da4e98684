package proxy

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// TestLocal: an in-process handler gets what an upstream gets.
func TestLocal(t *testing.T) {
	var got *http.Request
	h := Local(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = r }), "X-Request-Id")
	r := httptest.NewRequest("GET", "/api//items/./1?q=a%20b", nil)
	for k, v := range map[string]string{"X-Rampart-Subject": "admin", "X-Forwarded-For": "203.0.113.9", "X-Original-Url": "/admin",
		"X_Forwarded_For": "198.51.100.1", "X-Http-Method-Override": "DELETE", "Accept": "application/json",
		"Connection": "X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "300", "Te": "trailers"} {
		r.Header[k] = []string{v}
	}
	x := &pipeline.Exchange{Path: "/api/items/1", Query: "q=a%20b", RequestID: "req-1", Scheme: "https",
		ClientIP: netip.MustParseAddr("192.0.2.7"), UpstreamEdits: []pipeline.HeaderEdit{{Name: "X-Rampart-Subject", Value: "ann"}}}
	x.In.Peer = netip.MustParseAddrPort("127.0.0.1:5555")
	h.ServeHTTP(httptest.NewRecorder(), r.WithContext(pipeline.WithExchange(r.Context(), x)))
	if got == nil {
		t.Fatal("the handler was not called")
	}
	if got.URL.Path != "/api/items/1" || got.URL.RawQuery != "q=a%20b" || got.RequestURI != "/api/items/1?q=a%20b" {
		t.Errorf("path %q query %q request URI %q", got.URL.Path, got.URL.RawQuery, got.RequestURI)
	}
	want := map[string]string{"X-Rampart-Subject": "ann", "X-Forwarded-For": "192.0.2.7", "X-Forwarded-Proto": "https",
		"X-Request-Id": "req-1", "X-Original-Url": "", "X_forwarded_for": "", "X-Http-Method-Override": "", "Accept": "application/json",
		"Connection": "", "X-Secret-Hop": "", "Keep-Alive": "", "Te": ""}
	for k, v := range want {
		if g := got.Header.Get(k); g != v {
			t.Errorf("%s: %q, want %q", k, g, v)
		}
	}
	for name := range got.Header {
		if strings.Contains(name, "_") {
			t.Errorf("the underscore header %s reached the handler", name)
		}
	}
	if r.Header.Get("X-Rampart-Subject") != "admin" {
		t.Error("Local changed the caller's request instead of a copy")
	}
}
