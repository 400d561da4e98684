package speclint

import (
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// weakerSibling reports op when its effective security is strictly
// weaker than a sibling's it should match (see ruleWeakerSibling for the
// definition), once, against the first such sibling in path order.
func (r *run) weakerSibling(op *openapi.Operation, ptr string, a about, siblings []*openapi.Operation) {
	if op.Method == "OPTIONS" {
		// A CORS preflight carries no credentials (Fetch standard,
		// "CORS-preflight request"): an anonymous OPTIONS is required,
		// not weak.
		return
	}
	mine := r.spec.Security(op)
	for _, s := range siblings {
		if s == op {
			continue
		}
		theirs := r.spec.Security(s)
		if !weaker(mine, theirs) {
			continue
		}
		anon := !r.spec.RequiresAuth(op)
		switch {
		case anon && r.spec.RequiresAuth(s):
			r.report(&ruleWeakerSibling, ptr, a, "", "%s %s allows anonymous access while %s %s requires credentials.", op.Method, op.Path, s.Method, s.Path)
		case methodKind(op.Method) == kindWrite && methodKind(s.Method) == kindRead:
			r.report(&ruleWeakerSibling, ptr, a, "", "%s %s, a write, needs less than reading it with %s: %s versus %s.", op.Method, op.Path, s.Method, describeSecurity(mine), describeSecurity(theirs))
		case sameKind(op.Method, s.Method):
			r.report(&ruleWeakerSibling, ptr, a, "", "%s %s needs less than %s %s: %s versus %s.", op.Method, op.Path, s.Method, s.Path, describeSecurity(mine), describeSecurity(theirs))
		default:
			continue
		}
		return
	}
}

type kind int

const (
	kindOther kind = iota
	kindRead
	kindWrite
)

func methodKind(m string) kind {
	switch m {
	case "GET", "HEAD":
		return kindRead
	case "POST", "PUT", "PATCH", "DELETE":
		return kindWrite
	}
	return kindOther
}

// sameKind reports whether two methods do the same thing to a resource,
// so that they should need the same: GET and HEAD read it, PUT and PATCH
// update it. DELETE and POST do something else than either (a spec may
// well make deleting need more than updating).
func sameKind(a, b string) bool {
	group := func(m string) int {
		switch m {
		case "GET", "HEAD":
			return 1
		case "PUT", "PATCH":
			return 2
		}
		return 0
	}
	return group(a) != 0 && group(a) == group(b)
}

// weaker reports whether security requirements a are strictly weaker
// than b: whatever satisfies b satisfies a (every alternative of b
// includes some alternative of a), and something less satisfies a (not
// the other way round).
func weaker(a, b openapi3.SecurityRequirements) bool {
	return atMost(a, b) && !atMost(b, a)
}

// atMost reports whether a needs at most what b needs: every alternative
// of b includes an alternative of a. No requirement at all (nil or
// empty) is the single anonymous alternative.
func atMost(a, b openapi3.SecurityRequirements) bool {
	anon := openapi3.SecurityRequirements{openapi3.SecurityRequirement{}}
	if len(a) == 0 {
		a = anon
	}
	if len(b) == 0 {
		b = anon
	}
	for _, rb := range b {
		if !slices.ContainsFunc(a, func(ra openapi3.SecurityRequirement) bool { return includes(rb, ra) }) {
			return false
		}
	}
	return true
}

// includes reports whether requirement big asks for everything small
// does: each of small's schemes, with at least its scopes (OAuth 2 and
// OpenID Connect scopes; roles for the other schemes in 3.1).
func includes(big, small openapi3.SecurityRequirement) bool {
	for scheme, scopes := range small {
		have, ok := big[scheme]
		if !ok {
			return false
		}
		for _, sc := range scopes {
			if !slices.Contains(have, sc) {
				return false
			}
		}
	}
	return true
}

// describeSecurity writes requirements for a message: alternatives
// joined by " or ", schemes by " and ", scopes in brackets.
func describeSecurity(reqs openapi3.SecurityRequirements) string {
	if len(reqs) == 0 {
		return "no credentials"
	}
	alts := make([]string, 0, len(reqs))
	for _, req := range reqs {
		if len(req) == 0 {
			alts = append(alts, "no credentials")
			continue
		}
		var parts []string
		for _, scheme := range sortedKeys(req) {
			p := scheme
			if len(req[scheme]) > 0 {
				p += " [" + strings.Join(req[scheme], " ") + "]"
			}
			parts = append(parts, p)
		}
		alts = append(alts, strings.Join(parts, " and "))
	}
	return strings.Join(alts, " or ")
}
