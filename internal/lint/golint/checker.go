package golint

import (
	"context"
	"fmt"
	"go/ast"
	"go/token"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// Checker is rampart lint's Go checker: it loads in.GoPatterns from
// in.GoDir, runs the analyzers and, with in.Spec, compares the routes
// with the spec's operations. The zero value is ready; it holds no state
// and is safe for concurrent use.
type Checker struct{}

var _ lint.Checker = Checker{}

// Name is "go".
func (Checker) Name() string { return "go" }

// Rules lists every rule the checker reports.
func (Checker) Rules() []findings.Rule { return rules() }

// rules is the rule table, by analyzer name and the drift rules.
func rules() []findings.Rule {
	rs := []findings.Rule{
		{ID: RulePrefix + "massassign", Name: "Request body decoded into a struct with privileged fields", OWASP: "API3:2023", Severity: findings.High,
			Description: "A handler decodes the request body into a struct with a field such as role, admin, owner, permissions or balance, so the client can set it (mass assignment); or decodes it into a map and assigns the map's values to such a field.",
			Help:        "Decode into a request type holding only the fields the client may set, or tag the privileged field json:\"-\"."},
		{ID: RulePrefix + "exposure", Name: "Whole storage struct written as JSON", OWASP: "API3:2023", Severity: findings.High,
			Description: "A handler writes a struct with sensitive fields (password, hash, secret, token, ssn, card number) or db/gorm tags as the JSON response (excessive data exposure).",
			Help:        "Write a response type with only the public fields, or tag the sensitive ones json:\"-\"."},
		{ID: RulePrefix + "sqlinjection", Name: "SQL built from variables", OWASP: "API8:2023", Severity: findings.High,
			Description: "SQL text built with + or fmt.Sprintf from a non-constant value reaches database/sql's Query, QueryRow, Exec or Prepare (SQL injection).",
			Help:        "Use placeholders ($1, ?) and pass the values as arguments."},
		{ID: RulePrefix + "servertimeout", Name: "HTTP server without read timeouts", OWASP: "API4:2023", Severity: findings.Medium,
			Description: "An http.Server without ReadHeaderTimeout or ReadTimeout, or http.ListenAndServe, lets slow clients hold connections open (Slowloris).",
			Help:        "Serve with an http.Server that sets ReadHeaderTimeout (and ReadTimeout, WriteTimeout, IdleTimeout)."},
		{ID: RulePrefix + "bodylimit", Name: "Request body read without a bound", OWASP: "API4:2023", Severity: findings.Medium,
			Description: "io.ReadAll(r.Body) or json.NewDecoder(r.Body) reads as much as the client sends into memory.",
			Help:        "Wrap the body with http.MaxBytesReader(w, r.Body, n) or read io.LimitReader(r.Body, n)."},
		{ID: RulePrefix + "ssrf", Name: "Outbound request to a URL from the request", OWASP: "API7:2023", Severity: findings.High,
			Description: "The URL of an outbound request (http.Get, Post, NewRequest, client.Get) comes from the incoming request's query, form, path or body (SSRF).",
			Help:        "Choose the upstream from an allowlist keyed by the client's choice; never call a URL the client wrote."},
		{ID: RulePrefix + "secrets", Name: "Secret in source", OWASP: "API8:2023", Severity: findings.High,
			Description: "A string constant is a key or token recognised by the DLP detectors, or a plausible secret assigned to a name such as password, secret or apiKey.",
			Help:        "Read it from the environment or a secret store, and rotate it: it is in the repository's history."},
		{ID: RulePrefix + "ignore", Name: "Ineffective //rampart:ignore", Severity: findings.Low,
			Description: "A //rampart:ignore directive names no rule, an unknown rule, or gives no reason, and so suppresses nothing.",
			Help:        "Write //rampart:ignore RULE reason, on the finding's line or the line before."},
		{ID: RulePrefix + driftUndeclared, Name: "Route not declared in the spec", OWASP: "API9:2023", Severity: findings.Medium,
			Description: "The code registers a route that the OpenAPI document does not declare (inventory drift: an undocumented, often unguarded endpoint).",
			Help:        "Declare the operation in the spec, or remove the route."},
		{ID: RulePrefix + driftUnimplemented, Name: "Spec operation without a handler", OWASP: "API9:2023", Severity: findings.Low,
			Description: "The OpenAPI document declares an operation that no route in the code serves (inventory drift).",
			Help:        "Implement the operation, or remove it from the spec (and from the gateway's routes)."},
	}
	return rs
}

// Check loads and analyzes the Go packages; see lint.Checker.
func (c Checker) Check(ctx context.Context, in *lint.Input) ([]findings.Finding, []string, error) {
	if len(in.GoPatterns) == 0 {
		return nil, []string{"go: no Go packages given, Go code not checked"}, nil
	}
	dir := in.GoDir
	if dir == "" {
		dir = "."
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("loading Go packages in %s: %w", dir, err)
	}
	cfg := &packages.Config{Context: ctx, Dir: abs, Mode: packages.LoadAllSyntax}
	pkgs, err := packages.Load(cfg, in.GoPatterns...)
	if err != nil {
		return nil, nil, fmt.Errorf("loading Go packages %s in %s: %w", strings.Join(in.GoPatterns, " "), dir, err)
	}
	if err := loadErrors(pkgs, dir); err != nil {
		return nil, nil, err
	}
	if len(pkgs) == 0 {
		return nil, []string{fmt.Sprintf("go: %s in %s matched no packages", strings.Join(in.GoPatterns, " "), dir)}, nil
	}
	g, err := checker.Analyze(Analyzers(), pkgs, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("analyzing Go packages in %s: %w", dir, err)
	}
	// Findings name files relative to the working directory, as the
	// lint.Checker contract says (not to dir: lint.Run and every report
	// read them from where rampart runs).
	wd, err := os.Getwd()
	if err != nil {
		return nil, nil, fmt.Errorf("analyzing Go packages in %s: %w", dir, err)
	}
	run := &result{dir: wd, byRule: map[string]findings.Rule{}, seen: map[string]int{}}
	for _, r := range rules() {
		run.byRule[r.ID] = r
	}
	var diags []diag
	for act := range g.All() {
		if !act.IsRoot {
			continue
		}
		if act.Err != nil {
			return nil, nil, fmt.Errorf("analyzing %s with %s: %w", act.Package.PkgPath, act.Analyzer.Name, act.Err)
		}
		if rs, ok := act.Result.(*RouteSet); ok {
			for _, r := range rs.Routes {
				run.routes = append(run.routes, pkgRoute{Route: r, pkg: act.Package})
			}
		}
		for _, d := range act.Diagnostics {
			diags = append(diags, diag{rule: act.Analyzer.Name, pos: d.Pos, msg: d.Message, pkg: act.Package})
		}
	}
	slices.SortFunc(run.routes, func(a, b pkgRoute) int { return comparePos(a.pkg.Fset, a.Pos, b.Pos) })
	slices.SortStableFunc(diags, func(a, b diag) int { return comparePos(a.pkg.Fset, a.pos, b.pos) })
	var fs []findings.Finding
	for _, d := range diags {
		fs = append(fs, run.finding(d))
	}
	var notes []string
	if in.Spec != nil {
		dfs, dnotes := run.drift(in.Spec)
		fs = append(fs, dfs...)
		notes = append(notes, dnotes...)
	}
	return fs, notes, nil
}

// loadErrors turns the packages' load, parse and type errors into one
// error naming the first few.
func loadErrors(pkgs []*packages.Package, dir string) error {
	var msgs []string
	n := 0
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			n++
			if len(msgs) < 5 {
				msgs = append(msgs, e.Error())
			}
		}
	})
	if n == 0 {
		return nil
	}
	more := ""
	if n > len(msgs) {
		more = fmt.Sprintf(" (and %d more)", n-len(msgs))
	}
	return fmt.Errorf("loading Go packages in %s: %d errors%s; fix them (go build ./...) and lint again:\n\t%s",
		dir, n, more, strings.Join(msgs, "\n\t"))
}

