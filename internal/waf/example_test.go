package waf_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/rampart-gw/rampart/internal/waf"
)

// A JSON API at paranoia level 1 with the json-api profile, and one
// free-text field excluded from the SQL-injection rules.
func Example() {
	w, err := waf.New(waf.Options{
		Paranoia: 1,
		Profiles: []string{"json-api"},
		Exclusions: []waf.Exclusion{
			{Rules: []waf.RuleRange{{First: 942000, Last: 942999}}, Target: "ARGS:json.comment"},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	req := func(body string) *waf.Request {
		return &waf.Request{
			Method: "PATCH", Host: "api.example.com", RawPath: "/api/orders/42",
			Headers: func(yield func(string, string) bool) {
				_ = yield("Content-Type", "application/merge-patch+json") && yield("User-Agent", "shop/1.0") && yield("Accept", "application/json")
			},
			ClientIP: netip.MustParseAddr("198.51.100.7"),
			Body:     []byte(body), HasBody: true,
		}
	}
	for _, body := range []string{
		`{"comment":"Leave it at Joe's; he said 'select the blue door'"}`,
		`{"coupon":"1' UNION SELECT password FROM users--"}`,
	} {
		v, err := w.Inspect(context.Background(), req(body))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(v.Blocked, v.Rules)
	}
	// Output:
	// false []
	// true [942100 942190 942270 942360]
}
