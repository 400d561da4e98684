// Package flows holds rampart scan's check for sensitive business flows
// (API6:2023). Whether a flow (checkout, sign-up, transfer, vote ...) can
// be abused by automation is a business question a scanner cannot settle;
// it flags, with low severity and tentative confidence, the flows that
// show no anti-automation at all: no CAPTCHA or proof-of-work parameter
// in the spec, no 429 declared, and no rate limit met by the burst.
package flows

import (
	"context"
	"fmt"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/limits"
)

// Rule is the check's rule.
var Rule = findings.Rule{ID: "rampart.scan.api6.no-anti-automation", Name: "Sensitive business flow without anti-automation",
	Description: "An operation that looks like a business flow bots abuse (buying, signing up, transferring, voting, redeeming) shows no defence against automation.",
	Help:        "Limit the flow per user and per device, add a CAPTCHA or proof of work where people use it, and watch for abuse patterns (Rampart: limits per route, anomaly detection).",
	OWASP:       "API6:2023", Severity: findings.Low}

var flowWords = []string{"checkout", "purchase", "purchases", "buy", "order", "orders", "booking", "bookings", "book", "reserve",
	"reservation", "reservations", "signup", "sign-up", "register", "registration", "invite", "invites", "comment", "comments",
	"review", "reviews", "vote", "votes", "transfer", "transfers", "payment", "payments", "pay", "redeem", "coupon", "coupons",
	"gift", "ticket", "tickets", "subscribe", "referral", "referrals"}

var guardWords = []string{"captcha", "recaptcha", "hcaptcha", "turnstile", "proof", "pow", "challenge"}

// Check is the API6 check; it sends nothing.
type Check struct{}

// Name implements scan.Check.
func (Check) Name() string { return "business-flows" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{Rule} }

// Run implements scan.Check. It must run after limits.Check, whose burst
// tells it whether a rate limit exists.
func (Check) Run(_ context.Context, s *scan.Session) error {
	if !s.Enabled(Rule.ID) || s.Fact(limits.FactRateLimited) {
		return nil
	}
	for _, op := range s.Ops {
		if op.Safe() || !isFlow(op.Path) || guarded(op) {
			continue
		}
		f := scan.Finding(Rule, op, findings.Tentative, "Business flow without anti-automation",
			fmt.Sprintf("%s %s looks like a flow bots abuse; the spec declares no CAPTCHA or proof-of-work input and no 429 answer, and a burst of requests met no rate limit.", op.Method, op.Path))
		ex := &scan.Exchange{Req: s.Build(op, nil)}
		ex.URL = s.URL(ex.Req)
		if len(s.Identities) > 0 {
			ex.As = s.Identities[0]
		}
		f.Evidence = []findings.Exchange{scan.Evidence("the operation (not sent)", ex)}
		f.Curl = "for i in $(seq 50); do " + scan.Curl(ex) + "; done   # what a bot would do (mind the side effects)"
		s.Report(f)
	}
	return nil
}

func isFlow(path string) bool {
	for _, seg := range strings.Split(strings.ToLower(path), "/") {
		for _, w := range flowWords {
			if seg == w {
				return true
			}
		}
	}
	return false
}

func guarded(op *scan.Op) bool {
	if op.Op.Responses != nil && op.Op.Responses.Value("429") != nil {
		return true
	}
	has := func(name string) bool {
		n := strings.ToLower(name)
		for _, w := range guardWords {
			if strings.Contains(n, w) {
				return true
			}
		}
		return false
	}
	for _, p := range op.Parameters() {
		if has(p.Name) {
			return true
		}
	}
	if rb := op.Op.RequestBody; rb != nil && rb.Value != nil {
		if mt := rb.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			for k := range mt.Schema.Value.Properties {
				if has(k) {
					return true
				}
			}
		}
	}
	return false
}
