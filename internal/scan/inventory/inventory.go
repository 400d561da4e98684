// Package inventory holds rampart scan's improper-inventory checks
// (API9:2023): endpoints that answer but are not in the spec (debug and
// management paths, exposed files, API documents) and older versions of
// documented operations that still answer, and documented operations that
// no longer do. A request for a random path is the control: an API that
// answers everything alike (a catch-all) shows nothing here.
package inventory

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Rules.
var (
	Undocumented = findings.Rule{ID: "rampart.scan.api9.undocumented-endpoint", Name: "Undocumented endpoint answers",
		Description: "A path the spec does not declare answers: a debug or management endpoint, an exposed file, or an API document.",
		Help:        "Remove debug and management endpoints from public listeners; route only what the spec declares (Rampart denies unrouted paths).",
		OWASP:       "API9:2023", Severity: findings.Medium}
	OldVersion = findings.Rule{ID: "rampart.scan.api9.old-version", Name: "An older API version still answers",
		Description: "The same operation under an older version prefix (/v1 next to the spec's /v2) answers like the documented one.",
		Help:        "Retire old versions, or protect them exactly like the current one.",
		OWASP:       "API9:2023", Severity: findings.Medium}
	Dead = findings.Rule{ID: "rampart.scan.api9.dead-operation", Name: "Documented operation does not answer",
		Description: "An operation in the spec answers 404, 405, 410 or 501 to every identity: the spec and the deployment disagree.",
		Help:        "Keep the spec in step with the deployment; remove retired operations from it.",
		OWASP:       "API9:2023", Severity: findings.Low}
)

// probe is a path to try and how much it matters when it answers.
type probe struct {
	path     string
	severity findings.Severity
	what     string
	// body, if set, must match for the probe to count.
	body *regexp.Regexp
}

var probes = []probe{
	{"/.env", findings.High, "an environment file (secrets)", regexp.MustCompile(`(?m)^[A-Z_]+=`)},
	{"/.git/config", findings.High, "the Git repository", regexp.MustCompile(`\[core\]`)},
	{"/debug/pprof/", findings.High, "Go's pprof profiler", regexp.MustCompile(`(?i)profile|goroutine`)},
	{"/debug/vars", findings.High, "Go's expvar variables", regexp.MustCompile(`"memstats"|"cmdline"`)},
	{"/actuator/env", findings.High, "Spring Boot's environment endpoint", nil},
	{"/actuator/heapdump", findings.High, "Spring Boot's heap dump", nil},
	{"/server-status", findings.High, "Apache's server status", regexp.MustCompile(`(?i)server status`)},
	{"/phpinfo.php", findings.High, "phpinfo()", regexp.MustCompile(`(?i)php version`)},
	{"/actuator", findings.Medium, "Spring Boot's actuator", nil},
	{"/metrics", findings.Medium, "metrics", nil},
	{"/admin", findings.Medium, "an admin page", nil},
	{"/console", findings.Medium, "a console", nil},
	{"/graphql", findings.Medium, "a GraphQL endpoint", nil},
	{"/swagger.json", findings.Info, "an API document", nil},
	{"/openapi.json", findings.Info, "an API document", nil},
	{"/v2/api-docs", findings.Info, "an API document", nil},
	{"/v3/api-docs", findings.Info, "an API document", nil},
}

// Check runs the rules.
type Check struct{}

// Name implements scan.Check.
func (Check) Name() string { return "inventory" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{Undocumented, OldVersion, Dead} }

// Run implements scan.Check.
func (Check) Run(ctx context.Context, s *scan.Session) error {
	if s.Enabled(Undocumented.ID) {
		if err := undocumented(ctx, s); err != nil {
			return err
		}
	}
	if s.Enabled(OldVersion.ID) {
		if err := oldVersions(ctx, s); err != nil {
			return err
		}
	}
	if s.Enabled(Dead.ID) {
		dead(s)
	}
	return nil
}

func documented(s *scan.Session, path string) bool {
	for _, op := range s.Ops {
		if op.Path == path || op.Path == strings.TrimSuffix(path, "/") {
			return true
		}
	}
	return false
}

