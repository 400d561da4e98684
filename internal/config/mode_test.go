package config

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestMiddlewareMode: the same config language, without the sections the
// application's own server replaces.
func TestMiddlewareMode(t *testing.T) {
	const ok = `version: 1
routes:
  - {name: items, path: "/api/items/{id}", methods: [GET], public: true}
`
	c, _, err := ParseMode("mw.yaml", []byte(ok), Middleware)
	if err != nil {
		t.Fatalf("middleware config refused: %v", err)
	}
	if len(c.Routes) != 1 || c.Routes[0].Upstream != "" {
		t.Fatalf("routes %+v", c.Routes)
	}
	if _, _, err := Parse("gw.yaml", []byte(ok)); err == nil || !strings.Contains(err.Error(), "routes[0].upstream: required") {
		t.Fatalf("gateway mode took a route without upstream: %v", err)
	}
	const gw = `version: 1
listeners: [{address: "127.0.0.1:8080", plaintext: true}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
routes:
  - {name: items, path: "/api/items/{id}", methods: [GET], public: true, upstream: api}
`
	_, _, err = ParseMode("mw.yaml", []byte(gw), Middleware)
	if err == nil {
		t.Fatal("middleware mode took listeners and upstreams")
	}
	for _, want := range []string{"mw.yaml:2:1: listeners: middleware mode has no listeners", "upstreams: middleware mode has no upstreams",
		"routes[0].upstream: middleware mode has no upstreams"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	const adminToo = `version: 1
admin: {address: "127.0.0.1:9443"}
identity_token: {enabled: true}
protect: {encryption_api: true}
audit: {enabled: true}
routes:
  - {name: items, path: "/api/items/{id}", methods: [GET], public: true}
`
	_, _, err = ParseMode("mw.yaml", []byte(adminToo), Middleware)
	if err == nil {
		t.Fatal("middleware mode took admin, identity_token and encryption_api")
	}
	for _, want := range []string{"mw.yaml:2:1: admin: middleware mode serves no admin listener", "identity_token: identity tokens are verified",
		"protect.encryption_api: the encryption API is served on the admin listener", "audit.origin: required in middleware mode"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// ParseAny reads what LoadAny reads, from the bytes, and refuses a
// document larger than a config file may be.
func TestParseAny(t *testing.T) {
	path := "../../examples/rampart.yaml"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, _, wantMode, err := LoadAny(path)
	if err != nil {
		t.Fatal(err)
	}
	got, _, mode, err := ParseAny(path, data)
	if err != nil {
		t.Fatal(err)
	}
	if mode != wantMode || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseAny differs from LoadAny (mode %v, want %v)", mode, wantMode)
	}
	big := make([]byte, MaxFileSize+1)
	if _, _, _, err := ParseAny("big.yaml", big); err == nil || !strings.Contains(err.Error(), "big.yaml: larger than") {
		t.Errorf("a document over MaxFileSize: err = %v", err)
	}
}
