package contract

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzValidateRequest sends random methods, paths, queries, headers and
// bodies against the demo spec and the 3.1 keyword spec: the validator
// never panics, never hangs, and every refusal is a *Violation with a
// known status and at most MaxProblems problems.
func FuzzValidateRequest(f *testing.F) {
	seeds := []struct{ method, path, query, header, ctype, body string }{
		{"GET", "/api/products", "page=3", "", "", ""},
		{"PUT", "/api/users/bob", "", "", "application/json", `{"name":"Bob","email":"bob@example.com"}`},
		{"PUT", "/api/users/%2e%2e", "", "", "application/json", `{"name":1}`},
		{"GET", "/api/users/bob", "a=%zz", "X-API-Key: k", "", ""},
		{"POST", "/things", "", "", "application/x-www-form-urlencoded", "name=a&count=x"},
		{"POST", "/things", "", "", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nhi\r\n--X--"},
		{"GET", "/query", "req=a&deep[min]=1&deep[[x]]=2&obj=r,1,g", "", "", ""},
		{"GET", "/matrix/;v=1;v=2", "", "", "", ""},
		{"GET", "/label/.1.2", "", "", "", ""},
		{"GET", "/headers", "", "X-Count: 1\nX-Ids: a,,b\nCookie: session=\"x\"; theme=", "", ""},
		{"POST", "/things", "", "", "application/json", `{"nested":{"must":"x","deep":{"ro":1}},"one":1,"any":"x","all":"ab","konst":"fixed"}`},
		{"POST", "/things", "", "", "application/json", strings.Repeat("[", 70)},
	}
	for _, s := range seeds {
		f.Add(s.method, s.path, s.query, s.header, s.ctype, []byte(s.body))
	}
	vs := []*Validator{
		compile(f, "../demo/openapi.yaml", Options{Response: ResponseBlock}),
		compile(f, "testdata/keywords-3.0.yaml", Options{Response: ResponseBlock}),
		compile(f, "testdata/keywords-3.1.yaml", Options{Response: ResponseBlock}),
	}
	f.Fuzz(func(t *testing.T, method, path, query, header, ctype string, body []byte) {
		h := http.Header{}
		for _, line := range strings.Split(header, "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok {
				h.Add(k, strings.TrimSpace(v))
			}
		}
		r := &Request{Method: method, RawPath: path, RawQuery: query, Header: h.Values, ContentType: ctype, Body: body, HasBody: len(body) > 0}
		for _, v := range vs {
			v.WantsBody(method, path)
			err := v.ValidateRequest(context.Background(), r)
			if err == nil {
				_, _ = v.ValidateResponse(context.Background(), r, 201, h.Values, body)
				continue
			}
			var viol *Violation
			if !errors.As(err, &viol) {
				t.Fatalf("not a violation: %v", err)
			}
			switch viol.Status {
			case 400, 404, 405, 415:
			default:
				t.Fatalf("status %d", viol.Status)
			}
			if len(viol.Problems) == 0 || len(viol.Problems) > MaxProblems {
				t.Fatalf("%d problems", len(viol.Problems))
			}
		}
	})
}