// diag is one analyzer diagnostic.
type diag struct {
	rule string
	pos  token.Pos
	msg  string
	pkg  *packages.Package
}

// pkgRoute is a route with the package that registers it.
type pkgRoute struct {
	Route
	pkg *packages.Package
}

// result turns one run's diagnostics and routes into findings.
type result struct {
	dir    string
	byRule map[string]findings.Rule
	routes []pkgRoute
	seen   map[string]int // keys so far, to tell repeated findings apart
}

func comparePos(fset *token.FileSet, a, b token.Pos) int {
	pa, pb := fset.Position(a), fset.Position(b)
	if c := strings.Compare(pa.Filename, pb.Filename); c != 0 {
		return c
	}
	if pa.Line != pb.Line {
		return pa.Line - pb.Line
	}
	return pa.Column - pb.Column
}

// location returns a position with its file relative to the working
// directory when it is below it, absolute otherwise.
func (r *result) location(fset *token.FileSet, pos token.Pos) findings.Location {
	p := fset.Position(pos)
	file := p.Filename
	if rel, err := filepath.Rel(r.dir, file); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		file = rel
	}
	return findings.Location{File: filepath.ToSlash(file), Line: p.Line, Column: p.Column}
}

// finding converts a diagnostic, naming the operation of the handler it
// is in.
func (r *result) finding(d diag) findings.Finding {
	rule := r.byRule[RulePrefix+d.rule]
	loc := r.location(d.pkg.Fset, d.pos)
	f := findings.Finding{
		RuleID: rule.ID, Title: rule.Name, Severity: rule.Severity, Confidence: findings.Firm, OWASP: rule.OWASP,
		Message: d.msg, Location: &loc,
	}
	if rt := r.handlerAt(d.pos); rt != nil {
		f.Method, f.PathTemplate = rt.Method, openAPIPath(rt.Path)
	}
	key := enclosingFunc(d.pkg, d.pos) + ": " + d.msg
	r.seen[loc.File+key]++
	if n := r.seen[loc.File+key]; n > 1 {
		key = fmt.Sprintf("%s #%d", key, n)
	}
	f.Key = key
	return f
}

