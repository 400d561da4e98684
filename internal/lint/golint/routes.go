package golint

import (
	"go/ast"
	"go/token"
	"go/types"
	"reflect"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Route is one HTTP route registered in the code.
type Route struct {
	// Router is the router it is registered on: net/http, chi or gin.
	Router string
	// Method is the upper-case HTTP method, or "" for any method.
	Method string
	// Path is the path as registered, with the statically known prefixes
	// of chi's Route and Mount and gin's Group, in the router's own
	// syntax (/users/{id}, /users/:id).
	Path string
	// Template is Path in OpenAPI syntax with every parameter written
	// {} (see Template), for comparing with a spec.
	Template string
	// Subtree is set when the route also serves every path below it (a
	// ServeMux pattern ending in /, a chi Mount or /* route, a gin
	// *wildcard).
	Subtree bool
	// Pos is where it is registered.
	Pos token.Pos
	// HandlerPos and HandlerEnd span the handler's function (literal or
	// declaration) when it is known, else both are token.NoPos.
	HandlerPos, HandlerEnd token.Pos
}

// RouteSet is the Routes analyzer's result: the package's routes in
// source order.
type RouteSet struct {
	Routes []Route
}

// Routes finds the HTTP routes a package registers. It reports nothing;
// its result (a *RouteSet) names the operation of other findings and feeds
// the inventory-drift comparison with a spec.
var Routes = &analysis.Analyzer{
	Name: "routes",
	Doc: `find the HTTP routes registered on net/http, chi and gin routers

Recognised: (*http.ServeMux).Handle/HandleFunc and http.Handle/HandleFunc
with Go 1.22 "METHOD /path/{id}" patterns; chi's Get, Post, ...,
Method, Handle, HandleFunc, with the prefixes of Route, Group, With and
Mount when they are constant; gin's GET, POST, ..., Any, Handle with
Group prefixes. Patterns that are not constants are skipped.`,
	URL:        "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#routes",
	Run:        runRoutes,
	ResultType: reflect.TypeFor[*RouteSet](),
}

var chiMethods = map[string]string{
	"Get": "GET", "Post": "POST", "Put": "PUT", "Patch": "PATCH", "Delete": "DELETE",
	"Head": "HEAD", "Options": "OPTIONS", "Connect": "CONNECT", "Trace": "TRACE",
}

var ginMethods = map[string]string{
	"GET": "GET", "POST": "POST", "PUT": "PUT", "PATCH": "PATCH", "DELETE": "DELETE",
	"HEAD": "HEAD", "OPTIONS": "OPTIONS",
}

// routeFinder holds one package's router prefixes while routes are found.
type routeFinder struct {
	pass   *analysis.Pass
	decls  map[*types.Func]*ast.FuncDecl
	prefix map[*types.Var]string // router variables (and fields) to their path prefix
	// returns is the prefix of the routers a function returns, for
	// r.Mount("/p", newSubrouter()).
	returns map[*types.Func]string
}

func runRoutes(pass *analysis.Pass) (any, error) {
	rf := &routeFinder{pass: pass, decls: funcDecls(pass), prefix: map[*types.Var]string{}, returns: map[*types.Func]string{}}
	// Prefixes flow through assignments, Route/Group callbacks, Mount
	// and calls; a few rounds reach nesting deeper than any real router.
	for range 4 {
		changed := false
		for _, f := range pass.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if rf.bind(n) {
					changed = true
				}
				return true
			})
		}
		if !changed {
			break
		}
	}
	rs := &RouteSet{}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if r, ok := rf.route(call); ok {
					rs.Routes = append(rs.Routes, r)
				}
			}
			return true
		})
	}
	return rs, nil
}

// set records a prefix for v and reports whether it is new.
func (rf *routeFinder) set(v *types.Var, p string) bool {
	if v == nil {
		return false
	}
	if old, ok := rf.prefix[v]; ok && old == p {
		return false
	}
	if _, ok := rf.prefix[v]; ok && p == "" {
		return false
	}
	rf.prefix[v] = p
	return true
}

