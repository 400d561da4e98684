package contract

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
)

func TestValidateResponse(t *testing.T) {
	jsonHdr := http.Header{"Content-Type": {"application/json"}}.Values
	for _, spec := range dialects {
		v := compile(t, spec, Options{Response: ResponseBlock})
		get := req("GET", "/v1/products/"+uuid1, "")
		product := `{"id":"` + uuid1 + `","name":"widget","price":{"amount":100,"currency":"EUR"},"internalCost":42}`
		cases := []struct {
			name   string
			status int
			hdr    func(string) []string
			body   string
			want   string // problem text, "" for none
			strip  bool   // internalCost stripped
		}{
			{"valid, writeOnly stripped", 200, jsonHdr, product, "", true},
			{"undeclared status", 500, jsonHdr, `{}`, "response: status 500 not declared", false},
			{"undeclared media type", 200, http.Header{"Content-Type": {"text/html"}}.Values, `<p>`, "response Content-Type: media type not declared for this status", false},
			{"schema mismatch", 200, jsonHdr, `{"name":"widget"}`, "response /price: required", false},
			{"malformed", 200, jsonHdr, `{"name":`, "response: malformed JSON", false},
			{"problem via ref", 404, http.Header{"Content-Type": {"application/problem+json"}}.Values, `{"title":"x","status":404}`, "", false},
		}
		for _, c := range cases {
			t.Run(spec+"/"+c.name, func(t *testing.T) {
				out, err := v.ValidateResponse(context.Background(), get, c.status, c.hdr, []byte(c.body))
				var viol *Violation
				if c.want == "" {
					if err != nil {
						t.Fatalf("want accepted, got %v", err)
					}
				} else {
					if !errors.As(err, &viol) || viol.Status != http.StatusBadGateway {
						t.Fatalf("want a 502 violation, got %v", err)
					}
					found := false
					for _, p := range viol.Problems {
						found = found || p.String() == c.want
					}
					if !found {
						t.Fatalf("problems %v lack %q", viol.Problems, c.want)
					}
				}
				if c.strip {
					var m map[string]any
					if err := json.Unmarshal(out, &m); err != nil {
						t.Fatal(err)
					}
					if _, ok := m["internalCost"]; ok {
						t.Errorf("writeOnly property kept: %s", out)
					}
					if m["name"] != "widget" {
						t.Errorf("body damaged: %s", out)
					}
				}
			})
		}
	}
}

func TestWriteOnlyNestedAndArrays(t *testing.T) {
	for _, spec := range dialects {
		v := compile(t, spec, Options{Response: ResponseReport})
		body := `{"items":[{"name":"a","price":{"amount":1,"currency":"EUR"},"internalCost":1},{"name":"b","price":{"amount":2,"currency":"EUR"},"internalCost":2}]}`
		out, err := v.ValidateResponse(context.Background(), req("GET", "/v1/products", ""), 200,
			http.Header{"Content-Type": {"application/json"}}.Values, []byte(body))
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		want := `{"items":[{"name":"a","price":{"amount":1,"currency":"EUR"}},{"name":"b","price":{"amount":2,"currency":"EUR"}}]}`
		if string(out) != want {
			t.Errorf("%s: got %s", spec, out)
		}
	}
}

func TestResponseOff(t *testing.T) {
	v := compile(t, dialects[0], Options{})
	body := []byte(`{"internalCost":1}`)
	out, err := v.ValidateResponse(context.Background(), req("GET", "/v1/products/"+uuid1, ""), 500, nil, body)
	if err != nil || string(out) != string(body) {
		t.Errorf("off: %s %v", out, err)
	}
}
