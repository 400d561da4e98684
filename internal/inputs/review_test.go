package inputs

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"testing"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Review of issue 16: requests whose body reaches the upstream without the
// check the route promises.
func TestReviewBodyBypass(t *testing.T) {
	s := stage(t)
	ctx := context.Background()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"title":"x","text":"1' UNION SELECT password FROM users WHERE '1'='1"}`))
	_ = zw.Close()
	for _, tc := range []struct {
		name   string
		route  int
		method string
		header http.Header
		body   []byte
		want   string
	}{
		// listNotes (GET /notes) declares no request body: the contract
		// must refuse one, but WantsBody is false there, so the body is
		// never read and ValidateRequest's len(r.Body) > 0 is false.
		{"contract: GET with an undeclared JSON body", 1, "GET",
			http.Header{"Content-Type": {"application/json"}}, []byte(`{"admin":true}`), ReasonInvalid},
		// Header.Get reads only the first Content-Encoding field, so the
		// ReasonEncoded refusal is skipped; the upstream may decode gzip.
		// (The WAF then refuses this one only because gzip is not JSON.)
		{"waf: second Content-Encoding field gzip", 2, "POST",
			http.Header{"Content-Type": {"application/json"}, "Content-Encoding": {"identity", "gzip"}}, gz.Bytes(), ReasonEncoded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var x pipeline.Exchange
			exchange(&x, tc.route, tc.body)
			x.In.Method = tc.method
			h := x.In.Header.(http.Header)
			for k, v := range tc.header {
				h[k] = v
			}
			err := s.Request(ctx, &x)
			got := ""
			if d, ok := pipeline.AsDenial(err); ok {
				got = d.Reason
			} else if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("reason %q, want %q", got, tc.want)
			}
		})
	}
}