// prefixOf returns the path prefix of the router expression e.
func (rf *routeFinder) prefixOf(e ast.Expr) string {
	info := rf.pass.TypesInfo
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident, *ast.SelectorExpr:
		if v := objOf(info, e); v != nil {
			return rf.prefix[v]
		}
	case *ast.CallExpr:
		fn := callee(info, e)
		sel, _ := e.Fun.(*ast.SelectorExpr)
		switch {
		case fn == nil:
		case sel != nil && isChi(fn, "With"):
			return rf.prefixOf(sel.X)
		case sel != nil && isGin(fn, "Group") && len(e.Args) > 0:
			if p, ok := constString(info, e.Args[0]); ok {
				return joinPath(rf.prefixOf(sel.X), p)
			}
		default:
			if p, ok := rf.returns[fn]; ok {
				return p
			}
		}
	}
	return ""
}

// bind records the prefixes that node n gives router variables.
func (rf *routeFinder) bind(n ast.Node) bool {
	info := rf.pass.TypesInfo
	changed := false
	switch n := n.(type) {
	case *ast.AssignStmt:
		if len(n.Lhs) == len(n.Rhs) {
			for i, l := range n.Lhs {
				if isRouterType(info.TypeOf(l)) {
					if p := rf.prefixOf(n.Rhs[i]); p != "" {
						changed = rf.set(objOf(info, l), p) || changed
					}
				}
			}
		}
	case *ast.ValueSpec:
		if len(n.Names) == len(n.Values) {
			for i, id := range n.Names {
				if p := rf.prefixOf(n.Values[i]); p != "" {
					changed = rf.set(objOf(info, id), p) || changed
				}
			}
		}
	case *ast.FuncDecl:
		fn, _ := info.Defs[n.Name].(*types.Func)
		if p, ok := rf.returns[fn]; ok && n.Body != nil {
			ast.Inspect(n.Body, func(m ast.Node) bool {
				if _, ok := m.(*ast.FuncLit); ok {
					return false
				}
				if ret, ok := m.(*ast.ReturnStmt); ok && len(ret.Results) == 1 {
					changed = rf.set(objOf(info, ret.Results[0]), p) || changed
				}
				return true
			})
		}
	case *ast.CallExpr:
		changed = rf.bindCall(n)
	}
	return changed
}

// bindCall binds the prefixes of chi's Route, Group and Mount and of
// router arguments to the package's own functions.
func (rf *routeFinder) bindCall(call *ast.CallExpr) bool {
	info := rf.pass.TypesInfo
	fn := callee(info, call)
	if fn == nil {
		return false
	}
	sel, _ := call.Fun.(*ast.SelectorExpr)
	changed := false
	switch {
	case sel != nil && isChi(fn, "Route") && len(call.Args) == 2:
		if p, ok := constString(info, call.Args[0]); ok {
			changed = rf.bindCallback(call.Args[1], joinPath(rf.prefixOf(sel.X), p))
		}
	case sel != nil && isChi(fn, "Group") && len(call.Args) == 1:
		changed = rf.bindCallback(call.Args[0], rf.prefixOf(sel.X))
	case sel != nil && isChi(fn, "Mount") && len(call.Args) == 2:
		p, ok := constString(info, call.Args[0])
		if !ok {
			break
		}
		full := joinPath(rf.prefixOf(sel.X), p)
		switch h := ast.Unparen(call.Args[1]).(type) {
		case *ast.CallExpr:
			if f := callee(info, h); f != nil && rf.decls[f] != nil {
				if old, ok := rf.returns[f]; !ok || old != full {
					rf.returns[f] = full
					changed = true
				}
			}
		default:
			changed = rf.set(objOf(info, h), full)
		}
	case rf.decls[fn] != nil:
		// A router handed to one of the package's functions keeps its
		// prefix there.
		params := rf.decls[fn].Type.Params
		var vars []*types.Var
		for _, fld := range params.List {
			for _, id := range fld.Names {
				v, _ := info.Defs[id].(*types.Var)
				vars = append(vars, v)
			}
		}
		for i, a := range call.Args {
			if i < len(vars) && isRouterType(info.TypeOf(a)) {
				if p := rf.prefixOf(a); p != "" {
					changed = rf.set(vars[i], p) || changed
				}
			}
		}
	}
	return changed
}

