package golint

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// A body limit set by middleware: http.MaxBytesHandler(h, n) replaces
// every request's Body with a MaxBytesReader before h runs, so the
// handlers it serves read bounded bodies. The bodylimit analyzer finds
// them in the common shapes, within the package:
//
//	mux.Handle("POST /upload", http.MaxBytesHandler(upload, 1<<20))
//	srv := &http.Server{Handler: http.MaxBytesHandler(mux, 1<<20)}
//	http.ListenAndServe(addr, http.MaxBytesHandler(app(), 1<<20))
//
// A router is bounded when it is served wrapped and never served
// unwrapped (another http.Server, gin's Run, an unwrapped registration
// on a router that is itself served unwrapped); the routers derived from
// it (chi's Route, Group and With, gin's Group, a router handed to one of
// the package's functions or mounted on it) inherit its state. A handler
// is bounded when every registration found for it is bounded. What the
// analyzer cannot follow (other middleware around the router, another
// package) bounds nothing: the reads stay reported.

// limitState is what is known of a router or handler: served wrapped by
// http.MaxBytesHandler, served without it, or both.
type limitState struct{ wrapped, plain bool }

// handlerFn is a handler function: a declaration or a literal.
type handlerFn struct {
	pos, end token.Pos
	params   []*types.Var
}

// limitNode is a router variable (*types.Var) or a handler function
// (token.Pos of its declaration or literal).
type limitNode any

// limitFinder computes which handlers of one package are bounded.
type limitFinder struct {
	pass    *analysis.Pass
	info    *types.Info
	decls   map[*types.Func]*ast.FuncDecl
	as      assigns
	state   map[limitNode]*limitState
	fns     map[token.Pos]handlerFn
	parents map[limitNode][]*types.Var // a node is served by these routers
}

// boundedHandlers returns the handler functions of the package whose
// request bodies http.MaxBytesHandler bounds.
func boundedHandlers(pass *analysis.Pass, as assigns) []handlerFn {
	lf := &limitFinder{pass: pass, info: pass.TypesInfo, decls: funcDecls(pass), as: as,
		state: map[limitNode]*limitState{}, fns: map[token.Pos]handlerFn{}, parents: map[limitNode][]*types.Var{}}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			lf.visit(n)
			return true
		})
	}
	// Routers derived from routers: assignments of Group/With or of
	// another router.
	for v, rhs := range lf.as {
		if !isLimitRouter(v.Type()) {
			continue
		}
		for _, r := range rhs {
			if p := lf.routerVar(r, 0); p != nil && p != v {
				lf.parents[v] = append(lf.parents[v], p)
			}
		}
	}
	lf.propagate()
	// A registration on a router whose serving the analyzer cannot see
	// (a router handed in from another package, one never served here)
	// bounds nothing: it counts as served without a limit.
	for n, ps := range lf.parents {
		for _, p := range ps {
			if s := lf.state[p]; s == nil || !s.wrapped && !s.plain {
				lf.get(n).plain = true
			}
		}
	}
	lf.propagate()
	var out []handlerFn
	for pos, fn := range lf.fns {
		if s := lf.state[pos]; s != nil && s.wrapped && !s.plain {
			out = append(out, fn)
		}
	}
	return out
}