// handlerAt returns the route whose handler holds pos, the innermost
// when handlers nest.
func (r *result) handlerAt(pos token.Pos) *Route {
	var best *Route
	for i := range r.routes {
		rt := &r.routes[i].Route
		if rt.HandlerPos != token.NoPos && rt.HandlerPos <= pos && pos < rt.HandlerEnd {
			if best == nil || rt.HandlerEnd-rt.HandlerPos < best.HandlerEnd-best.HandlerPos {
				best = rt
			}
		}
	}
	return best
}

// enclosingFunc names the function declaration holding pos.
func enclosingFunc(pkg *packages.Package, pos token.Pos) string {
	for _, f := range pkg.Syntax {
		if pos < f.FileStart || pos > f.FileEnd {
			continue
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Pos() <= pos && pos < fd.End() {
				if fd.Recv != nil && len(fd.Recv.List) == 1 {
					return recvTypeName(fd.Recv.List[0].Type) + "." + fd.Name.Name
				}
				return fd.Name.Name
			}
		}
	}
	return ""
}

func recvTypeName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.StarExpr:
		return recvTypeName(e.X)
	case *ast.IndexExpr:
		return recvTypeName(e.X)
	case *ast.IndexListExpr:
		return recvTypeName(e.X)
	case *ast.Ident:
		return e.Name
	}
	return ""
}

// openAPIPath writes a route path in OpenAPI syntax, keeping parameter
// names: /users/:id and /users/{id:[0-9]+} become /users/{id}.
func openAPIPath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = "{" + paramName(s[1:len(s)-1]) + "}"
		case strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") && len(s) > 1:
			segs[i] = "{" + paramName(s[1:]) + "}"
		}
	}
	return strings.Join(segs, "/")
}

