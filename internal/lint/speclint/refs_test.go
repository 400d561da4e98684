package speclint

import (
	"strings"
	"testing"
)

// TestComponentOnce: a shared component's problem is reported once, at
// the component, without an operation, however many operations use it.
func TestComponentOnce(t *testing.T) {
	fs, _ := check(t, "testdata/combined.yaml")
	n := 0
	for _, f := range fs {
		if f.RuleID == ruleMassAssignment.ID {
			n++
			if f.Location.Pointer != "/components/schemas/Order/properties/owner" || f.Method != "" {
				t.Errorf("mass assignment reported at %s (%s %s), want the component", f.Location.Pointer, f.Method, f.PathTemplate)
			}
		}
	}
	if n != 1 {
		t.Errorf("mass assignment reported %d times, want once", n)
	}
}

// TestExternalRef: a schema from another file is reported once, at the
// first $ref that brings it in, with the rest of its path in the key.
func TestExternalRef(t *testing.T) {
	fs, _ := check(t, "testdata/external/main.yaml")
	var got []string
	for _, f := range fs {
		if f.RuleID == ruleStringMaxLength.ID || f.RuleID == ruleArrayMaxItems.ID {
			if !strings.HasSuffix(f.Location.Pointer, "/schema") || f.Location.Line < 1 {
				t.Errorf("finding in the external file placed at %s:%d, want the $ref's schema", f.Location.Pointer, f.Location.Line)
			}
			got = append(got, strings.TrimPrefix(f.RuleID, rulePrefix)+" "+f.Key)
		}
	}
	want := "string-max-length /properties/name|array-max-items /properties/tags|string-max-length /properties/tags/items"
	for _, w := range strings.Split(want, "|") {
		found := 0
		for _, g := range got {
			if g == w {
				found++
			}
		}
		if found != 1 {
			t.Errorf("%q reported %d times, want once; got %q", w, found, got)
		}
	}
}
