package contract

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

var (
	specMu sync.Mutex
	specs  = map[string]*openapi.Spec{}
)

// loadSpec loads a spec once per test binary.
func loadSpec(t testing.TB, path string) *openapi.Spec {
	t.Helper()
	specMu.Lock()
	defer specMu.Unlock()
	if s, ok := specs[path]; ok {
		return s
	}
	s, err := openapi.Load(context.Background(), path, openapi.Options{})
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	specs[path] = s
	return s
}

func compile(t testing.TB, path string, o Options) *Validator {
	t.Helper()
	v, err := Compile(loadSpec(t, path), o)
	if err != nil {
		t.Fatalf("compiling %s: %v", path, err)
	}
	return v
}

// dialects are the two twins of the shop spec: every shop case runs on
// both.
var dialects = []string{"testdata/shop-3.0.yaml", "testdata/shop-3.1.yaml"}

const (
	uuid1  = "3f1c2a9e-8b4d-4c6e-9a1f-000000000001"
	idem   = "7d444840-9dc0-11d1-b245-5ffdce74fad2"
	bearer = "Bearer x"
)

// req builds a Request; hdr is name, value pairs.
func req(method, target, body string, hdr ...string) *Request {
	path, query, _ := strings.Cut(target, "?")
	h := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Add(hdr[i], hdr[i+1])
	}
	r := &Request{Method: method, RawPath: path, RawQuery: query, Header: h.Values, ContentType: h.Get("Content-Type")}
	if body != "" {
		r.Body, r.HasBody = []byte(body), true
		if r.ContentType == "" {
			r.ContentType = "application/json"
		}
	}
	return r
}

// want is an expected outcome: ok, or a status and one problem that must
// be among the violation's.
type want struct {
	status int
	p      Problem
}

var ok = want{}

func bad(in, name, reason string) want {
	return want{http.StatusBadRequest, Problem{In: in, Name: name, Reason: reason}}
}

func badBody(ptr, reason string) want {
	return want{http.StatusBadRequest, Problem{In: "body", Pointer: ptr, Reason: reason}}
}

func check(t *testing.T, v *Validator, r *Request, w want) {
	t.Helper()
	err := v.ValidateRequest(context.Background(), r)
	if w.status == 0 {
		if err != nil {
			t.Fatalf("want accepted, got %v", err)
		}
		return
	}
	var viol *Violation
	if !errors.As(err, &viol) {
		t.Fatalf("want a violation %d %v, got %v", w.status, w.p, err)
	}
	if viol.Status != w.status {
		t.Errorf("status %d, want %d (%v)", viol.Status, w.status, viol)
	}
	for _, p := range viol.Problems {
		if p == w.p {
			return
		}
	}
	t.Errorf("problems %+v lack %+v", viol.Problems, w.p)
}

func TestRouting(t *testing.T) {
	for _, spec := range dialects {
		v := compile(t, spec, Options{})
		cases := []struct {
			name string
			r    *Request
			w    want
		}{
			{"server prefix", req("GET", "/v1/health", ""), ok},
			{"no prefix", req("GET", "/health", ""), ok},
			{"unknown path", req("GET", "/v1/nope", ""), want{404, Problem{In: "request", Reason: "no operation has this path"}}},
			{"wrong method", req("PATCH", "/v1/health", ""), want{405, Problem{In: "request", Reason: "method not declared for this path"}}},
			{"template", req("GET", "/v1/products/"+uuid1, ""), ok},
			{"template bad", req("GET", "/v1/products/42", ""), bad("path", "productId", "format uuid")},
			{"too many segments", req("GET", "/v1/products/"+uuid1+"/x", ""), want{404, Problem{In: "request", Reason: "no operation has this path"}}},
			{"undeclared media type", req("POST", "/v1/products", `{}`, "Content-Type", "text/plain"),
				want{415, Problem{In: "header", Name: "Content-Type", Reason: "media type not declared for this operation"}}},
			{"body where none declared", req("DELETE", "/v1/products/"+uuid1, `{"a":1}`), badBody("", "no request body declared for this operation")},
			{"required body missing", req("POST", "/v1/products", ""), badBody("", "required")},
		}
		for _, c := range cases {
			t.Run(spec+"/"+c.name, func(t *testing.T) { check(t, v, c.r, c.w) })
		}
	}
}

func TestFixedOperation(t *testing.T) {
	v := compile(t, dialects[0], Options{Operation: "getProduct"})
	check(t, v, req("GET", "/v1/products/"+uuid1, ""), ok)
	check(t, v, req("DELETE", "/v1/products/"+uuid1, ""), want{405, Problem{In: "request", Reason: "method not declared for this path"}})
	check(t, v, req("GET", "/v1/orders", ""), want{404, Problem{In: "request", Reason: "no operation has this path"}})
	if _, err := Compile(loadSpec(t, dialects[0]), Options{Operation: "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown operationId: %v", err)
	}
	if _, err := Compile(loadSpec(t, dialects[0]), Options{Response: "maybe"}); err == nil {
		t.Error("bad response mode accepted")
	}
}

func TestWantsBody(t *testing.T) {
	v := compile(t, dialects[0], Options{})
	for _, c := range []struct {
		method, path string
		want         bool
	}{
		{"POST", "/v1/orders", true},
		{"GET", "/v1/orders", false},
		{"POST", "/v1/nope", false},
		{"PATCH", "/v1/orders/7", true},
	} {
		if got := v.WantsBody(c.method, c.path); got != c.want {
			t.Errorf("WantsBody(%s %s) = %v", c.method, c.path, got)
		}
	}
}

// TestConcurrent runs the checks from several goroutines on one
// Validator (go test -race finds shared writes).
func TestConcurrent(t *testing.T) {
	for _, spec := range append(append([]string{}, dialects...), keywordSpecs...) {
		v := compile(t, spec, Options{Response: ResponseBlock})
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 20 {
					_ = v.ValidateRequest(context.Background(), req("POST", "/v1/orders", order1K(), "Idempotency-Key", idem))
					_ = v.ValidateRequest(context.Background(), req("POST", "/things", `{"id":"x","pat":"ABC","nested":{"deep":{"ro":1}}}`))
					_ = v.ValidateRequest(context.Background(), req("GET", "/query?req=a&deep[cur]=eur", ""))
					_, _ = v.ValidateResponse(context.Background(), req("GET", "/v1/products", ""), 200,
						http.Header{"Content-Type": {"application/json"}}.Values, []byte(`{"items":[{"name":"a","internalCost":1}]}`))
				}
			}()
		}
		wg.Wait()
	}
}

func TestCompileErrors(t *testing.T) {
	const head = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      operationId: a\n"
	for _, c := range []struct{ name, spec, want string }{
		{"2020 keyword in a 3.1 parameter", head + "      parameters:\n        - {name: q, in: query, schema: {const: x}}\n      responses: {'200': {description: ok}}\n",
			"operation a: parameter q (query): keyword const"},
		{"pattern Go cannot compile", head + "      requestBody:\n        content:\n          application/json:\n            schema: {type: string, pattern: '(?<=a)b'}\n      responses: {'200': {description: ok}}\n",
			"operation a"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec, err := openapi.LoadData(context.Background(), []byte(c.spec), "", openapi.Options{})
			if err != nil {
				if strings.Contains(c.name, "pattern") {
					return // refused by the loader already: as good
				}
				t.Fatal(err)
			}
			_, err = Compile(spec, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error with %q", err, c.want)
			}
		})
	}
	if _, err := Compile(nil, Options{}); err == nil {
		t.Error("nil spec compiled")
	}
}
