// Package ssrf holds rampart scan's server-side request forgery check
// (API7:2023): every URL-shaped parameter (by its format or its name) is
// pointed at the scanner's own loopback canary with a fresh token. The
// canary receiving that token is the proof; nothing else counts.
package ssrf

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// SSRF is the rule.
var SSRF = findings.Rule{ID: "rampart.scan.api7.ssrf", Name: "Server-side request forgery",
	Description: "A URL the caller supplies makes the target send a request to it: here, to the scanner's loopback canary.",
	Help:        "Fetch only from an allowlist of hosts; resolve and refuse private, loopback and link-local addresses; never follow redirects to them.",
	OWASP:       "API7:2023", Severity: findings.High}

var urlName = regexp.MustCompile(`(?i)(url|uri|link|href|callback|webhook|endpoint|redirect|image|avatar|feed|source|fetch|proxy|dest|host)`)

func urlShaped(name string, sc *openapi3.Schema) bool {
	if sc != nil && (sc.Format == "uri" || sc.Format == "url" || sc.Format == "uri-reference") {
		return true
	}
	return urlName.MatchString(name) && (sc == nil || sc.Type == nil || scan.TypeOf(sc) == "string")
}

// Check is the SSRF check.
type Check struct {
	// Wait is how long the canary waits for each hit (0: 1.5 s).
	Wait time.Duration
}

// Name implements scan.Check.
func (Check) Name() string { return "ssrf" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{SSRF} }

// Run implements scan.Check: query parameters of safe operations, and
// body members of writes on objects the scan may change or creations.
func (c Check) Run(ctx context.Context, s *scan.Session) error {
	if !s.Enabled(SSRF.ID) {
		return nil
	}
	wait := c.Wait
	if wait == 0 {
		wait = 1500 * time.Millisecond
	}
	for _, op := range s.Ops {
		base, as := baseRequest(s, op)
		if base == nil {
			continue
		}
		for _, p := range op.Parameters() {
			var sc *openapi3.Schema
			if p.Schema != nil {
				sc = p.Schema.Value
			}
			if p.In != "query" || !urlShaped(p.Name, sc) {
				continue
			}
			token := s.Canary.Token()
			r := base.Clone()
			r.Query.Set(p.Name, s.Canary.URL(token))
			if err := probe(ctx, s, op, r, as, p.Name, token, wait); err != nil {
				return err
			}
		}
		if op.Safe() || len(base.Body) == 0 {
			continue
		}
		var body map[string]any
		if json.Unmarshal(base.Body, &body) != nil {
			continue
		}
		for name, sc := range op.BodyProperties() {
			if !urlShaped(name, sc) {
				continue
			}
			token := s.Canary.Token()
			b := map[string]any{}
			for k, v := range body {
				b[k] = v
			}
			b[name] = s.Canary.URL(token)
			r := base.Clone()
			r.Body, _ = json.Marshal(b)
			if err := probe(ctx, s, op, r, as, name, token, wait); err != nil {
				return err
			}
		}
	}
	return nil
}

// baseRequest is what a parameter is planted into: the identity's own
// request for safe operations; a write only on an object the scan may
// change, or a creation.
func baseRequest(s *scan.Session, op *scan.Op) (*scan.Request, *scan.Identity) {
	if op.Safe() {
		for _, id := range s.Identities {
			if v := s.View(op, id.Name); scan.Success(v) {
				return v.Req.Clone(), id
			}
		}
		if v := s.View(op, ""); v != nil {
			return v.Req.Clone(), nil
		}
		if !op.RequiresAuth {
			return s.Build(op, nil), nil
		}
		return nil, nil
	}
	if op.Method == "DELETE" {
		return nil, nil
	}
	if len(op.Params) == 0 {
		if op.Method == "POST" && s.AllowWrites && len(s.Identities) > 0 {
			return s.Build(op, nil), s.Identities[0]
		}
		return nil, nil
	}
	for _, o := range s.Objects(op.Path) {
		if o.Owner != nil && s.Writable(o) {
			return s.Build(op, o.Values()), o.Owner
		}
	}
	return nil, nil
}

func probe(ctx context.Context, s *scan.Session, op *scan.Op, r *scan.Request, as *scan.Identity, name, token string, wait time.Duration) error {
	ex, err := s.Send(ctx, r, as)
	if err != nil {
		return err
	}
	if !s.Canary.Hit(ctx, token, wait) {
		return nil
	}
	f := scan.Finding(SSRF, op, findings.Certain, "The target fetches URLs it is given",
		fmt.Sprintf("%s %s with %s pointing at the scanner's loopback canary made the target request it (the canary saw the token). Internal addresses (cloud metadata, admin ports) are reachable the same way.", op.Method, op.Path, name))
	f.Key = name
	f.Evidence = []findings.Exchange{scan.Evidence("the request with the canary URL", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
	return nil
}
