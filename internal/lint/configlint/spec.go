package configlint

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// specSource is the spec the routes are compared with; nil for none.
type specSource = *openapi.Spec

// segment is one segment of a path template.
type segment struct {
	lit   string // the literal, when neither param nor rest
	param bool   // {name}: any one segment
	rest  bool   // {name...}: the rest of the path, one segment or more
}

// template splits a path template (a route pattern or a spec path) into
// segments; fold lower-cases literals (paths.case_insensitive). A spec
// segment that holds a parameter anywhere ("{id}.json") is a parameter.
func template(p string, fold bool) []segment {
	p = strings.TrimPrefix(p, "/")
	if p == "" {
		return nil
	}
	parts := strings.Split(p, "/")
	out := make([]segment, len(parts))
	for i, s := range parts {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "...}"):
			out[i] = segment{rest: true}
		case strings.Contains(s, "{"):
			out[i] = segment{param: true}
		case fold:
			out[i] = segment{lit: strings.ToLower(s)}
		default:
			out[i] = segment{lit: s}
		}
	}
	return out
}

// matches compares a route template with a spec template. With whole, it
// reports whether the route matches every path of the spec's template
// (the route serves the operation); without, whether it matches at least
// one (the route reaches the operation).
func matches(route, spec []segment, whole bool) bool {
	for i, rs := range route {
		if rs.rest {
			return len(spec) > i
		}
		if i >= len(spec) {
			return false
		}
		ss := spec[i]
		switch {
		case rs.param:
		case ss.param:
			if whole {
				return false
			}
		case rs.lit != ss.lit:
			return false
		}
	}
	return len(route) == len(spec)
}

// routeMethods is the set of methods a route answers: its own, and HEAD
// with GET.
func routeMethods(rt *config.Route) []string {
	ms := make([]string, 0, len(rt.Methods)+1)
	for _, m := range rt.Methods {
		ms = append(ms, strings.ToUpper(m))
	}
	if slices.Contains(ms, "GET") && !slices.Contains(ms, "HEAD") {
		ms = append(ms, "HEAD")
	}
	return ms
}

// specOp is a spec operation with its full path (the servers' common base
// path, then the operation's path) as a template.
type specOp struct {
	spec *openapi.Spec
	op   *openapi.Operation
	full string
	tmpl []segment
}

// basePath is the path that every server of the spec shares, such as /v1;
// "" when the servers disagree, use variables or have none.
func basePath(doc *openapi3.T) string {
	base, first := "", true
	for _, s := range doc.Servers {
		if s == nil {
			continue
		}
		p := ""
		if u, err := url.Parse(s.URL); err == nil && !strings.Contains(s.URL, "{") {
			p = strings.TrimSuffix(u.Path, "/")
		}
		if first {
			base, first = p, false
		} else if p != base {
			return ""
		}
	}
	return base
}

// specOps lists the operations of spec, each under every base path of
// bases.
func (r *run) specOps(spec *openapi.Spec, bases []string) []specOp {
	fold := r.cfg.Paths.CaseInsensitive
	ops := make([]specOp, 0, len(spec.Operations)*len(bases))
	for _, base := range bases {
		for _, o := range spec.Operations {
			full := base + o.Path
			ops = append(ops, specOp{spec: spec, op: o, full: full, tmpl: template(full, fold)})
		}
	}
	return ops
}

// mainOps are the operations of the spec given to lint (--spec), under
// the base path its servers share.
func (r *run) mainOps() []specOp {
	return r.specOps(r.spec, []string{basePath(r.spec.Doc)})
}

// specLoc locates a spec operation in its spec's file.
func specLoc(spec *openapi.Spec, o *openapi.Operation) *findings.Location {
	ptr := yamlpos.Pointer("paths", o.Path, strings.ToLower(o.Method))
	found, pos := spec.Locate(ptr)
	return &findings.Location{File: spec.Source, Pointer: found, Line: pos.Line, Column: pos.Column}
}