// bindCallback gives the router parameter of a func literal a prefix.
func (rf *routeFinder) bindCallback(e ast.Expr, p string) bool {
	lit, ok := ast.Unparen(e).(*ast.FuncLit)
	if !ok || len(lit.Type.Params.List) != 1 || len(lit.Type.Params.List[0].Names) != 1 {
		return false
	}
	v, _ := rf.pass.TypesInfo.Defs[lit.Type.Params.List[0].Names[0]].(*types.Var)
	if p == "" {
		return false
	}
	return rf.set(v, p)
}

// route returns the route a call registers.
func (rf *routeFinder) route(call *ast.CallExpr) (Route, bool) {
	info := rf.pass.TypesInfo
	fn := callee(info, call)
	if fn == nil {
		return Route{}, false
	}
	sel, _ := call.Fun.(*ast.SelectorExpr)
	arg := func(i int) (string, bool) {
		if i >= len(call.Args) {
			return "", false
		}
		return constString(info, call.Args[i])
	}
	r := Route{Pos: call.Pos()}
	var handler ast.Expr
	switch {
	case isMethod(fn, "net/http", "ServeMux", "Handle", "HandleFunc") || isFunc(fn, "net/http", "Handle", "HandleFunc"):
		pat, ok := arg(0)
		if !ok || len(call.Args) != 2 {
			return Route{}, false
		}
		r.Router = "net/http"
		r.Method, r.Path = splitPattern(pat)
		r.Subtree = strings.HasSuffix(r.Path, "/")
		r.Path = strings.TrimSuffix(r.Path, "{$}")
		handler = call.Args[1]
	case sel != nil && fn.Pkg() != nil && fn.Pkg().Path() == chiPath && recvName(recvType(fn)) != "":
		var ok bool
		if handler, ok = rf.chiRoute(call, fn, sel, arg, &r); !ok {
			return Route{}, false
		}
	case sel != nil && fn.Pkg() != nil && fn.Pkg().Path() == ginPath && (ginMethods[fn.Name()] != "" || fn.Name() == "Any" || fn.Name() == "Handle"):
		r.Router = "gin"
		first := 0
		if fn.Name() == "Handle" {
			m, ok := arg(0)
			if !ok {
				return Route{}, false
			}
			r.Method = strings.ToUpper(m)
			first = 1
		} else {
			r.Method = ginMethods[fn.Name()]
		}
		p, ok := arg(first)
		if !ok || len(call.Args) < first+2 {
			return Route{}, false
		}
		r.Path = joinPath(rf.prefixOf(sel.X), p)
		if i := strings.Index(r.Path, "*"); i >= 0 {
			r.Subtree = true
			r.Path = r.Path[:i]
		}
		handler = call.Args[len(call.Args)-1]
	default:
		return Route{}, false
	}
	if r.Path == "" || r.Path[0] != '/' {
		return Route{}, false
	}
	r.Template = Template(r.Path)
	r.HandlerPos, r.HandlerEnd = rf.handlerSpan(handler)
	return r, true
}

// chiRoute fills r from a chi registration and returns its handler.
func (rf *routeFinder) chiRoute(call *ast.CallExpr, fn *types.Func, sel *ast.SelectorExpr, arg func(int) (string, bool), r *Route) (ast.Expr, bool) {
	info := rf.pass.TypesInfo
	name := fn.Name()
	r.Router = "chi"
	switch {
	case chiMethods[name] != "" && len(call.Args) == 2:
		r.Method = chiMethods[name]
		r.Path, _ = arg(0)
	case (name == "Handle" || name == "HandleFunc") && len(call.Args) == 2:
		r.Path, _ = arg(0)
	case (name == "Method" || name == "MethodFunc") && len(call.Args) == 3:
		m, ok := arg(0)
		if !ok {
			return nil, false
		}
		r.Method = strings.ToUpper(m)
		r.Path, _ = arg(1)
	case name == "Mount" && len(call.Args) == 2:
		r.Path, _ = arg(0)
		r.Subtree = true
		if isRouterType(info.TypeOf(call.Args[1])) {
			return nil, false // its own routes are found with the prefix
		}
	default:
		return nil, false
	}
	if _, ok := arg(len(call.Args) - 2); !ok {
		return nil, false
	}
	r.Path = joinPath(rf.prefixOf(sel.X), r.Path)
	if strings.HasSuffix(r.Path, "/*") {
		r.Subtree = true
		r.Path = strings.TrimSuffix(r.Path, "*")
	}
	return call.Args[len(call.Args)-1], true
}

