package waf

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

// TestJSONAPIProfile measures each tuning of the json-api profile: a
// legitimate request that the CRS blocks (or scores) without the profile,
// and that passes with it.
func TestJSONAPIProfile(t *testing.T) {
	noUA := &Request{ // a machine client that sends no User-Agent
		Method: "GET", Host: "api.example.com", RawPath: "/api/orders/42",
		Headers:  headers("Accept", "application/json"),
		ClientIP: netip.MustParseAddr("198.51.100.7"),
	}
	tests := []struct {
		name     string
		paranoia int
		req      *Request
		rule     int // the rule the profile tunes away
		blocked  bool
	}{
		{"PUT", 1, post("PUT", "/api/orders/42", "application/json", `{"qty":2}`), 911100, true},
		{"DELETE", 1, post("DELETE", "/api/orders/42", "application/json", `{}`), 911100, true},
		{"PATCH merge-patch+json", 1, post("PATCH", "/api/orders/42", "application/merge-patch+json", `{"qty":2}`), 911100, true},
		{"POST vnd.api+json", 1, post("POST", "/api/orders", "application/vnd.api+json", `{"data":{"type":"orders"}}`), 920420, true},
		{"no User-Agent", 2, noUA, 920320, false},
		{"URL in a JSON field", 2, post("POST", "/api/profile", "application/json", `{"website":"https://blog.example.net/about","avatar":"https://cdn.example.org/a/42.png"}`), 931130, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			without, err := compiled(t, Options{Paranoia: tt.paranoia}).Inspect(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(without.Rules, tt.rule) || without.Blocked != tt.blocked {
				t.Errorf("without the profile: %+v, want rule %d and blocked %v", without, tt.rule, tt.blocked)
			}
			with, err := compiled(t, Options{Paranoia: tt.paranoia, Profiles: []string{"json-api"}}).Inspect(context.Background(), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if with.Blocked || with.Score != 0 {
				t.Errorf("with the profile: %+v, want a pass with score 0", with)
			}
		})
	}
}

// TestJSONAPIProfileKeepsAttacks: the profile turns off no attack rule.
func TestJSONAPIProfileKeepsAttacks(t *testing.T) {
	w := compiled(t, Options{Paranoia: 1, Profiles: []string{"json-api"}})
	for _, r := range []*Request{
		post("PUT", "/api/users/1", "application/merge-patch+json", `{"comment":"1' UNION SELECT password FROM users--"}`),
		post("PATCH", "/api/users/1", "application/json", `{"bio":"<script>alert(1)</script>"}`),
		get("/api/files", "name=..%2F..%2Fetc%2Fpasswd"),
	} {
		v, err := w.Inspect(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Blocked {
			t.Errorf("%s %s passed with the json-api profile: %+v", r.Method, r.RawPath, v)
		}
	}
}

// TestPL2FreeText: the measured PL2 false positive on free text that the
// profile leaves on, and the per-field exclusion that answers it.
func TestPL2FreeText(t *testing.T) {
	req := post("POST", "/api/orders", "application/json", legitJSON)
	steps := []struct {
		name    string
		opts    Options
		blocked bool
	}{
		{"PL2", Options{Paranoia: 2}, true},
		{"PL2 json-api", Options{Paranoia: 2, Profiles: []string{"json-api"}}, true},
		{"PL2 json-api, 942200 off for the item title", Options{Paranoia: 2, Profiles: []string{"json-api"},
			Exclusions: []Exclusion{{Rules: []RuleRange{{942200, 942200}}, Target: "ARGS:json.items.1.title"}}}, false},
	}
	for _, s := range steps {
		v, err := compiled(t, s.opts).Inspect(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		if v.Blocked != s.blocked {
			t.Errorf("%s: %+v, want blocked %v", s.name, v, s.blocked)
		}
	}
}

// TestProfilesValid: every profile exclusion passes the checks user
// exclusions do (no reserved rule, a valid target).
func TestProfilesValid(t *testing.T) {
	if !slices.Contains(ProfileNames(), "json-api") {
		t.Fatalf("ProfileNames() = %v, want json-api", ProfileNames())
	}
	for name, p := range profiles {
		for i, e := range p.exclusions {
			for _, err := range validateExclusion(name, e) {
				t.Errorf("profile %s exclusion %d: %v", name, i, err)
			}
		}
	}
}
