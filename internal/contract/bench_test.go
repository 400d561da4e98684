package contract

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// order1K is a valid OrderRequest of the shop spec, about 1 KiB.
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

func TestBenchRequestsValid(t *testing.T) {
	for _, spec := range dialects {
		v := compile(t, spec, Options{})
		check(t, v, benchGet(), ok)
		check(t, v, benchPost(), ok)
	}
}

func benchGet() *Request {
	return req("GET", "/v1/products/"+uuid1+"/reviews", "", "Authorization", bearer)
}

func benchPost() *Request {
	return req("POST", "/v1/orders", order1K(), "Authorization", bearer, "Idempotency-Key", idem)
}

// BenchmarkValidateRequest is the cost per request of the contract on
// the shop spec in both dialects: a benign GET with path and query
// parameters, and a valid 1 KiB JSON POST.
func BenchmarkValidateRequest(b *testing.B) {
	for _, spec := range dialects {
		v := compile(b, spec, Options{})
		get := benchGet()
		get.RawQuery = "page=2&minRating=4"
		for _, c := range []struct {
			name string
			r    *Request
		}{{"get", get}, {"post1k", benchPost()}} {
			b.Run(strings.TrimSuffix(strings.TrimPrefix(spec, "testdata/"), ".yaml")+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.r.Body)))
				for b.Loop() {
					if err := v.ValidateRequest(context.Background(), c.r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkPathological is the cost of bodies built to make a validator
// work hard, at the limits: an array of almost DefaultMaxBodyValues items
// checked for uniqueItems (hashing in both libraries: linear), the same
// array with every item of the wrong type (one error each before the
// cap), and nesting at the depth limit.
func BenchmarkPathological(b *testing.B) {
	n := DefaultMaxBodyValues - 10
	var uniq, wrong strings.Builder
	uniq.WriteString(`{"unique":[`)
	wrong.WriteString(`{"unique":[`)
	for i := range n {
		if i > 0 {
			uniq.WriteByte(',')
			wrong.WriteByte(',')
		}
		fmt.Fprintf(&uniq, "%d", i)
		wrong.WriteString(`"x"`)
	}
	uniq.WriteString(`]}`)
	wrong.WriteString(`]}`)
	deep := `{"nested":{"must":"x","deep":` + strings.Repeat(`{"a":`, MaxDepth-3) + `1` + strings.Repeat(`}`, MaxDepth-3) + `}}`
	for _, spec := range keywordSpecs {
		v := compile(b, spec, Options{})
		for _, c := range []struct{ name, body string }{{"unique10k", uniq.String()}, {"wrong10k", wrong.String()}, {"deep", deep}} {
			r := req("POST", "/things", c.body)
			b.Run(strings.TrimSuffix(strings.TrimPrefix(spec, "testdata/"), ".yaml")+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(c.body)))
				for b.Loop() {
					_ = v.ValidateRequest(context.Background(), r)
				}
			})
		}
	}
}
