package contract_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/rampart-gw/rampart/internal/contract"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// A spec is loaded and compiled once; each request is then checked, and
// a refusal names where and which rule, never the value sent.
func Example() {
	spec, err := openapi.Load(context.Background(), "testdata/shop-3.0.yaml", openapi.Options{})
	if err != nil {
		panic(err)
	}
	v, err := contract.Compile(spec, contract.Options{})
	if err != nil {
		panic(err)
	}
	body := []byte(`{"name":"widget","price":{"amount":100,"currency":"EUR"},"colour":"red"}`)
	err = v.ValidateRequest(context.Background(), &contract.Request{
		Method: "POST", RawPath: "/v1/products", Header: http.Header{}.Values,
		ContentType: "application/json", Body: body, HasBody: true,
	})
	var viol *contract.Violation
	if errors.As(err, &viol) {
		for _, p := range viol.Problems {
			fmt.Println(viol.Status, p)
		}
	}
	// Output:
	// 400 body /colour: not declared
}
