package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// stage is a configurable test stage.
type stage struct {
	name     string
	request  func(x *pipeline.Exchange) error
	response func(x *pipeline.Exchange) error
}

func (s stage) Name() string { return s.name }
func (s stage) Request(_ context.Context, x *pipeline.Exchange) error {
	if s.request == nil {
		return nil
	}
	return s.request(x)
}
func (s stage) Response(_ context.Context, x *pipeline.Exchange) error {
	if s.response == nil {
		return nil
	}
	return s.response(x)
}

type observer struct {
	mu   sync.Mutex
	last pipeline.Exchange
	n    int
}

func (o *observer) Observe(x *pipeline.Exchange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.last, o.n = *x, o.n+1
	o.last.Decisions = append([]pipeline.Decision(nil), x.Decisions...)
}

func ids() func() string { return func() string { return "rid-1" } }

// marker sets a response header so tests can see the response stages ran.
var marker = stage{name: "marker", response: func(x *pipeline.Exchange) error {
	x.Response.Header.Set("X-Marker", "1")
	x.Response.Header.Del("Server")
	return nil
}}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestMiddlewareMode runs the pipeline in front of an application handler,
// the way rampart runs inside a Go service.
func TestMiddlewareMode(t *testing.T) {
	obs := &observer{}
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := pipeline.FromContext(r.Context())
		w.Header().Set("Server", "app")
		w.Header().Set("X-Seen-Id", x.RequestID)
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, "hello")
	})
	setID := stage{name: "id", request: func(x *pipeline.Exchange) error { x.RequestID = "abc"; return nil }}
	h := New(pipeline.New([]pipeline.RequestStage{setID}, []pipeline.ResponseStage{marker}, []pipeline.Observer{obs}), app, Options{NewRequestID: ids()})
	w := serve(h, httptest.NewRequest("POST", "/x", strings.NewReader("body")))
	if w.Code != 201 || w.Body.String() != "hello" || w.Header().Get("X-Marker") != "1" || w.Header().Get("Server") != "" || w.Header().Get("X-Seen-Id") != "abc" {
		t.Fatalf("got %d %q %v", w.Code, w.Body, w.Header())
	}
	if obs.n != 1 || obs.last.Response.Status != 201 || obs.last.Response.Bytes != 5 || len(obs.last.Decisions) != 1 {
		t.Errorf("observed %+v", obs.last)
	}
}

func TestImplicitOKRunsResponseStages(t *testing.T) {
	h := New(pipeline.New(nil, []pipeline.ResponseStage{marker}, nil), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Options{})
	if w := serve(h, httptest.NewRequest("GET", "/", nil)); w.Code != 200 || w.Header().Get("X-Marker") != "1" {
		t.Errorf("got %d %v", w.Code, w.Header())
	}
}

func TestDenialAndFailure(t *testing.T) {
	secret := errors.New("db password is hunter2")
	tests := []struct {
		name   string
		err    error
		status int
		reason string
	}{
		{"denial", &pipeline.Denial{Status: 403, Reason: "authz.denied", Message: "No.", Cause: secret}, 403, "authz.denied"},
		{"failure", secret, 500, "internal"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &observer{}
			reached := false
			app := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true })
			s := stage{name: "s", request: func(*pipeline.Exchange) error { return tt.err }}
			h := New(pipeline.New([]pipeline.RequestStage{s}, []pipeline.ResponseStage{marker}, []pipeline.Observer{obs}), app, Options{NewRequestID: ids()})
			w := serve(h, httptest.NewRequest("GET", "/", nil))
			if reached {
				t.Fatal("terminal reached after refusal")
			}
			if w.Code != tt.status || !strings.Contains(w.Body.String(), tt.reason) || strings.Contains(w.Body.String(), "hunter2") {
				t.Errorf("got %d %s", w.Code, w.Body)
			}
			if w.Header().Get("X-Marker") != "1" {
				t.Error("response stages skipped on a refusal")
			}
			if obs.last.Decisions[0].Outcome == pipeline.Allowed || obs.last.Denial.Reason != tt.reason {
				t.Errorf("observed %+v", obs.last.Decisions)
			}
		})
	}
}