// propagate gives each node the state of the routers serving it; a few
// rounds reach nesting deeper than any real router.
func (lf *limitFinder) propagate() {
	for range 6 {
		changed := false
		for n, ps := range lf.parents {
			for _, p := range ps {
				ps := lf.state[p]
				if ps == nil {
					continue
				}
				s := lf.get(n)
				if ps.wrapped && !s.wrapped || ps.plain && !s.plain {
					s.wrapped = s.wrapped || ps.wrapped
					s.plain = s.plain || ps.plain
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}
}

func (lf *limitFinder) get(n limitNode) *limitState {
	s := lf.state[n]
	if s == nil {
		s = &limitState{}
		lf.state[n] = s
	}
	return s
}

// visit records what node n serves and registers.
func (lf *limitFinder) visit(n ast.Node) {
	info := lf.info
	switch n := n.(type) {
	case *ast.CompositeLit:
		if isNamed(info.TypeOf(n), false, "net/http", "Server") {
			for _, el := range n.Elts {
				if kv, ok := el.(*ast.KeyValueExpr); ok {
					if id, ok := kv.Key.(*ast.Ident); ok && id.Name == "Handler" {
						lf.serve(nil, kv.Value)
					}
				}
			}
		}
	case *ast.AssignStmt:
		if len(n.Lhs) == len(n.Rhs) {
			for i, l := range n.Lhs {
				if sel, ok := ast.Unparen(l).(*ast.SelectorExpr); ok && sel.Sel.Name == "Handler" && isServer(info.TypeOf(sel.X)) {
					lf.serve(nil, n.Rhs[i])
				}
			}
		}
	case *ast.CallExpr:
		lf.visitCall(n)
	}
}

// visitCall records servers started, handlers registered and routers
// handed on by a call.
func (lf *limitFinder) visitCall(call *ast.CallExpr) {
	info := lf.info
	fn := callee(info, call)
	if fn == nil {
		return
	}
	sel, _ := call.Fun.(*ast.SelectorExpr)
	recv := func() *types.Var {
		if sel == nil {
			return nil
		}
		return lf.routerVar(sel.X, 0)
	}
	switch {
	case isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS", "Serve", "ServeTLS") && len(call.Args) >= 2:
		lf.serve(nil, call.Args[1])
	case isGin(fn, "Run") || isGin(fn, "RunTLS") || isGin(fn, "RunUnix") || isGin(fn, "RunListener"):
		if v := recv(); v != nil {
			lf.get(v).plain = true
		}
	case isFunc(fn, "net/http", "Handle", "HandleFunc") && len(call.Args) == 2:
		if dm := lf.defaultMux(); dm != nil {
			lf.serve(dm, call.Args[1])
		}
	case isMethod(fn, "net/http", "ServeMux", "Handle", "HandleFunc") && len(call.Args) == 2:
		if v := recv(); v != nil {
			lf.serve(v, call.Args[1])
		}
	case lf.decls[fn] != nil:
		// A router handed to one of the package's functions.
		params := paramVars(info, lf.decls[fn].Type)
		for i, a := range call.Args {
			if i < len(params) && params[i] != nil && isLimitRouter(params[i].Type()) {
				if v := lf.routerVar(a, 0); v != nil {
					lf.parents[params[i]] = append(lf.parents[params[i]], v)
				}
			}
		}
	case sel != nil:
		lf.visitRouterCall(fn, call, recv)
	}
}

// visitRouterCall records the handlers registered and the sub-routers
// made by a method call on a chi or gin router.
func (lf *limitFinder) visitRouterCall(fn *types.Func, call *ast.CallExpr, recv func() *types.Var) {
	info := lf.info
	switch {
	case fn.Pkg() != nil && fn.Pkg().Path() == chiPath && len(call.Args) >= 2 &&
		(chiMethods[fn.Name()] != "" || fn.Name() == "Handle" || fn.Name() == "HandleFunc" || fn.Name() == "Method" ||
			fn.Name() == "MethodFunc" || fn.Name() == "Mount"):
		if v := recv(); v != nil {
			lf.serve(v, call.Args[len(call.Args)-1])
		}
	case (isChi(fn, "Route") && len(call.Args) == 2 || isChi(fn, "Group") && len(call.Args) == 1):
		if v := recv(); v != nil {
			if lit, ok := ast.Unparen(call.Args[len(call.Args)-1]).(*ast.FuncLit); ok {
				if ps := paramVars(info, lit.Type); len(ps) == 1 && ps[0] != nil {
					lf.parents[ps[0]] = append(lf.parents[ps[0]], v)
				}
			}
		}
	case fn.Pkg() != nil && fn.Pkg().Path() == ginPath && (ginMethods[fn.Name()] != "" || fn.Name() == "Any" || fn.Name() == "Handle"):
		first := 1
		if fn.Name() == "Handle" {
			first = 2
		}
		if v := recv(); v != nil {
			for _, h := range call.Args[min(first, len(call.Args)):] {
				lf.serve(v, h)
			}
		}
	}
}

// serve records that parent (a router, or nil for a server) serves the
// handler expression h.
func (lf *limitFinder) serve(parent *types.Var, h ast.Expr) {
	for _, it := range lf.resolve(h, false, 0) {
		switch {
		case it.wrapped:
			lf.get(it.node).wrapped = true
		case parent == nil:
			lf.get(it.node).plain = true
		default:
			lf.parents[it.node] = append(lf.parents[it.node], parent)
		}
	}
}

// served is a router or handler function a handler expression reaches.
type served struct {
	node    limitNode
	wrapped bool
}

// resolve returns the routers and handler functions that the handler
// expression e is, through http.MaxBytesHandler (wrapped), conversions
// such as http.HandlerFunc, local variables and the package's functions
// returning a router. Anything else (other middleware) resolves to
// nothing.
func (lf *limitFinder) resolve(e ast.Expr, wrapped bool, depth int) []served {
	if depth > 4 {
		return nil
	}
	info := lf.info
	e = ast.Unparen(e)
	if tv, ok := info.Types[e]; ok && tv.IsNil() {
		if dm := lf.defaultMux(); dm != nil {
			return []served{{dm, wrapped}}
		}
		return nil
	}
	switch e := e.(type) {
	case *ast.FuncLit:
		lf.fns[e.Pos()] = handlerFn{pos: e.Pos(), end: e.End(), params: paramVars(info, e.Type)}
		return []served{{e.Pos(), wrapped}}
	case *ast.CallExpr:
		if tv, ok := info.Types[e.Fun]; ok && tv.IsType() && len(e.Args) == 1 {
			return lf.resolve(e.Args[0], wrapped, depth+1)
		}
		fn := callee(info, e)
		if isFunc(fn, "net/http", "MaxBytesHandler") && len(e.Args) == 2 {
			return lf.resolve(e.Args[0], true, depth+1)
		}
		// Middleware, mw(h) or mw.Wrap(h), serves the handlers it is
		// given.
		var out []served
		for _, a := range e.Args {
			if lf.isHandler(info.TypeOf(a)) {
				out = append(out, lf.resolve(a, wrapped, depth+1)...)
			}
		}
		d := lf.decls[fn]
		if d == nil {
			return out
		}
		ast.Inspect(d.Body, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				return false
			}
			if ret, ok := n.(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
				out = append(out, lf.resolve(ret.Results[0], wrapped, depth+1)...)
			}
			return true
		})
		return out
	case *ast.Ident, *ast.SelectorExpr:
		id, _ := e.(*ast.Ident)
		if s, ok := e.(*ast.SelectorExpr); ok {
			id = s.Sel
		}
		if fn, ok := info.Uses[id].(*types.Func); ok {
			if d := lf.decls[fn]; d != nil {
				lf.fns[d.Pos()] = handlerFn{pos: d.Pos(), end: d.End(), params: paramVars(info, d.Type)}
				return []served{{d.Pos(), wrapped}}
			}
			return nil
		}
		v := lf.varOf(e)
		if v == nil {
			return nil
		}
		if isLimitRouter(v.Type()) {
			return []served{{v, wrapped}}
		}
		var out []served
		for _, r := range lf.as[v] {
			out = append(out, lf.resolve(r, wrapped, depth+1)...)
		}
		return out
	}
	return nil
}

// routerVar returns the router variable a router expression names:
// a variable or field, through chi's With and gin's Group.
func (lf *limitFinder) routerVar(e ast.Expr, depth int) *types.Var {
	if depth > 4 {
		return nil
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident, *ast.SelectorExpr:
		if v := lf.varOf(e); v != nil && isLimitRouter(v.Type()) {
			return v
		}
	case *ast.CallExpr:
		fn := callee(lf.info, e)
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && (isChi(fn, "With") || isGin(fn, "Group")) {
			return lf.routerVar(sel.X, depth+1)
		}
	}
	return nil
}

// varOf is objOf, and also a package-level variable of another package
// (http.DefaultServeMux).
func (lf *limitFinder) varOf(e ast.Expr) *types.Var {
	if v := objOf(lf.info, e); v != nil {
		return v
	}
	if sel, ok := ast.Unparen(e).(*ast.SelectorExpr); ok {
		v, _ := lf.info.Uses[sel.Sel].(*types.Var)
		return v
	}
	return nil
}

// defaultMux returns http.DefaultServeMux when the package imports
// net/http.
func (lf *limitFinder) defaultMux() *types.Var {
	for _, p := range lf.pass.Pkg.Imports() {
		if p.Path() == "net/http" {
			v, _ := p.Scope().Lookup("DefaultServeMux").(*types.Var)
			return v
		}
	}
	return nil
}

// isHandler reports whether values of t serve HTTP: they implement
// http.Handler, or are functions taking a ResponseWriter and a request.
func (lf *limitFinder) isHandler(t types.Type) bool {
	if t == nil {
		return false
	}
	if sig, ok := t.Underlying().(*types.Signature); ok {
		ps := sig.Params()
		return ps.Len() == 2 && isResponseWriter(ps.At(0).Type()) && isRequest(ps.At(1).Type())
	}
	for _, p := range lf.pass.Pkg.Imports() {
		if p.Path() == "net/http" {
			if h, ok := p.Scope().Lookup("Handler").(*types.TypeName); ok {
				if it, ok := h.Type().Underlying().(*types.Interface); ok {
					return types.Implements(t, it) || types.Implements(types.NewPointer(t), it)
				}
			}
		}
	}
	return false
}

// isLimitRouter reports the router types whose registrations are
// followed: *http.ServeMux and the chi and gin routers.
func isLimitRouter(t types.Type) bool {
	return isNamed(t, true, "net/http", "ServeMux") || isRouterType(t)
}
