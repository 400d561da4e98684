// Package contract compares the two OpenAPI request validators that
// internal/contract could be built on, kin-openapi's openapi3filter and
// pb33f's libopenapi-validator, on the same specs and the same requests.
// It is a module of its own so that libopenapi-validator never enters the
// main go.mod. Run: cd bench/contract && go test -bench . -benchmem
package contract

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"

	"github.com/rampart-gw/rampart/internal/contract"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// spec is one document with its three requests.
type spec struct {
	name, file, base string
	get, post, bad   func() *http.Request
}

func req(method, target, body string, hdr ...string) func() *http.Request {
	return func() *http.Request {
		var r *http.Request
		if body == "" {
			r = httptest.NewRequest(method, target, nil)
		} else {
			r = httptest.NewRequest(method, target, strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		return r
	}
}

// order1K is a valid OrderRequest of about 1 KiB.
func order1K() string {
	var lines []string
	for i := range 9 {
		lines = append(lines, fmt.Sprintf(`{"productId":"3f1c2a9e-8b4d-4c6e-9a1f-%012d","quantity":%d}`, i, i+1))
	}
	return `{"lines":[` + strings.Join(lines, ",") + `],` +
		`"shipping":{"line1":"12 Rue de la Paix","line2":"Bâtiment B, 3e étage","city":"Paris","postcode":"75002","country":"FR"},` +
		`"payment":{"kind":"card","token":"tok_1Nq2Xk2eZvKYlo2C8mQ4aBcD"},` +
		`"note":"Please leave the parcel with the concierge if nobody answers; ring twice. Merci !","gift":true}`
}

// orderBad has an undeclared property where additionalProperties is
// false and a note over its maxLength of 500.
func orderBad() string {
	b := order1K()
	return strings.Replace(b, `"gift":true}`, `"gift":true,"discount":100,"note2":"x"}`, 1)[:0] +
		strings.Replace(strings.Replace(b, `"gift":true}`, `"gift":true,"discount":100}`, 1),
			`"note":"Please`, `"note":"`+strings.Repeat("A", 600)+` Please`, 1)
}

func user1K() string {
	return `{"name":"Bob Martin","email":"bob@example.com","card_number":"4111 1111 1111 1111","ssn":"` +
		strings.Repeat("1", 900) + `"}`
}

var specs = []spec{
	{
		name: "demo-3.0", file: "../../internal/demo/openapi.yaml", base: "https://127.0.0.1:8443",
		get:  req("GET", "https://127.0.0.1:8443/api/products?page=3", "", "Authorization", "Bearer x"),
		post: req("PUT", "https://127.0.0.1:8443/api/users/bob", user1K(), "Authorization", "Bearer x"),
		bad: req("PUT", "https://127.0.0.1:8443/api/users/bob", `{"name":"Bob","email":"not-an-email"}`,
			"Authorization", "Bearer x"),
	},
	{
		name: "shop-3.0", file: "../../internal/contract/testdata/shop-3.0.yaml",
		get: req("GET", "https://shop.example.com/v1/products/3f1c2a9e-8b4d-4c6e-9a1f-000000000001/reviews?page=2&minRating=4", "",
			"Authorization", "Bearer x"),
		post: req("POST", "https://shop.example.com/v1/orders", order1K(),
			"Authorization", "Bearer x", "Idempotency-Key", "7d444840-9dc0-11d1-b245-5ffdce74fad2"),
		bad: req("POST", "https://shop.example.com/v1/orders", orderBad(),
			"Authorization", "Bearer x", "Idempotency-Key", "7d444840-9dc0-11d1-b245-5ffdce74fad2"),
	},
}

func init() {
	s := specs[1]
	s.name, s.file = "shop-3.1", "../../internal/contract/testdata/shop-3.1.yaml"
	specs = append(specs, s)
}

// validate is one validator's whole check of a request: route, then
// parameters and body. It returns the error messages (nil when valid).
type validate func(*http.Request) []string

func kin(t testing.TB, file string) validate {
	l := openapi3.NewLoader()
	doc, err := l.LoadFromFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
		// kin-openapi checks date-time, int32 and int64 by default; email
		// needs registering (as internal/contract does).
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation(),
			openapi3.WithStringFormatValidator("email", openapi3.NewRegexpFormatValidator(`^[^@\s]+@[^@\s]+$`))},
	}
	return func(r *http.Request) []string {
		route, params, err := router.FindRoute(r)
		if err != nil {
			return []string{err.Error()}
		}
		err = openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
			Request: r, PathParams: params, Route: route, Options: opts,
		})
		if err == nil {
			return nil
		}
		if me, ok := err.(openapi3.MultiError); ok {
			var out []string
			for _, e := range me {
				out = append(out, e.Error())
			}
			return out
		}
		return []string{err.Error()}
	}
}

