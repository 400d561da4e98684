package inputs

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
	"github.com/rampart-gw/rampart/internal/waf"
)

// Review of issue 16: requests whose body reaches the upstream without the
// check the route promises.
func TestReviewBodyBypass(t *testing.T) {
	s := stage(t)
	ctx := context.Background()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"title":"x","text":"1' UNION SELECT password FROM users WHERE '1'='1"}`))
	_ = zw.Close()
	for _, tc := range []struct {
		name   string
		route  int
		method string
		header http.Header
		body   []byte
		want   string
	}{
		// listNotes (GET /notes) declares no request body: the contract
		// must refuse one, but WantsBody is false there, so the body is
		// never read and ValidateRequest's len(r.Body) > 0 is false.
		{"contract: GET with an undeclared JSON body", 1, "GET",
			http.Header{"Content-Type": {"application/json"}}, []byte(`{"admin":true}`), ReasonInvalid},
		// Header.Get reads only the first Content-Encoding field, so the
		// ReasonEncoded refusal is skipped; the upstream may decode gzip.
		// (The WAF then refuses this one only because gzip is not JSON.)
		{"waf: second Content-Encoding field gzip", 2, "POST",
			http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"identity", "gzip"}}, gz.Bytes(), ReasonEncoded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x pipeline.Exchange
			exchange(&x, tc.route, tc.body)
			x.In.Method = tc.method
			h := x.In.Header.(http.Header)
			for k, v := range tc.header {
				h[k] = v
			}
			err := s.Request(ctx, &x)
			got := ""
			if d, ok := pipeline.AsDenial(err); ok {
				got = d.Reason
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReviewUninspectedContentType (review of issue 16): the gateway read
// only the bodies of types Coraza has a body processor for, but the CRS (901340,
// forceRequestBodyVariable) inspects any other body as URL-encoded. The
// gateway does not read a text/plain body at all, so with 920420 (the
// content-type allowlist) excluded, as JSON APIs often do, SQL injection in
// a text/plain body reaches the upstream uninspected.
func TestReviewUninspectedContentType(t *testing.T) {
	cfg := &config.Config{Version: 1, Routes: []config.Route{{Name: "waf", Path: "/notes", Methods: []string{"POST"},
		WAF: &config.RouteWAF{Exclude: []config.WAFExclusion{{Rules: []string{"920420"}}}}}}}
	s := stageOf(t, cfg)
	var x pipeline.Exchange
	exchange(&x, 0, []byte(`q=1' UNION SELECT password FROM users WHERE '1'='1`))
	x.In.Header.(http.Header).Set("Content-Type", "text/plain")
	err := s.Request(context.Background(), &x)
	if d, ok := pipeline.AsDenial(err); !ok || d.Reason != ReasonWAFBlocked {
		t.Errorf("text/plain SQL injection: %v, want %s", err, ReasonWAFBlocked)
	}
}

// TestReviewUninspectedContentTypeWAFWould: given the body, the same WAF
// blocks it, so the bypass is the gateway's not reading it.
func TestReviewUninspectedContentTypeWAFWould(t *testing.T) {
	cfg := &config.Config{Version: 1, Routes: []config.Route{{Name: "waf", Path: "/notes", Methods: []string{"POST"},
		WAF: &config.RouteWAF{Exclude: []config.WAFExclusion{{Rules: []string{"920420"}}}}}}}
	s := stageOf(t, cfg)
	b := []byte(`q=1' UNION SELECT password FROM users WHERE '1'='1`)
	v, err := s.routes[0].waf.Inspect(context.Background(), &waf.Request{Method: "POST", Host: "api.example.com", RawPath: "/notes",
		Headers: pipeline.Fields(http.Header{"Content-Type": {"text/plain"}, "User-Agent": {"t"}, "Accept": {"*/*"}}), Body: b, HasBody: true})
	if err != nil || !v.Blocked {
		t.Errorf("WAF given the text/plain body: %+v %v, want blocked", v, err)
	}
}

// TestChunkedGET: a chunked body of unknown length may be empty (some
// clients send a GET so); the contract reads it to know, and refuses it
// only when it holds something, on an operation that takes no body.
func TestChunkedGET(t *testing.T) {
	s := stage(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body []byte
		want string
	}{
		{"empty", []byte{}, ""},
		{"with a body", []byte(`{"admin":true}`), ReasonInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x pipeline.Exchange
			exchange(&x, 1, tc.body)
			x.In.Method, x.In.ContentLength = "GET", -1
			x.In.Header.(http.Header).Set("Transfer-Encoding", "chunked")
			got := ""
			if d, ok := pipeline.AsDenial(s.Request(ctx, &x)); ok {
				got = d.Reason
			}
			if got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}

// TestChunkedReport: in report mode a chunked body on an operation that
// takes none is not read (it streams; the contract only records), so
// neither its encoding nor its size can refuse the request.
func TestChunkedReport(t *testing.T) {
	cfg := &config.Config{Version: 1, Routes: []config.Route{{Name: "report", Path: "/notes", Methods: []string{"GET"},
		OpenAPI: &config.RouteOpenAPI{Spec: spec, Request: "report"}}}}
	s := stageOf(t, cfg)
	var x pipeline.Exchange
	exchange(&x, 0, []byte("not read"))
	x.In.Method, x.In.ContentLength = "GET", -1
	h := x.In.Header.(http.Header)
	h.Set("Transfer-Encoding", "chunked")
	h.Set("Content-Encoding", "gzip")
	if err := s.Request(context.Background(), &x); err != nil {
		t.Fatalf("refused in report mode: %v", err)
	}
	if b, ok := x.BufferedRequestBody(); ok {
		t.Errorf("body read (%d bytes) in report mode", len(b))
	}
	if len(x.Inputs.Contract) == 0 {
		t.Error("the body on a body-less operation is not recorded")
	}
}