func undocumented(ctx context.Context, s *scan.Session) error {
	var as *scan.Identity
	if u := s.Unprivileged(); len(u) > 0 {
		as = u[0]
	}
	control, err := s.Send(ctx, &scan.Request{Method: "GET", Path: "/rampart-scan-" + s.Canary.Token()[:10]}, as)
	if err != nil {
		return err
	}
	seeds := s.UnmatchedSeeds()
	if len(seeds) > 20 {
		s.Note("inventory: %d recorded requests match no spec operation; the first 20 were probed", len(seeds))
		seeds = seeds[:20]
	}
	for _, sd := range seeds {
		ex, err := s.Send(ctx, &scan.Request{Method: "GET", Path: sd.Path, Query: sd.Query}, as)
		if err != nil {
			return err
		}
		if !scan.Success(ex) || (scan.Success(control) && scan.Compare(control.Resp.Body, ex.Resp.Body).Values >= 0.8) {
			continue
		}
		f := scan.Finding(Undocumented, nil, findings.Firm, "Recorded request the spec does not declare",
			fmt.Sprintf("GET %s, from the seed requests, matches no operation of the spec and answered %d; a random path answered %d.", sd.Path, ex.Resp.Status, control.Resp.Status))
		f.Method, f.PathTemplate, f.Key = "GET", sd.Path, "seed:"+sd.Path
		f.Evidence = []findings.Exchange{scan.Evidence("a random path (control)", control), scan.Evidence("the recorded request", ex)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
	}
	for _, p := range probes {
		if documented(s, p.path) {
			continue
		}
		ex, err := s.Send(ctx, &scan.Request{Method: "GET", Path: p.path}, as)
		if err != nil {
			return err
		}
		if !scan.Success(ex) || len(ex.Resp.Body) == 0 {
			continue
		}
		if p.body != nil && !p.body.Match(ex.Resp.Body) {
			continue
		}
		if scan.Success(control) && scan.Compare(control.Resp.Body, ex.Resp.Body).Values >= 0.8 {
			continue // a catch-all answers every path alike
		}
		f := scan.Finding(Undocumented, nil, findings.Firm, "Undocumented endpoint: "+p.what,
			fmt.Sprintf("GET %s answered %d with %s; the spec does not declare it, and a random path answered %d.", p.path, ex.Resp.Status, p.what, control.Resp.Status))
		f.Severity = p.severity
		f.Method, f.PathTemplate, f.Key = "GET", p.path, p.path
		f.Evidence = []findings.Exchange{scan.Evidence("a random path (control)", control), scan.Evidence(p.path, ex)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
	}
	return nil
}

var versionSeg = regexp.MustCompile(`^v(\d+)$`)

func oldVersions(ctx context.Context, s *scan.Session) error {
	for _, op := range s.Ops {
		if op.Method != "GET" {
			continue
		}
		segs := strings.Split(op.Path, "/")
		at, n := -1, 0
		for i, seg := range segs {
			if m := versionSeg.FindStringSubmatch(seg); m != nil {
				at, n = i, atoi(m[1])
				break
			}
		}
		if at < 0 || n < 2 {
			continue
		}
		v := s.FirstView(op)
		if v == nil {
			continue
		}
		got := strings.Split(v.Req.Path, "/")
		if len(got) != len(segs) {
			continue
		}
		for old := n - 1; old >= 0 && old >= n-2; old-- {
			alt := append([]string(nil), got...)
			alt[at] = "v" + strconv.Itoa(old)
			r := v.Req.Clone()
			r.Path = strings.Join(alt, "/")
			ex, err := s.Send(ctx, r, v.As)
			if err != nil {
				return err
			}
			if !scan.Success(ex) || scan.Compare(v.Resp.Body, ex.Resp.Body).Structure < 0.7 {
				continue
			}
			f := scan.Finding(OldVersion, op, findings.Firm, "Older version answers",
				fmt.Sprintf("GET %s (v%d, not in the spec) answered %d like the documented v%d operation.", r.Path, old, ex.Resp.Status, n))
			f.Key = "v" + strconv.Itoa(old)
			f.Evidence = []findings.Exchange{scan.Evidence(fmt.Sprintf("the documented v%d (control)", n), v), scan.Evidence(fmt.Sprintf("the same under v%d", old), ex)}
			f.Curl = scan.Curl(ex)
			s.Report(f)
			break
		}
	}
	return nil
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// dead reports operations without path parameters (so that no id can be
// wrong) that every identity's discovery request found missing.
func dead(s *scan.Session) {
	for _, op := range s.Ops {
		if op.Method != "GET" || len(op.Params) > 0 || guessesRequired(op) {
			continue
		}
		var seen []*scan.Exchange
		for _, name := range append([]string{""}, names(s)...) {
			if v := s.View(op, name); v != nil && v.Resp != nil {
				seen = append(seen, v)
			}
		}
		if len(seen) == 0 {
			continue
		}
		all := true
		for _, v := range seen {
			switch v.Resp.Status {
			case 404, 405, 410, 501:
			default:
				all = false
			}
		}
		if !all {
			continue
		}
		f := scan.Finding(Dead, op, findings.Firm, "Documented operation does not answer",
			fmt.Sprintf("%s %s answered %d to every identity that called it.", op.Method, op.Path, seen[0].Resp.Status))
		f.Evidence = []findings.Exchange{scan.Evidence("the documented operation", seen[0])}
		f.Curl = scan.Curl(seen[0])
		s.Report(f)
	}
}

// guessesRequired reports an operation with a required query or header
// parameter that the spec gives no value for (no example, default or
// enum): its 404 says the guessed value names nothing, not that the
// operation is gone (GET /lookup?id=...).
func guessesRequired(op *scan.Op) bool {
	for _, p := range op.Parameters() {
		if !p.Required || (p.In != "query" && p.In != "header") {
			continue
		}
		if p.Example != nil || len(p.Examples) > 0 {
			continue
		}
		if sc := p.Schema; sc != nil && sc.Value != nil && (sc.Value.Example != nil || sc.Value.Default != nil || len(sc.Value.Enum) > 0) {
			continue
		}
		return true
	}
	return false
}

func names(s *scan.Session) []string {
	var out []string
	for _, id := range s.Identities {
		out = append(out, id.Name)
	}
	return out
}
