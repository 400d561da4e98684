package protect

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/rampart-gw/rampart/internal/keyring"
)

// FuzzRoundTrip: whatever JSON a client sends, encrypting the protected
// fields and decrypting them for the owner gives back the very bytes sent,
// and what the upstream stores holds no protected value in clear; a body
// that is not JSON is refused, never passed on.
func FuzzRoundTrip(f *testing.F) {
	p, _ := fuzzProtector(f)
	ctx := context.Background()
	f.Add([]byte(userDoc))
	f.Add([]byte(`{"ssn":{"nested":[1,2,"x"]},"card":{"number":12345678901234567890}}`))
	f.Add([]byte(`{"s\u0073n":"escaped name","card":null}`))
	f.Add([]byte(`[{"ssn":"not at the root"}]`))
	f.Add([]byte(`{"ssn":"a","ssn":"duplicate"}`))
	f.Add([]byte(`{"ssn":`))
	f.Fuzz(func(t *testing.T, body []byte) {
		x := exchange(0, "PUT", string(body))
		x.SetBodySource(fixedBody(body))
		err := p.RequestStage().Request(ctx, x)
		if !json.Valid(body) {
			if err == nil && len(bytes.TrimSpace(body)) > 0 {
				t.Fatalf("invalid JSON passed: %q", body)
			}
			return
		}
		if err != nil {
			return // too deep, or not UTF-8: refused
		}
		stored, _ := x.BufferedRequestBody()
		if !json.Valid(stored) {
			t.Fatalf("stored body is not JSON: %q", stored)
		}
		var doc map[string]any
		if json.Unmarshal(stored, &doc) == nil {
			if v, ok := doc["ssn"]; ok && v != nil {
				if s, _ := v.(string); !keyring.IsCiphertext(s) {
					t.Fatalf("ssn stored in clear: %q", stored)
				}
			}
		}
		y := exchange(0, "GET", "")
		y.Response.Body, y.Response.Buffered = stored, true
		if err := p.ResponseStage().Response(ctx, y); err != nil {
			t.Fatalf("owner's response: %v", err)
		}
		if !bytes.Equal(y.Response.Body, body) {
			t.Fatalf("round trip\n in  %q\n out %q", body, y.Response.Body)
		}
	})
}
