package configlint

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
)

// A warning is dropped only when a restating rule's finding stands at its
// node: not for another rule at the same node, not for the same rule
// elsewhere.
func TestUnrestated(t *testing.T) {
	warn := func(path string) config.Problem { return config.Problem{Path: path, Message: "m", Warning: true} }
	at := func(rule, ptr string) findings.Finding {
		return findings.Finding{RuleID: rule, Location: &findings.Location{Pointer: ptr}}
	}
	tests := []struct {
		name     string
		warnings []config.Problem
		fs       []findings.Finding
		want     []config.Problem
	}{
		{"plaintext restated", []config.Problem{warn("listeners[1].plaintext")},
			[]findings.Finding{at(RulePlaintextListener, "/listeners/1/plaintext")}, nil},
		{"public write restated", []config.Problem{warn("routes[0].public"), warn("routes[1].public")},
			[]findings.Finding{at(RulePublicWrite, "/routes/1/public")}, []config.Problem{warn("routes[0].public")}},
		{"other listener", []config.Problem{warn("listeners[0].plaintext")},
			[]findings.Finding{at(RulePlaintextListener, "/listeners/1/plaintext")}, []config.Problem{warn("listeners[0].plaintext")}},
		{"other rule at the node", []config.Problem{warn("routes[0].public")},
			[]findings.Finding{at(RuleWeakerThanSpec, "/routes/0/public")}, []config.Problem{warn("routes[0].public")}},
		{"finding at an ancestor", []config.Problem{warn("listeners[0].plaintext")},
			[]findings.Finding{at(RulePlaintextListener, "/listeners/0")}, []config.Problem{warn("listeners[0].plaintext")}},
		{"no location", []config.Problem{warn("listeners[0].plaintext")},
			[]findings.Finding{{RuleID: RulePlaintextListener}}, []config.Problem{warn("listeners[0].plaintext")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, Unrestated(tt.warnings, tt.fs)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestDottedPath(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"/listeners/1/plaintext", "listeners[1].plaintext"},
		{"/routes/0/public", "routes[0].public"},
		{"/upstreams/a~1b/url", "upstreams.a/b.url"},
		{"/routes/2/limits/rates/0", "routes[2].limits.rates[0]"},
	} {
		if got := dottedPath(tt.in); got != tt.want {
			t.Errorf("dottedPath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
