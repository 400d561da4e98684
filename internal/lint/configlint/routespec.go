package configlint

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// LoadRouteSpecs loads the OpenAPI spec of every route's openapi block,
// once per file (openapi.spec as written: a path relative to the working
// directory), and checks that the operation each route names is in its
// spec. It returns the specs that loaded, by openapi.spec, for
// lint.Input.RouteSpecs, and an error (errors.Join) for each spec that
// does not load and each operationId its spec lacks, naming the route
// and the file: what the gateway refuses the config for. file and idx
// (nil for none) locate the routes in the config.
func LoadRouteSpecs(ctx context.Context, cfg *config.Config, file string, idx yamlpos.Index) (map[string]*openapi.Spec, error) {
	specs := map[string]*openapi.Spec{}
	failed := map[string]*loadFailure{}
	var errs []error
	at := func(i int, key string) string {
		p := "routes[" + strconv.Itoa(i) + "].openapi." + key
		if idx == nil {
			return file + ": " + p
		}
		_, pos := idx.Locate(routePtr(i, "openapi", key))
		return fmt.Sprintf("%s:%d:%d: %s", file, pos.Line, pos.Column, p)
	}
	for i := range cfg.Routes {
		o := cfg.Routes[i].OpenAPI
		if o == nil || o.Spec == "" {
			continue
		}
		if f := failed[o.Spec]; f != nil {
			f.routes = append(f.routes, routeName(i, &cfg.Routes[i]))
			continue
		}
		s, ok := specs[o.Spec]
		if !ok {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("loading the routes' specs: %w", err)
			}
			var err error
			if s, err = openapi.Load(ctx, o.Spec, openapi.Options{}); err != nil {
				f := &loadFailure{at: at(i, "spec"), routes: []string{routeName(i, &cfg.Routes[i])}, err: err}
				failed[o.Spec] = f
				errs = append(errs, f)
				continue
			}
			specs[o.Spec] = s
		}
		if o.Operation != "auto" && operationByID(s, o.Operation) == nil {
			errs = append(errs, fmt.Errorf("%s: %s has no operation with operationId %q, so %s would refuse every request",
				at(i, "operation"), o.Spec, o.Operation, routeName(i, &cfg.Routes[i])))
		}
	}
	return specs, errors.Join(errs...)
}

// loadFailure is a spec that did not load, with every route that names
// it (the first one's position), so the error says all that it breaks.
type loadFailure struct {
	at     string
	routes []string
	err    error
}

func (f *loadFailure) Error() string {
	return fmt.Sprintf("%s: loading the spec of %s: %v", f.at, strings.Join(f.routes, ", "), f.err)
}

func (f *loadFailure) Unwrap() error { return f.err }

func operationByID(s *openapi.Spec, id string) *openapi.Operation {
	for _, o := range s.Operations {
		if o.Op.OperationID == id {
			return o
		}
	}
	return nil
}

// checkRouteSpecs compares each route that has an openapi block with its
// own spec: the methods that reach no operation of it (or not the one
// openapi.operation names), and where the route asks less than the
// operation's security. A route whose spec is the one given to lint
// (--spec) is compared here, not by checkSpec; one whose spec did not load
// is skipped (LoadRouteSpecs reported it).
func (r *run) checkRouteSpecs(specs map[string]*openapi.Spec, main *openapi.Spec) {
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		if rt.OpenAPI == nil {
			continue
		}
		s := specs[rt.OpenAPI.Spec]
		if s == nil {
			continue
		}
		ops := r.specOps(s, distinct(s.BasePaths()))
		pinned := rt.OpenAPI.Operation
		if pinned != "auto" {
			ops = slices.DeleteFunc(ops, func(so specOp) bool { return so.op.Op.OperationID != pinned })
			if len(ops) == 0 {
				continue // LoadRouteSpecs reported it
			}
		}
		tmpl := template(rt.Path, r.cfg.Paths.CaseInsensitive)
		for j, m := range rt.Methods {
			m = strings.ToUpper(m)
			var seen []*openapi.Operation
			for _, so := range ops {
				if so.op.Method != m || !matches(tmpl, so.tmpl, false) || slices.Contains(seen, so.op) {
					continue
				}
				seen = append(seen, so.op)
				loc := specLoc(s, so.op)
				r.weaker(i, rt, m, so, fmt.Sprintf(", %s:%d:%d", loc.File, loc.Line, loc.Column))
			}
			if len(seen) > 0 {
				continue
			}
			f := notInSpec(rt, m)
			if pinned == "auto" {
				f.Message = fmt.Sprintf("%s answers %s %s, which no operation of its spec %s has: its openapi block refuses every such request.", routeName(i, rt), m, rt.Path, s.Source)
			} else {
				op := ops[0].op
				loc := specLoc(s, op)
				f.Message = fmt.Sprintf("%s answers %s %s, but its openapi.operation %s is %s %s (%s:%d:%d): its openapi block refuses those requests.",
					routeName(i, rt), m, rt.Path, pinned, op.Method, ops[0].full, loc.File, loc.Line, loc.Column)
			}
			r.add(RuleNotInSpec, r.at(routePtr(i, "methods", strconv.Itoa(j))), f)
		}
	}
}

// ownSpec reports whether rt's openapi block names the spec given to lint
// and it loaded: checkRouteSpecs, not checkSpec, compares such a route.
func (r *run) ownSpec(rt *config.Route) bool {
	if rt.OpenAPI == nil || r.spec == nil {
		return false
	}
	s := r.routeSpecs[rt.OpenAPI.Spec]
	// Two copies with relative external $refs may resolve them to
	// different files: only copies without any are one spec.
	return s != nil && sameFile(s.Source, r.spec.Source, !s.External() && !r.spec.External())
}

// sameFile reports whether two spec sources are one spec: the same path,
// the same file under two names (a link), or, when copies count, two files
// with the same bytes (a copy given to --spec), so that a route is
// compared once.
func sameFile(a, b string, copies bool) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	if err1 == nil && err2 == nil && aa == bb {
		return true
	}
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil || !sa.Mode().IsRegular() || !sb.Mode().IsRegular() {
		return false // a URL, or gone
	}
	if os.SameFile(sa, sb) {
		return true
	}
	if !copies || sa.Size() != sb.Size() {
		return false
	}
	da, err1 := os.ReadFile(a) // #nosec G304 -- both are specs the operator named and that loaded
	db, err2 := os.ReadFile(b) // #nosec G304 -- as above
	return err1 == nil && err2 == nil && bytes.Equal(da, db)
}

// distinct returns ss without repeats, in order.
func distinct(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
