package contract

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const differentialSpec = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /items:
    get:
      operationId: list
      parameters:
        - {name: kind, in: cookie, schema: {type: string, pattern: "^[a-z]{1,8}$"}}
        - {name: ids, in: query, explode: false, schema: {type: array, items: {type: string, pattern: "^[a-z]{1,8}$"}}}
        - {name: X-Tenant, in: header, schema: {type: string, pattern: "^[a-z]{1,8}$"}}
      responses: {"200": {description: ok}}
    post:
      operationId: create
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                role: {type: string, enum: [user]}
          application/x-www-form-urlencoded:
            schema:
              type: object
              properties:
                role: {type: string, enum: [user]}
      responses: {"201": {description: ok}}
`

// TestDifferentials: more values that the
// contract checks once but an upstream may read otherwise. Each must be
// refused.
func TestDifferentials(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(path, []byte(differentialSpec), 0o600); err != nil {
		t.Fatal(err)
	}
	v := compile(t, path, Options{})
	for _, tc := range []struct {
		name string
		r    *Request
	}{
		// net/http's Cookie returns the first; Python's SimpleCookie and
		// Django's parse_cookie keep the last.
		{"cookie parameter repeated in one field", req("GET", "/items", "", "Cookie", "kind=ok; kind=x'--")},
		{"cookie parameter repeated in two fields", req("GET", "/items", "", "Cookie", "kind=ok", "Cookie", "kind=x'--")},
		// An explode:false array is one value; repeated, the contract
		// splits the first and an upstream may join or take the last.
		{"explode:false array repeated", req("GET", "/items?ids=a,b&ids=x'--", "")},
		// A form body is a query string: PHP keeps the last of a
		// repeated name, openapi3filter checks the first.
		{"form field repeated", req("POST", "/items", "role=user&role=admin", "Content-Type", "application/x-www-form-urlencoded")},
		// encoding/json matches member names to struct fields without
		// regard to case and keeps the last: a Go upstream reads ROLE.
		{"JSON member repeated in another case", req("POST", "/items", `{"role":"user","ROLE":"admin"}`)},
		// Two Content-Type fields: the contract reads the first.
		{"Content-Type repeated", req("POST", "/items", `{"role":"user"}`, "Content-Type", "application/json", "Content-Type", "application/x-www-form-urlencoded")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var viol *Violation
			if err := v.ValidateRequest(context.Background(), tc.r); !errors.As(err, &viol) || viol.Status/100 != 4 {
				t.Errorf("accepted (%v), want a 4xx", err)
			}
		})
	}
}
