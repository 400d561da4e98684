package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
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

// FuzzDuplicateName checks duplicateName's byte walk against an oracle
// built on encoding/json's own tokenizer: on every valid document, it
// finds a repeated member name exactly when some object holds two names
// that bytes.EqualFold calls equal (encoding/json's rule for matching a
// name to a struct field).
func FuzzDuplicateName(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":2}`, `{"a":1,"A":2}`, `{"isAdmin":false,"i\u017fAdmin":true}`, `{"\u212a":1,"k":2}`,
		`[{"a":[1,{"b":1,"B":{}}]}]`, `{"s":"{\"x\":1,\"x\":2}"}`, `{"a\"":1,"A\"":2}`, `{"\ud800":1,"\udbff":2}`,
		"{\"\xff\":1,\"\xfe\":2}", `{"a":{"a":{"a":1}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if d, _ := shape(b, DefaultMaxBodyValues); d > MaxDepth {
			return
		}
		_, got := duplicateName(b)
		if want := oracleDuplicate(t, b); got != want {
			t.Fatalf("duplicateName(%q) = %v, oracle %v", b, got, want)
		}
	})
}

// oracleDuplicate reports whether an object of b holds two member names
// that bytes.EqualFold calls equal, reading b with json.Decoder.Token.
func oracleDuplicate(t *testing.T, b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj    bool
		expect bool
		names  []string
	}
	var st []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatalf("oracle: %v", err)
		}
		var top *frame
		if len(st) > 0 {
			top = st[len(st)-1]
		}
		if top != nil && top.obj && top.expect {
			if tok == json.Delim('}') {
				st = st[:len(st)-1]
				continue
			}
			k := tok.(string)
			for _, n := range top.names {
				if bytes.EqualFold([]byte(n), []byte(k)) {
					return true
				}
			}
			top.names, top.expect = append(top.names, k), false
			continue
		}
		switch tok {
		case json.Delim('{'):
			st = append(st, &frame{obj: true, expect: true})
			continue
		case json.Delim('['):
			st = append(st, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			st = st[:len(st)-1]
		}
		if len(st) > 0 && st[len(st)-1].obj {
			st[len(st)-1].expect = true
		}
	}
}
