package speclint

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestWeaker(t *testing.T) {
	anon := openapi3.SecurityRequirements{{}}
	req := func(alts ...openapi3.SecurityRequirement) openapi3.SecurityRequirements { return alts }
	tests := []struct {
		name string
		a, b openapi3.SecurityRequirements
		want bool
	}{
		{"none vs a scheme", nil, req(openapi3.SecurityRequirement{"k": {}}), true},
		{"security: [] vs a scheme", openapi3.SecurityRequirements{}, req(openapi3.SecurityRequirement{"k": {}}), true},
		{"anonymous alternative vs a scheme", req(openapi3.SecurityRequirement{"k": {}}, openapi3.SecurityRequirement{}), req(openapi3.SecurityRequirement{"k": {}}), true},
		{"anonymous vs anonymous", anon, nil, false},
		{"anonymous vs anonymous or a scheme", anon, req(openapi3.SecurityRequirement{}, openapi3.SecurityRequirement{"k": {}}), false},
		{"same", req(openapi3.SecurityRequirement{"o": {"r"}}), req(openapi3.SecurityRequirement{"o": {"r"}}), false},
		{"scope subset", req(openapi3.SecurityRequirement{"o": {"r"}}), req(openapi3.SecurityRequirement{"o": {"r", "w"}}), true},
		{"scopes superset", req(openapi3.SecurityRequirement{"o": {"r", "w"}}), req(openapi3.SecurityRequirement{"o": {"r"}}), false},
		{"disjoint scopes", req(openapi3.SecurityRequirement{"o": {"read"}}), req(openapi3.SecurityRequirement{"o": {"admin"}}), false},
		{"other scheme", req(openapi3.SecurityRequirement{"k": {}}), req(openapi3.SecurityRequirement{"o": {}}), false},
		{"one scheme of two", req(openapi3.SecurityRequirement{"k": {}}), req(openapi3.SecurityRequirement{"k": {}, "o": {}}), true},
		{"an extra weaker alternative", req(openapi3.SecurityRequirement{"o": {"r", "w"}}, openapi3.SecurityRequirement{"o": {"r"}}), req(openapi3.SecurityRequirement{"o": {"r", "w"}}), true},
		{"an extra unrelated alternative", req(openapi3.SecurityRequirement{"o": {"r"}}, openapi3.SecurityRequirement{"k": {}}), req(openapi3.SecurityRequirement{"o": {"r"}}), true},
		{"alternatives each matched", req(openapi3.SecurityRequirement{"o": {"r"}}, openapi3.SecurityRequirement{"k": {}}), req(openapi3.SecurityRequirement{"k": {}}, openapi3.SecurityRequirement{"o": {"r"}}), false},
		{"weaker than one alternative only", req(openapi3.SecurityRequirement{"o": {"r"}}), req(openapi3.SecurityRequirement{"o": {"r", "w"}}, openapi3.SecurityRequirement{"k": {}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := weaker(tt.a, tt.b); got != tt.want {
				t.Errorf("weaker(%s, %s) = %v, want %v", describeSecurity(tt.a), describeSecurity(tt.b), got, tt.want)
			}
		})
	}
}

// TestWeakerSiblingCases pins where the rule fires on its testdata: each
// clause of its definition once, and nothing on the normal differences of
// good.yaml (a regression test for the rule that compared only anonymous
// with authenticated operations).
func TestWeakerSiblingCases(t *testing.T) {
	dir := filepath.Join("testdata", "rules", "weaker-sibling")
	bad, _ := check(t, filepath.Join(dir, "bad.yaml"))
	var got []string
	for _, f := range ofRule(bad, ruleWeakerSibling.ID) {
		got = append(got, f.Location.Pointer)
	}
	want := []string{
		"/paths/~1items/get/security",               // anonymous, POST needs a token
		"/paths/~1items~1{id}/head/security",        // HEAD needs no scope, GET needs items:read (inherited)
		"/paths/~1items~1{id}/delete/security",      // a write needing less than the read
		"/paths/~1items~1{id}~1tags/patch/security", // PATCH has an anonymous alternative, PUT has none
	}
	if !slices.Equal(got, want) {
		t.Errorf("weaker-sibling findings at\n%q\nwant\n%q", got, want)
	}
	good, _ := check(t, filepath.Join(dir, "good.yaml"))
	if fs := ofRule(good, ruleWeakerSibling.ID); len(fs) != 0 {
		t.Errorf("fires on good.yaml: %v", ids(fs))
	}
}
