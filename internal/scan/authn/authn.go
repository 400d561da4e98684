// Package authn holds rampart scan's broken-authentication checks
// (API2:2023): operations the spec says need credentials that answer
// without them, and attacks on the identities' JWTs (alg none, stripped
// or altered signatures, HS/RS key confusion, kid injection, embedded or
// remote keys, weak HMAC secrets).
//
// Every finding has a control: the identity's own authenticated answer
// (what the anonymous or forged request must match), and for the JWT
// attacks an anonymous request that the operation refuses, so that an
// operation that needs no token at all is never reported as accepting a
// forged one.
package authn

import (
	"context"
	"fmt"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Unauthenticated is the rule for operations that answer without
// credentials.
var Unauthenticated = findings.Rule{ID: "rampart.scan.api2.unauthenticated", Name: "Operation answers without credentials",
	Description: "The spec says the operation needs credentials, but a request without any gets the same answer an identity gets.",
	Help:        "Authenticate every non-public operation; deny by default (Rampart: every route needs auth unless it says public: true).",
	OWASP:       "API2:2023", Severity: findings.High}

// UnauthenticatedCheck finds operations that answer without credentials.
type UnauthenticatedCheck struct{}

// Name implements scan.Check.
func (UnauthenticatedCheck) Name() string { return "unauthenticated" }

// Rules implements scan.Check.
func (UnauthenticatedCheck) Rules() []findings.Rule { return []findings.Rule{Unauthenticated} }

// Run implements scan.Check: each safe operation that needs credentials
// and that an identity could call is repeated, as is, without the
// credential. A 2xx answer with the shape of the identity's is reported.
func (UnauthenticatedCheck) Run(ctx context.Context, s *scan.Session) error {
	if !s.Enabled(Unauthenticated.ID) {
		return nil
	}
	declared := false
	for _, op := range s.Ops {
		if !op.RequiresAuth {
			continue
		}
		declared = true
		if !op.Safe() {
			continue
		}
		authed := s.FirstView(op, append(s.Unprivileged(), s.Privileged()...)...)
		if authed == nil {
			continue
		}
		// The pre-flight's anonymous request, when it was the same one,
		// saves a refused request (gateways count those).
		anon := s.View(op, "")
		if anon == nil || anon.Req.Path != authed.Req.Path || anon.Req.Query.Encode() != authed.Req.Query.Encode() {
			var err error
			if anon, err = s.Send(ctx, authed.Req.Clone(), nil); err != nil {
				return err
			}
		}
		if !scan.Success(anon) {
			continue
		}
		sim := scan.Compare(authed.Resp.Body, anon.Resp.Body)
		if sim.Structure < 0.7 {
			continue
		}
		conf := findings.Firm
		if sim.Values >= 0.9 {
			conf = findings.Certain
		}
		f := scan.Finding(Unauthenticated, op, conf, "Answers without credentials",
			fmt.Sprintf("The spec requires credentials for %s %s, but a request without any answered %d with what %s gets (similarity: shape %.2f, values %.2f).",
				op.Method, op.Path, anon.Resp.Status, authed.As.Name, sim.Structure, sim.Values))
		f.Evidence = []findings.Exchange{scan.Evidence(authed.As.Name+" calls it (control)", authed), scan.Evidence("no credentials", anon)}
		f.Curl = scan.Curl(anon)
		s.Report(f)
	}
	if !declared {
		s.Note("the spec declares no security requirements, so no operation could be checked for missing authentication")
	}
	return nil
}