// TestResponseDenialReplacesBody: a response stage that refuses replaces
// the upstream's headers and body entirely.
func TestResponseDenialReplacesBody(t *testing.T) {
	block := stage{name: "dlp", response: func(x *pipeline.Exchange) error {
		if x.Response.Header.Get("X-Secret") != "" {
			return pipeline.Deny(502, "protect.blocked", "The response was blocked.")
		}
		return nil
	}}
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Secret", "1")
		w.Header().Set("Set-Cookie", "s=1")
		_, _ = io.WriteString(w, "4111111111111111")
	})
	h := New(pipeline.New(nil, []pipeline.ResponseStage{block, marker}, nil), app, Options{NewRequestID: ids()})
	w := serve(h, httptest.NewRequest("GET", "/", nil))
	if w.Code != 502 || strings.Contains(w.Body.String(), "4111") || w.Header().Get("X-Secret") != "" || w.Header().Get("Set-Cookie") != "" {
		t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
	}
	if w.Header().Get("X-Marker") != "1" || !strings.Contains(w.Body.String(), "protect.blocked") {
		t.Errorf("problem document: %v %s", w.Header(), w.Body)
	}
}

func TestSizeLimits(t *testing.T) {
	obs := &observer{}
	h := New(pipeline.New(nil, nil, []pipeline.Observer{obs}), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				w.WriteHeader(http.StatusRequestEntityTooLarge)
			}
		}
	}), Options{MaxHeaderBytes: 1024, MaxBodyBytes: 10, NewRequestID: ids()})
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 2000))
	req.RemoteAddr = "192.0.2.7:1234"
	if w := serve(h, req); w.Code != 431 {
		t.Errorf("big headers: %d", w.Code)
	}
	// Regression: a refusal before the client stage still names the stage
	// and the peer in the record.
	if d := obs.last.Decisions; len(d) != 1 || d[0].Stage != "listener" || obs.last.ClientIP.String() != "192.0.2.7" {
		t.Errorf("observed decisions %v, client %v", d, obs.last.ClientIP)
	}
	if w := serve(h, httptest.NewRequest("POST", "/", strings.NewReader(strings.Repeat("b", 11)))); w.Code != 413 {
		t.Errorf("big body with length: %d", w.Code)
	}
	req = httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader(strings.Repeat("b", 11))))
	req.ContentLength = -1
	if w := serve(h, req); w.Code != 413 {
		t.Errorf("big chunked body: %d", w.Code)
	}
}

type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
}

func (f *flushRecorder) Flush() { f.flushes++; f.ResponseRecorder.Flush() }

func TestFlushAndUnwrap(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "a")
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush: %v", err)
		}
	})
	h := New(pipeline.New(nil, []pipeline.ResponseStage{marker}, nil), app, Options{})
	f := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(f, httptest.NewRequest("GET", "/", nil))
	if f.flushes != 1 || f.Header().Get("X-Marker") != "1" {
		t.Errorf("flushes %d headers %v", f.flushes, f.Header())
	}
}

func TestPanicIsObservedAndRepanics(t *testing.T) {
	obs := &observer{}
	h := New(pipeline.New(nil, nil, []pipeline.Observer{obs}), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic(http.ErrAbortHandler)
	}), Options{NewRequestID: ids()})
	func() {
		defer func() {
			if v := recover(); v != http.ErrAbortHandler {
				t.Errorf("recovered %v", v)
			}
		}()
		serve(h, httptest.NewRequest("GET", "/", nil))
	}()
	if obs.n != 1 || !errors.Is(obs.last.Err, http.ErrAbortHandler) {
		t.Errorf("observed %d %v", obs.n, obs.last.Err)
	}
}

// bodyStage reads the request body and masks digits in buffered responses
// of requests whose path is /mask.
type bodyStage struct {
	replace bool
	block   bool
	seen    *string
}

func (bodyStage) Name() string { return "body" }

func (b bodyStage) Request(_ context.Context, x *pipeline.Exchange) error {
	body, err := x.RequestBody()
	if errors.Is(err, pipeline.ErrBodyTooLarge) {
		return pipeline.Deny(413, "body.too_large", "Too large.")
	}
	if err != nil {
		return err
	}
	if b.seen != nil {
		*b.seen = string(body)
	}
	if b.replace {
		x.ReplaceRequestBody([]byte(`{"ssn":"enc:v1:xyz"}`))
	}
	return nil
}

func (bodyStage) WantsResponseBody(x *pipeline.Exchange) bool { return x.In.RawPath == "/mask" }

func (b bodyStage) Response(_ context.Context, x *pipeline.Exchange) error {
	if !x.Response.Buffered {
		return nil
	}
	if b.block && strings.Contains(string(x.Response.Body), "4111") {
		return pipeline.Deny(502, "protect.blocked", "Blocked.")
	}
	x.Response.Body = []byte(strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return '*'
		}
		return r
	}, string(x.Response.Body)))
	return nil
}