// paramName is a route parameter's name without a chi regexp (id of
// id:[0-9]+) or a ServeMux wildcard's ... (path of path...), so that
// openAPIPath of its own result changes nothing.
func paramName(s string) string {
	name, _, _ := strings.Cut(s, ":")
	for strings.HasSuffix(name, "...") {
		name = strings.TrimSuffix(name, "...")
	}
	return name
}

var pointerEscaper = strings.NewReplacer("~", "~0", "/", "~1")

// drift compares the routes with the spec's operations.
func (r *result) drift(spec *openapi.Spec) ([]findings.Finding, []string) {
	if len(r.routes) == 0 {
		return nil, []string{"go: no routes found in the Go code, inventory drift against the spec not checked"}
	}
	bases := serverBases(spec)
	opTemplates := func(op *openapi.Operation) []string {
		var ts []string
		for _, b := range bases {
			ts = append(ts, Template(strings.TrimSuffix(b, "/")+op.Path))
		}
		return ts
	}
	var fs []findings.Finding
	for _, rt := range r.routes {
		declared := slices.ContainsFunc(spec.Operations, func(op *openapi.Operation) bool {
			return slices.ContainsFunc(opTemplates(op), func(t string) bool { return serves(rt.Route, op.Method, t) })
		})
		if declared {
			continue
		}
		rule := r.byRule[RulePrefix+driftUndeclared]
		loc := r.location(rt.pkg.Fset, rt.Pos)
		method := rt.Method
		what := method + " " + rt.Path
		if method == "" {
			what = rt.Path + " (any method)"
		}
		fs = append(fs, findings.Finding{
			RuleID: rule.ID, Title: rule.Name, Severity: rule.Severity, Confidence: findings.Firm, OWASP: rule.OWASP,
			Method: method, PathTemplate: openAPIPath(rt.Path), Location: &loc, Key: method + " " + rt.Template,
			Message: fmt.Sprintf("%s route %s is not declared in %s: declare it in the spec or remove it", rt.Router, what, spec.Source),
		})
	}
	for _, op := range spec.Operations {
		ts := opTemplates(op)
		implemented := slices.ContainsFunc(r.routes, func(rt pkgRoute) bool {
			return slices.ContainsFunc(ts, func(t string) bool { return serves(rt.Route, op.Method, t) })
		})
		if implemented {
			continue
		}
		rule := r.byRule[RulePrefix+driftUnimplemented]
		ptr := "/paths/" + pointerEscaper.Replace(op.Path) + "/" + strings.ToLower(op.Method)
		_, pos := spec.Locate(ptr)
		fs = append(fs, findings.Finding{
			RuleID: rule.ID, Title: rule.Name, Severity: rule.Severity, Confidence: findings.Firm, OWASP: rule.OWASP,
			Method: op.Method, PathTemplate: op.Path, OperationID: op.Op.OperationID, Key: op.Method + " " + op.Path,
			Location: &findings.Location{File: spec.Source, Pointer: ptr, Line: pos.Line, Column: pos.Column},
			Message:  fmt.Sprintf("operation %s %s is declared in the spec but no route in the Go code serves it", op.Method, op.Path),
		})
	}
	return fs, nil
}

// serves reports whether a route serves method on the path template t
// (written with {} parameters, see Template).
func serves(rt Route, method, t string) bool {
	if rt.Method != "" && rt.Method != method && !(rt.Method == "GET" && method == "HEAD") {
		return false
	}
	if rt.Template == t {
		return true
	}
	return rt.Subtree && (rt.Template == "/" || strings.HasPrefix(t, rt.Template+"/"))
}

// serverBases returns "" and the path of each server URL of the spec
// (https://api.example.com/v1 gives /v1), so that routes registered with
// the base path match.
func serverBases(spec *openapi.Spec) []string {
	bases := []string{""}
	if spec.Doc == nil {
		return bases
	}
	for _, s := range spec.Doc.Servers {
		if s == nil {
			continue
		}
		u, err := url.Parse(s.URL)
		if err != nil || u.Path == "" || u.Path == "/" || strings.Contains(u.Path, "{") {
			continue
		}
		if !slices.Contains(bases, u.Path) {
			bases = append(bases, u.Path)
		}
	}
	return bases
}