func (r *run) checkSpec() {
	ops := r.mainOps()
	fold := r.cfg.Paths.CaseInsensitive
	routes := make([][]segment, len(r.cfg.Routes))
	for i := range r.cfg.Routes {
		routes[i] = template(r.cfg.Routes[i].Path, fold)
	}
	for _, so := range ops {
		served := false
		for i := range r.cfg.Routes {
			if slices.Contains(routeMethods(&r.cfg.Routes[i]), so.op.Method) && matches(routes[i], so.tmpl, true) {
				served = true
				break
			}
		}
		if !served {
			r.add(RuleSpecUncovered, specLoc(r.spec, so.op), findings.Finding{
				Method: so.op.Method, PathTemplate: so.op.Path, OperationID: so.op.Op.OperationID,
				Message: fmt.Sprintf("%s %s (%s) matches no route of %s.", so.op.Method, so.full, so.op.ID(), r.file),
			})
		}
	}
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		if r.ownSpec(rt) {
			continue // checkRouteSpecs compares it, pinned operation and every base path included
		}
		for j, m := range rt.Methods {
			m = strings.ToUpper(m)
			reached := false
			for _, so := range ops {
				if so.op.Method != m || !matches(routes[i], so.tmpl, false) {
					continue
				}
				reached = true
				r.weaker(i, rt, m, so, "")
			}
			if !reached {
				f := notInSpec(rt, m)
				f.Message = fmt.Sprintf("%s answers %s %s, which no operation of %s has.", routeName(i, rt), m, rt.Path, r.spec.Source)
				r.add(RuleNotInSpec, r.at(routePtr(i, "methods", fmt.Sprint(j))), f)
			}
		}
	}
}

// notInSpec is the finding, without its message, of a route answering
// method m that no operation of a spec has.
func notInSpec(rt *config.Route, m string) findings.Finding {
	return findings.Finding{Method: m, PathTemplate: rt.Path, Key: rt.Name}
}

// methodAuthz is a route's authorization rule for method m: the method's
// override whole when there is one.
func methodAuthz(rt *config.Route, m string) *config.Authz {
	if rt.Authz == nil {
		return nil
	}
	for k, a := range rt.Authz.Methods {
		if strings.EqualFold(k, m) {
			return &a
		}
	}
	return rt.Authz
}

// weaker reports routes[i] when, for method m, it asks less than the spec
// operation so requires; where, when not "", follows the operation in the
// message (its place in the spec).
func (r *run) weaker(i int, rt *config.Route, m string, so specOp, where string) {
	if !so.spec.RequiresAuth(so.op) {
		return
	}
	f := findings.Finding{Method: m, PathTemplate: so.op.Path, OperationID: so.op.Op.OperationID, Key: rt.Name}
	if rt.Public {
		f.Message = fmt.Sprintf("%s is public, but the spec requires credentials for %s %s (%s%s).", routeName(i, rt), m, so.full, so.op.ID(), where)
		r.add(RuleWeakerThanSpec, r.at(routePtr(i, "public")), f)
		return
	}
	var have []string
	if a := methodAuthz(rt, m); a != nil {
		have = a.Scopes
	}
	var wants []string
	for _, req := range so.spec.Security(so.op) {
		var scopes []string
		for _, name := range sortedKeys(req) {
			scopes = append(scopes, req[name]...)
		}
		if len(scopes) == 0 {
			return // one way in needs credentials and no scope: the route's auth meets it
		}
		if subset(scopes, have) {
			return
		}
		wants = append(wants, "["+strings.Join(scopes, ", ")+"]")
	}
	ptr := routePtr(i, "authz", "scopes")
	if rt.Authz != nil {
		for k := range rt.Authz.Methods {
			if strings.EqualFold(k, m) {
				ptr = routePtr(i, "authz", "methods", k, "scopes")
			}
		}
	}
	f.Confidence = findings.Tentative
	f.Severity = findings.Medium
	asks := "no scope"
	if len(have) > 0 {
		asks = "only [" + strings.Join(have, ", ") + "]"
	}
	f.Message = fmt.Sprintf("the spec requires the scopes %s for %s %s (%s%s); %s requires %s.",
		strings.Join(wants, " or "), m, so.full, so.op.ID(), where, routeName(i, rt), asks)
	r.add(RuleWeakerThanSpec, r.at(ptr), f)
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}