func pb33f(t testing.TB, file string) validate {
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(data)
	if err != nil {
		t.Fatal(err)
	}
	v, errs := validator.NewValidator(doc, config.WithFormatAssertions(), config.WithoutSecurityValidation(),
		config.WithRejectUndeclaredRequestBody(), config.WithStrictMode(), config.WithStrictRejectReadOnly())
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return func(r *http.Request) []string {
		ok, verrs := v.ValidateHttpRequestSync(r)
		if ok {
			return nil
		}
		var out []string
		for _, e := range verrs {
			s := e.Message + ": " + e.Reason
			for _, f := range e.SchemaValidationErrors {
				s += " | " + f.Reason + " @" + f.FieldPath
			}
			out = append(out, s)
		}
		return out
	}
}

// rampart is internal/contract, built on kin-openapi with 3.1 schemas
// compiled at load time: what the gateway runs.
func rampart(t testing.TB, file string) validate {
	spec, err := openapi.Load(context.Background(), file, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := contract.Compile(spec, contract.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return func(r *http.Request) []string {
		var body []byte
		if r.Body != nil {
			body, _ = io.ReadAll(r.Body)
		}
		err := v.ValidateRequest(r.Context(), &contract.Request{
			Method: r.Method, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Header: r.Header.Values, ContentType: r.Header.Get("Content-Type"),
			Body: body, HasBody: len(body) > 0,
		})
		if err == nil {
			return nil
		}
		return []string{err.Error()}
	}
}

var validators = []struct {
	name string
	new  func(testing.TB, string) validate
}{{"kin", kin}, {"pb33f", pb33f}, {"rampart", rampart}}

// fresh rebuilds the request's body for each run.
func fresh(mk func() *http.Request) func() *http.Request {
	r0 := mk()
	var body []byte
	if r0.Body != nil {
		body, _ = io.ReadAll(r0.Body)
	}
	return func() *http.Request {
		r := r0.Clone(context.Background())
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		return r
	}
}

// TestSameVerdicts checks that both validators accept the valid requests
// and refuse the invalid one, and prints their messages for the bad one.
func TestSameVerdicts(t *testing.T) {
	for _, s := range specs {
		for _, vd := range validators {
			v := vd.new(t, s.file)
			if errs := v(s.get()); errs != nil {
				t.Errorf("%s %s GET: %v", vd.name, s.name, errs)
			}
			if errs := v(s.post()); errs != nil {
				t.Errorf("%s %s POST: %v", vd.name, s.name, errs)
			}
			errs := v(s.bad())
			if errs == nil {
				t.Errorf("%s %s bad POST accepted", vd.name, s.name)
			}
			msg, _ := json.MarshalIndent(errs, "", "  ")
			t.Logf("%s %s bad POST (%d-byte body): %s", vd.name, s.name, len(orderBad()), msg)
		}
	}
}

func BenchmarkCompare(b *testing.B) {
	for _, s := range specs {
		for _, vd := range validators {
			v := vd.new(b, s.file)
			for _, c := range []struct {
				name string
				mk   func() *http.Request
				ok   bool
			}{{"get", s.get, true}, {"post1k", s.post, true}, {"bad", s.bad, false}} {
				mk := fresh(c.mk)
				b.Run(s.name+"/"+c.name+"/"+vd.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						b.StopTimer()
						r := mk()
						b.StartTimer()
						if errs := v(r); (errs == nil) != c.ok {
							b.Fatalf("verdict: %v", errs)
						}
					}
				})
			}
		}
	}
}
