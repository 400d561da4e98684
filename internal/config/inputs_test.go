package config

import (
	"strings"
	"testing"
)

func TestParseRuleRange(t *testing.T) {
	for _, tc := range []struct {
		in     string
		lo, hi int
		err    string
	}{
		{"942100", 942100, 942100, ""},
		{"942000-942999", 942000, 942999, ""},
		{"1", 1, 1, ""},
		{"9999999", 9999999, 9999999, ""},
		{"10000000", 0, 0, "must be a rule id"},
		{"0", 0, 0, "must be a rule id"},
		{"", 0, 0, "must be a rule id"},
		{"-5", 0, 0, "must be a rule id"},
		{"942100-", 0, 0, "must be a rule id"},
		{"942100-942000", 0, 0, "ends before it starts"},
		{"942100-942200-942300", 0, 0, "must be a rule id"},
		{"+942100", 0, 0, "must be a rule id"},
		{" 942100", 0, 0, "must be a rule id"},
		{"942100,942101", 0, 0, "must be a rule id"},
	} {
		lo, hi, err := ParseRuleRange(tc.in)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("ParseRuleRange(%q) error = %v, want %q", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || lo != tc.lo || hi != tc.hi):
			t.Errorf("ParseRuleRange(%q) = %d, %d, %v; want %d, %d", tc.in, lo, hi, err, tc.lo, tc.hi)
		}
	}
}

func FuzzParseRuleRange(f *testing.F) {
	for _, s := range []string{"942100", "942000-942999", "0", "1-", "9999999-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		lo, hi, err := ParseRuleRange(s)
		if err != nil {
			return
		}
		if lo < 1 || hi < lo || hi > 9999999 {
			t.Fatalf("ParseRuleRange(%q) = %d, %d", s, lo, hi)
		}
	})
}

// TestWAFTarget checks that an exclusion's target can never carry
// anything that would end a SecLang directive or add an action.
func TestWAFTarget(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"ARGS:json.comment", true},
		{"ARGS:json.items.0.note", true},
		{"REQUEST_HEADERS:User-Agent", true},
		{"REQUEST_COOKIES:session", true},
		{"ARGS", true},
		{"REQUEST_BODY", false},
		{"ARGS_POST:json.x", false},
		{"ARGS:json.items[0]", false},
		{"ARGS:q\",ctl:ruleEngine=Off", false},
		{"ARGS:q ctl", false},
		{"ARGS:q\nSecRuleEngine Off", false},
		{"ARGS:/^.*$/", false},
		{"ARGS:'q'", false},
		{"TX:anomaly_score", false},
		{"args:q", false},
		{"ARGS:", false},
		{"ARGS|REQUEST_HEADERS", false},
		{"!ARGS:q", false},
		{"&ARGS", false},
		{"ARGS:" + strings.Repeat("a", 256), true},
		{"ARGS:" + strings.Repeat("a", 257), false},
	} {
		if got := wafTarget.MatchString(tc.in); got != tc.ok {
			t.Errorf("target %q accepted = %v, want %v", tc.in, got, tc.ok)
		}
	}
}

func TestWAFDefaults(t *testing.T) {
	doc := `version: 1
listeners: [{address: "127.0.0.1:0", tls: {}}]
upstreams: {api: {url: "http://127.0.0.1:9000"}}
waf: {paranoia: 2, mode: detect, body_limit: 64KiB, profiles: [json-api]}
routes:
  - {path: /a, methods: [GET], upstream: api, public: true, waf: {}, openapi: {spec: a.yaml}}
  - {path: /b, methods: [GET], upstream: api, public: true, waf: {paranoia: 3, mode: block, enabled: false}}
  - {path: /c, methods: [GET], upstream: api, public: true}
`
	c, _, err := Parse("t.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.Routes[0].WAF, c.Routes[1].WAF
	if !*a.Enabled || a.Paranoia != 2 || a.Mode != "detect" || a.InboundThreshold != DefaultWAFThreshold || a.BodyLimit != 64<<10 {
		t.Errorf("route a inherits %+v", *a)
	}
	if *b.Enabled || b.Paranoia != 3 || b.Mode != "block" {
		t.Errorf("route b keeps its own %+v", *b)
	}
	if c.Routes[2].WAF != nil || c.Routes[2].OpenAPI != nil {
		t.Errorf("route c has no inputs blocks: %+v %+v", c.Routes[2].WAF, c.Routes[2].OpenAPI)
	}
	if o := c.Routes[0].OpenAPI; o.Operation != "auto" || o.Request != "block" || o.Response != "off" {
		t.Errorf("openapi defaults %+v", *o)
	}
}
