// Package suite assembles rampart scan: the checks in their fixed order,
// and the run from options to a report. It is the only package that
// imports every check family.
package suite

import (
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/authn"
	"github.com/rampart-gw/rampart/internal/scan/authz"
	"github.com/rampart-gw/rampart/internal/scan/exposure"
	"github.com/rampart-gw/rampart/internal/scan/flows"
	"github.com/rampart-gw/rampart/internal/scan/injection"
	"github.com/rampart-gw/rampart/internal/scan/inventory"
	"github.com/rampart-gw/rampart/internal/scan/limits"
	"github.com/rampart-gw/rampart/internal/scan/misconfig"
	"github.com/rampart-gw/rampart/internal/scan/ssrf"
)

// Checks returns every check, in the order they run:
func Checks() []scan.Check {
	return []scan.Check{
		// Reads first: they only look at what discovery saw, or repeat it.
		exposure.Check{},
		authz.BFLACheck{},
		authz.BOLACheck{},
		authn.UnauthenticatedCheck{},
		// Forged tokens after the checks that need the real ones.
		authn.JWTCheck{},
		misconfig.Check{},
		ssrf.Check{},
		injection.Check{},
		inventory.Check{},
		// Writes next, on objects the scan may change.
		authz.MassAssignmentCheck{},
		// The burst last but one: a rate limit it trips must not starve
		// the checks before it.
		limits.Check{},
		// After the burst, whose outcome it reads.
		flows.Check{},
		// Failed logins last: a login limit they trip must not starve the
		// checks before them.
		authn.LoginCheck{},
	}
}

// Rules lists every rule of every check, for docs and --list-checks.
func Rules() []findings.Rule {
	var out []findings.Rule
	for _, c := range Checks() {
		out = append(out, c.Rules()...)
	}
	return out
}