func TestRequestBodyAccess(t *testing.T) {
	var got, seen string
	var gotLen int64
	app := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotLen = string(b), r.ContentLength
	})
	for _, tc := range []struct {
		name    string
		replace bool
		body    string
		chunked bool
		status  int
		want    string
	}{
		{"read and forwarded", false, `{"ssn":"123-45-6789"}`, false, 200, `{"ssn":"123-45-6789"}`},
		{"chunked read and forwarded", false, `{"a":1}`, true, 200, `{"a":1}`},
		{"replaced", true, `{"ssn":"123-45-6789"}`, false, 200, `{"ssn":"enc:v1:xyz"}`},
		{"too large for the stage", false, strings.Repeat("x", 100), true, 413, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, seen, gotLen = "", "", 0
			st := bodyStage{replace: tc.replace, seen: &seen}
			h := New(pipeline.New([]pipeline.RequestStage{st}, nil, nil), app, Options{MaxBodyBytes: 64, NewRequestID: ids()})
			req := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
			if tc.chunked {
				req = httptest.NewRequest("POST", "/x", io.MultiReader(strings.NewReader(tc.body)))
				req.ContentLength = -1
			}
			w := serve(h, req)
			if w.Code != tc.status {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if tc.status != 200 {
				return
			}
			if got != tc.want || gotLen != int64(len(tc.want)) || seen != tc.body {
				t.Errorf("terminal got %q (length %d), stage saw %q", got, gotLen, seen)
			}
		})
	}
}

func TestResponseBodyBuffering(t *testing.T) {
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		const body = `{"card":"4111111111111111"}`
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = io.WriteString(w, body)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	})
	for _, tc := range []struct {
		name   string
		block  bool
		path   string
		status int
		body   string
	}{
		{"masked", false, "/mask", 200, `{"card":"****************"}`},
		{"streamed when not wanted", false, "/other", 200, `{"card":"4111111111111111"}`},
		{"blocked", true, "/mask", 502, `protect.blocked`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := New(pipeline.New(nil, []pipeline.ResponseStage{bodyStage{block: tc.block}, marker}, nil), app,
				Options{MaxResponseBodyBytes: 100, NewRequestID: ids()})
			w := serve(h, httptest.NewRequest("GET", tc.path, nil))
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.body) || w.Header().Get("X-Marker") != "1" {
				t.Fatalf("got %d %v %s", w.Code, w.Header(), w.Body)
			}
			if tc.status == 200 && w.Header().Get("Content-Length") != "" && w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
				t.Errorf("Content-Length %s for %d bytes", w.Header().Get("Content-Length"), w.Body.Len())
			}
		})
	}
}

// TestResponseTooLargeToBuffer: a body past the bound is a 502 problem
// document, whether the terminal gives up (proxy: abort) or not.
func TestResponseTooLargeToBuffer(t *testing.T) {
	for _, abort := range []bool{false, true} {
		app := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			if _, err := io.WriteString(w, strings.Repeat("9", 200)); err != nil && abort {
				panic(http.ErrAbortHandler)
			}
		})
		h := New(pipeline.New(nil, []pipeline.ResponseStage{bodyStage{}}, nil), app, Options{MaxResponseBodyBytes: 100, NewRequestID: ids()})
		w := serve(h, httptest.NewRequest("GET", "/mask", nil))
		if w.Code != 502 || !strings.Contains(w.Body.String(), "upstream.response_too_large") || strings.Contains(w.Body.String(), "999") {
			t.Errorf("abort=%v: %d %s", abort, w.Code, w.Body)
		}
	}
}

// traceWriter is a ResponseWriter that records, in order, what the engine
// gave it: "header 200", "write N", "flush"; committer writes "commit"
// into the same trace.
type traceWriter struct {
	h     http.Header
	trace *[]string
	body  strings.Builder
}

func (w *traceWriter) Header() http.Header { return w.h }
func (w *traceWriter) WriteHeader(code int) {
	*w.trace = append(*w.trace, "header "+strconv.Itoa(code))
}
func (w *traceWriter) Write(b []byte) (int, error) {
	*w.trace = append(*w.trace, "write "+strconv.Itoa(len(b)))
	return w.body.Write(b)
}
func (w *traceWriter) Flush() { *w.trace = append(*w.trace, "flush") }

// committer is a pipeline.Committer that records when it commits and
// fails with err.
type committer struct {
	trace *[]string
	err   error
}

func (c committer) Observe(x *pipeline.Exchange) { _ = c.Commit(x) }
func (c committer) Commit(*pipeline.Exchange) error {
	*c.trace = append(*c.trace, "commit")
	return c.err
}