// handlerSpan returns the extent of the function a handler expression
// names: a func literal, a function or method of the package, through
// http.HandlerFunc conversions.
func (rf *routeFinder) handlerSpan(e ast.Expr) (token.Pos, token.Pos) {
	info := rf.pass.TypesInfo
	for range 4 {
		switch h := ast.Unparen(e).(type) {
		case *ast.FuncLit:
			return h.Pos(), h.End()
		case *ast.CallExpr:
			if tv, ok := info.Types[h.Fun]; ok && tv.IsType() && len(h.Args) == 1 {
				e = h.Args[0]
				continue
			}
			return token.NoPos, token.NoPos
		case *ast.Ident, *ast.SelectorExpr:
			var id *ast.Ident
			if s, ok := h.(*ast.SelectorExpr); ok {
				id = s.Sel
			} else {
				id = h.(*ast.Ident)
			}
			if fn, ok := info.Uses[id].(*types.Func); ok {
				if d := rf.decls[fn]; d != nil {
					return d.Pos(), d.End()
				}
			}
			return token.NoPos, token.NoPos
		default:
			return token.NoPos, token.NoPos
		}
	}
	return token.NoPos, token.NoPos
}

// recvType returns a method's receiver type, or nil.
func recvType(fn *types.Func) types.Type {
	if sig, ok := fn.Type().(*types.Signature); ok && sig.Recv() != nil {
		return sig.Recv().Type()
	}
	return nil
}

// isChi reports whether fn is chi's Router or Mux method name.
func isChi(fn *types.Func, name string) bool {
	return isMethod(fn, chiPath, "Router", name) || isMethod(fn, chiPath, "Mux", name)
}

// isGin reports whether fn is gin's RouterGroup (or IRouter) method name.
func isGin(fn *types.Func, name string) bool {
	return isMethod(fn, ginPath, "RouterGroup", name) || isMethod(fn, ginPath, "IRouter", name) || isMethod(fn, ginPath, "Engine", name)
}

// isRouterType reports whether values of t are routers whose prefixes
// are tracked: chi.Router, *chi.Mux, *gin.RouterGroup, *gin.Engine,
// gin.IRouter.
func isRouterType(t types.Type) bool {
	return isNamed(t, false, chiPath, "Router") || isNamed(t, true, chiPath, "Mux") ||
		isNamed(t, true, ginPath, "RouterGroup") || isNamed(t, true, ginPath, "Engine") || isNamed(t, false, ginPath, "IRouter")
}

// splitPattern splits a ServeMux pattern "[METHOD ][HOST]/PATH" into
// its method and path.
func splitPattern(pat string) (method, path string) {
	// As net/http splits it: the method ends at the first space or tab.
	if i := strings.IndexAny(pat, " \t"); i >= 0 {
		method, pat = pat[:i], strings.TrimLeft(pat[i+1:], " \t")
	}
	if i := strings.IndexByte(pat, '/'); i > 0 {
		pat = pat[i:] // drop the host
	}
	return method, pat
}

// joinPath joins a router prefix and a path, as chi and gin do.
func joinPath(prefix, p string) string {
	if prefix == "" {
		return p
	}
	j := strings.TrimSuffix(prefix, "/") + "/" + strings.TrimPrefix(p, "/")
	if p == "" || p == "/" {
		j = strings.TrimSuffix(j, "/")
	}
	if j == "" {
		j = "/"
	}
	return j
}

// Template returns a route path in OpenAPI syntax with every parameter
// written {}: /users/{id}, /users/{id:[0-9]+}, /users/:id and
// /files/{path...} become /users/{} and /files/{}; a trailing / is
// dropped, every one (but / stays /). Two paths serve the same operation when their
// templates are equal.
func Template(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		switch {
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			segs[i] = "{}"
		case strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") && len(s) > 1:
			segs[i] = "{}"
		}
	}
	// Every trailing / goes (so that the template of a template is
	// itself), but / stays /.
	t := strings.TrimRight(strings.Join(segs, "/"), "/")
	if t == "" && strings.HasPrefix(p, "/") {
		t = "/"
	}
	return t
}
