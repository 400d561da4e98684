package speclint

import (
	"strings"
	"testing"
)

// TestSuppress checks x-rampart-lint-ignore on the root, a path item, an
// operation, a parameter, a security scheme and a schema, as a list and
// as a map: the rule is gone on that node and below, and still reported
// elsewhere.
func TestSuppress(t *testing.T) {
	fs, notes := check(t, "testdata/suppress.yaml")
	for _, tc := range []struct {
		rule, ptr string
		want      bool
	}{
		{"response-500", "/paths/~1a/get/responses", false}, // root
		{"response-500", "/paths/~1b/get/responses", false},
		{"read-unauthenticated", "/paths/~1a/get", false}, // operation
		{"read-unauthenticated", "/paths/~1b/get", true},
		{"pagination-limit", "/paths/~1a/get/parameters/0/schema", false}, // parameter, map form
		{"pagination-limit", "/paths/~1b/get/parameters/0/schema", true},
		{"integer-bounds", "/paths/~1a/get/parameters/0/schema", true}, // other rules stay
		{"response-401", "/paths/~1b/get/responses", false},            // path item
		{"response-401", "/paths/~1a/get/responses", true},
		{"http-basic", "/components/securitySchemes/basic/scheme", false}, // security scheme
		{"http-basic", "/components/securitySchemes/legacy/scheme", true},
		{"additional-properties", "/components/schemas/Open/additionalProperties", false}, // schema and below
		{"additional-properties", "/components/schemas/Open/properties/inner/additionalProperties", false},
		{"additional-properties", "/components/schemas/Closed/additionalProperties", true},
	} {
		got := false
		for _, f := range fs {
			if f.RuleID == rulePrefix+tc.rule && f.Location.Pointer == tc.ptr {
				got = true
			}
		}
		if got != tc.want {
			t.Errorf("%s at %s reported = %v, want %v; findings: %v", tc.rule, tc.ptr, got, tc.want, ids(fs))
		}
	}
	if len(notes) != 1 || !strings.Contains(notes[0], `unknown rule "rampart.lint.spec.no-such-rule"`) || !strings.Contains(notes[0], ":21:") {
		t.Errorf("notes = %q, want one naming the unknown rule and its line", notes)
	}
}