// TestAwaitRecord checks what reaches net/http before and after the record
// is committed: the last byte of a Content-Length body only after it, no
// flush of a response without a body, the rest as it comes; and with a
// failed record, an abort instead of the end.
func TestAwaitRecord(t *testing.T) {
	body10 := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = io.WriteString(w, "0123456789")
	}
	tests := []struct {
		name   string
		method string
		path   string
		await  bool
		fail   bool
		app    http.HandlerFunc
		trace  string
		body   string
		abort  bool
	}{
		{name: "content-length", app: body10, await: true,
			trace: "header 200,write 9,commit,write 1", body: "0123456789"},
		{name: "content-length in pieces, flushed", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "01234")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "56789")
			w.(http.Flusher).Flush()
		}, trace: "header 200,write 5,flush,write 4,flush,commit,write 1", body: "0123456789"},
		{name: "one byte", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1")
			_, _ = io.WriteString(w, "x")
		}, trace: "header 200,commit,write 1", body: "x"},
		{name: "more than declared is refused", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "3")
			if _, err := io.WriteString(w, "0123"); !errors.Is(err, http.ErrContentLength) {
				t.Errorf("write past Content-Length: %v", err)
			}
			if _, err := io.WriteString(w, "012"); !errors.Is(err, http.ErrContentLength) {
				t.Errorf("write after that: %v", err)
			}
		}, trace: "header 200,commit"},
		{name: "short body ends after the handler", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "01234")
		}, trace: "header 200,write 5,commit", body: "01234"},
		{name: "invalid content-length streams", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "ten")
			_, _ = io.WriteString(w, "0123456789")
		}, trace: "header 200,write 10,commit", body: "0123456789"},
		{name: "streamed", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "01234")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "56789")
		}, trace: "header 200,write 5,flush,write 5,commit", body: "0123456789"},
		{name: "content-length 0 is never flushed", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "0")
			w.(http.Flusher).Flush()
		}, trace: "header 200,commit"},
		{name: "204 is never flushed", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			w.(http.Flusher).Flush()
		}, trace: "header 204,commit"},
		{name: "HEAD: body dropped, never flushed", method: "HEAD", await: true, app: func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
		}, trace: "header 200,commit"},
		{name: "buffered for a stage", path: "/mask", await: true, app: body10,
			trace: "header 200,write 9,commit,write 1", body: "**********"},
		{name: "problem document", path: "/deny", await: true, app: body10,
			trace: "header 403,write %d,commit,write 1"}, // %d: all of the document but its last byte
		{name: "failed record aborts before the last byte", await: true, fail: true, app: body10,
			trace: "header 200,write 9,commit", body: "012345678", abort: true},
		{name: "failed record aborts a streamed body", await: true, fail: true, app: func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "01234")
		}, trace: "header 200,write 5,commit", body: "01234", abort: true},
		{name: "without AwaitRecord: as before", app: body10,
			trace: "header 200,write 10,commit", body: "0123456789"},
		{name: "without AwaitRecord: a failed record changes nothing", fail: true, app: body10,
			trace: "header 200,write 10,commit", body: "0123456789"},
		{name: "without AwaitRecord: HEAD flushed", method: "HEAD", app: func(w http.ResponseWriter, _ *http.Request) {
			w.(http.Flusher).Flush()
		}, trace: "header 200,flush,commit"},
	}
	deny := stage{name: "deny", request: func(x *pipeline.Exchange) error {
		if x.In.RawPath == "/deny" {
			return pipeline.Deny(403, "test.denied", "No.")
		}
		return nil
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var trace []string
			c := committer{trace: &trace}
			if tc.fail {
				c.err = errors.New("disk gone")
			}
			p := pipeline.New([]pipeline.RequestStage{deny}, []pipeline.ResponseStage{bodyStage{}}, []pipeline.Observer{c})
			h := New(p, tc.app, Options{AwaitRecord: tc.await, NewRequestID: ids()})
			method, path := tc.method, tc.path
			if method == "" {
				method = "GET"
			}
			if path == "" {
				path = "/"
			}
			w := &traceWriter{h: http.Header{}, trace: &trace}
			var recovered any
			func() {
				defer func() { recovered = recover() }()
				h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
			}()
			want := tc.trace
			if strings.Contains(want, "%d") {
				want = fmt.Sprintf(want, w.body.Len()-1)
			}
			if got := strings.Join(trace, ","); got != want {
				t.Errorf("trace %s\n want %s", got, want)
			}
			if tc.body != "" && w.body.String() != tc.body {
				t.Errorf("body %q, want %q", w.body.String(), tc.body)
			}
			if tc.abort && recovered != http.ErrAbortHandler || !tc.abort && recovered != nil {
				t.Errorf("recovered %v, want abort %v", recovered, tc.abort)
			}
		})
	}
}
