package contract

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// TestReviewDuplicates (review of issue 16): values the contract checks
// once but an upstream may read otherwise. Each must be refused.
func TestReviewDuplicates(t *testing.T) {
	for _, spec := range dialects {
		v := compile(t, spec, Options{})
		long := strings.Repeat("a", 100)
		for _, tc := range []struct {
			name string
			r    *Request
		}{
			// openapi3filter validates the first non-empty value of a
			// scalar query parameter; PHP, Express (an array), ASP.NET
			// ("10,1000") read the others.
			{"scalar query parameter repeated", req("GET", "/v1/products?limit=10&limit=100000", "")},
			{"scalar query parameter repeated, enum", req("GET", "/v1/products?sort=name&sort=x'--", "")},
			// encoding/json keeps the last duplicate key; gjson,
			// fastjson, simdjson lookups and some Java parsers keep
			// the first.
			{"duplicate JSON key", req("POST", "/v1/products", `{"name":"`+long+`","name":"w","price":{"amount":1,"currency":"EUR"}}`)},
			// readOnly id, second spelling of the same key.
			{"duplicate readOnly key", req("POST", "/v1/products", `{"name":"w","price":{"amount":1,"currency":"EUR"},"id":"x","id":null}`)},
		} {
			t.Run(spec+"/"+tc.name, func(t *testing.T) {
				var viol *Violation
				if err := v.ValidateRequest(context.Background(), tc.r); !errors.As(err, &viol) || viol.Status != http.StatusBadRequest {
					t.Errorf("accepted (%v), want 400", err)
				}
			})
		}
	}
}

func TestDuplicateKey(t *testing.T) {
	for _, tc := range []struct {
		doc, ptr string
		dup      bool
	}{
		{`{"a":1,"b":2}`, "", false},
		{`{"a":1,"a":2}`, "/a", true},
		{`{"a":{"b":1,"c":{"d":1,"d":2}}}`, "/a/c/d", true},
		{`[{"a":1},{"a":1,"a":2}]`, "/1/a", true},
		{`{"x":[1,[2,{"k":1,"k":1}]]}`, "/x/1/1/k", true},
		{`{"a":{"b":1},"b":{"b":1}}`, "", false},
		{`{"a/b":1,"a/b":2}`, "/a~1b", true},
		{`[1,2,3]`, "", false},
		{`{"a":`, "", false},
		{`"s"`, "", false},
	} {
		ptr, dup := duplicateKey([]byte(tc.doc))
		if ptr != tc.ptr || dup != tc.dup {
			t.Errorf("duplicateKey(%s) = %q, %v; want %q, %v", tc.doc, ptr, dup, tc.ptr, tc.dup)
		}
	}
}
