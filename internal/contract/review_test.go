package contract

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
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
		{`{"Role":1,"role":2}`, "/role", true},
		{`{"isAdmin":false,"iſAdmin":true}`, "/iſAdmin", true},
		{`{"isAdmin":false,"i\u017fAdmin":true}`, "/iſAdmin", true},
		{`{"kid":1,"Kid":2}`, "/Kid", true},
		{`{"a\"b":1,"A\"B":2}`, "/A\"B", true},
		{`{"s":"{\"x\":1,\"x\":2}","t":[",\"]"]}`, "", false},
		{`{"a\u00":1}`, "", false},
		{`{"a\u0062":1,"ab":2}`, "/ab", true},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"K3":3}`, "/K3", true},
		{`{"k0":0,"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k18":18}`, "", false},
		{`[1,2,3]`, "", false},
		{`{"a":`, "", false},
		{`"s"`, "", false},
	} {
		if !json.Valid([]byte(tc.doc)) {
			continue // ValidateRequest refuses it before
		}
		ptr, dup := duplicateName([]byte(tc.doc))
		if ptr != tc.ptr || dup != tc.dup {
			t.Errorf("duplicateName(%s) = %q, %v; want %q, %v", tc.doc, ptr, dup, tc.ptr, tc.dup)
		}
	}
}

// TestAliases: a value the contract never checks must not reach a server
// that reads it as a declared parameter: a header spelled with '_' for
// '-' (CGI-style servers and nginx with underscores_in_headers read
// X_Count as X-Count), a query key with brackets (PHP, Rails and qs read
// flag[]=x as flag), a cookie value net/http drops as malformed.
func TestAliases(t *testing.T) {
	for _, spec := range keywordSpecs {
		v := compile(t, spec, Options{})
		for _, tc := range []struct {
			name string
			r    *Request
			w    want
		}{
			{"header alone", req("GET", "/headers", "", "X-Count", "1"), ok},
			{"header and its underscore alias", req("GET", "/headers", "", "X-Count", "1", "X_COUNT", "9"),
				bad("header", "X-Count", "also sent as X_count, which many servers read as the same header")},
			{"query alone", req("GET", "/query?req=a&flag=true", ""), ok},
			{"query key with brackets", req("GET", "/query?req=a&flag[]=true", ""),
				bad("query", "flag", "also sent with brackets (flag[...]), which many servers read as the same parameter")},
			{"query key with a member", req("GET", "/query?req=a&req[x]=b", ""),
				bad("query", "req", "also sent with brackets (req[...]), which many servers read as the same parameter")},
			{"deepObject keys", req("GET", "/query?req=a&deep[min]=1", ""), ok},
			{"cookie", req("GET", "/headers", "", "X-Count", "1", "Cookie", "session=abc; theme=dark"), ok},
			{"cookie with a backslash", req("GET", "/headers", "", "X-Count", "1", "Cookie", `session=a\b`),
				bad("cookie", "session", "malformed cookie value")},
			{"cookie name with a space, then the name", req("GET", "/headers", "", "X-Count", "1", "Cookie", `session =a\b; session=abc`),
				bad("cookie", "session", "repeated")},
			{"cookie name with a space", req("GET", "/headers", "", "X-Count", "1", "Cookie", `session =abc`), ok},
			{"cookie with an inner quote", req("GET", "/headers", "", "X-Count", "1", "Cookie", `theme=da"rk`),
				bad("cookie", "theme", "malformed cookie value")},
		} {
			t.Run(spec+"/"+tc.name, func(t *testing.T) { check(t, v, tc.r, tc.w) })
		}
	}
}

func TestHeaderAliases(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"X-Count", []string{"X_count"}},
		{"x_tenant", []string{"X-Tenant"}},
		{"Accept", nil},
		{"A-B-C", []string{"A_b-C", "A-B_c", "A_b_c"}},
	} {
		if got := headerAliases(tc.name); !slices.Equal(got, tc.want) {
			t.Errorf("headerAliases(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := headerAliases("a-b-c-d-e-f-g-h"); len(got) != 1 || got[0] != "A_b_c_d_e_f_g_h" {
		t.Errorf("many separators: %q", got)
	}
}
