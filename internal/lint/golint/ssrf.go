package golint

import (
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// SSRF reports outbound requests whose URL comes from the incoming request.
var SSRF = &analysis.Analyzer{
	Name: "ssrf",
	Doc: `report outbound requests whose URL comes from the incoming request (SSRF)

The URL of http.Get, Head, Post, PostForm (on http or an *http.Client) and
http.NewRequest(WithContext), when it is taken from the incoming request
(r.URL.Query(), r.FormValue, r.PathValue, a decoded body, chi.URLParam,
gin's c.Query, c.Param, c.PostForm, ShouldBindJSON), lets the client make
the server call any host, internal ones and cloud metadata included
(OWASP API7:2023). Pick the upstream from an allowlist keyed by the
client's choice instead. The data flow follows local variables, + and
fmt.Sprintf, url.Parse and url.URL values; any other function call, a map
lookup and a variable checked in an if that returns end it.`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#ssrf",
	Run: runSSRF,
}

// tainter tracks the values of one package that come from requests.
type tainter struct {
	info      *types.Info
	as        assigns
	tainted   map[*types.Var]bool
	sanitized map[*types.Var]bool
}

func runSSRF(pass *analysis.Pass) (any, error) {
	t := &tainter{info: pass.TypesInfo, as: assignments(pass), tainted: map[*types.Var]bool{}, sanitized: map[*types.Var]bool{}}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.IfStmt:
				if returns(n.Body) {
					t.checkedIn(n.Cond)
				}
			case *ast.CallExpr:
				// A body decoded into v makes v's fields the client's.
				if target, ok := decodeTarget(t.info, t.as, n); ok {
					if v := objOf(t.info, stripAddr(target)); v != nil {
						t.tainted[v] = true
					}
				}
			}
			return true
		})
	}
	// Flow-insensitive propagation over assignments to a fixed point.
	for changed := true; changed; {
		changed = false
		for v, rs := range t.as {
			if t.tainted[v] || t.sanitized[v] {
				continue
			}
			for _, r := range rs {
				if t.expr(r, 0) {
					t.tainted[v] = true
					changed = true
					break
				}
			}
		}
		for _, f := range pass.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if rs, ok := n.(*ast.RangeStmt); ok && rs.Value != nil && t.expr(rs.X, 0) {
					if v := objOf(t.info, rs.Value); v != nil && !t.tainted[v] && !t.sanitized[v] {
						t.tainted[v] = true
						changed = true
					}
				}
				return true
			})
		}
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn := callee(t.info, call)
			i := -1
			switch {
			case isFunc(fn, "net/http", "Get", "Head", "Post", "PostForm"), isMethod(fn, "net/http", "Client", "Get", "Head", "Post", "PostForm"):
				i = 0
			case isFunc(fn, "net/http", "NewRequest"):
				i = 1
			case isFunc(fn, "net/http", "NewRequestWithContext"):
				i = 2
			}
			if i >= 0 && i < len(call.Args) && t.expr(call.Args[i], 0) {
				report(pass, call.Args[i], "URL of the outbound request (%s) comes from the incoming request, so the client chooses which host the server calls (SSRF): choose the upstream from an allowlist", fn.Name())
			}
			return true
		})
	}
	return nil, nil
}

// stripAddr returns x for &x.
func stripAddr(e ast.Expr) ast.Expr {
	if u, ok := ast.Unparen(e).(*ast.UnaryExpr); ok && u.Op == token.AND {
		return u.X
	}
	return e
}

// returns reports whether a block ends by leaving the function (or loop).
func returns(b *ast.BlockStmt) bool {
	if len(b.List) == 0 {
		return false
	}
	switch s := b.List[len(b.List)-1].(type) {
	case *ast.ReturnStmt:
		return true
	case *ast.BranchStmt:
		return s.Tok == token.CONTINUE || s.Tok == token.BREAK
	case *ast.ExprStmt:
		if c, ok := s.X.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "panic" {
				return true
			}
		}
	}
	return false
}

// checkedIn marks the variables a condition validates: compared with
// something other than "" or nil, or passed to a function.
func (t *tainter) checkedIn(cond ast.Expr) {
	ast.Inspect(cond, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				if !t.emptyOrNil(n.X) && !t.emptyOrNil(n.Y) {
					t.markRoot(n.X)
					t.markRoot(n.Y)
				}
			}
		case *ast.CallExpr:
			for _, a := range n.Args {
				t.markRoot(a)
			}
		case *ast.IndexExpr:
			t.markRoot(n.Index) // allowed[host]
		}
		return true
	})
}

func (t *tainter) emptyOrNil(e ast.Expr) bool {
	tv, ok := t.info.Types[e]
	if ok && tv.IsNil() {
		return true
	}
	return ok && tv.Value != nil && tv.Value.Kind() == constant.String && constant.StringVal(tv.Value) == ""
}

// markRoot marks the variable at the root of x, x.Host, x.Hostname().
func (t *tainter) markRoot(e ast.Expr) {
	for range 4 {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			if v := objOf(t.info, x); v != nil {
				t.sanitized[v] = true
			}
			return
		case *ast.SelectorExpr:
			e = x.X
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok {
				return
			}
			e = sel.X
		default:
			return
		}
	}
}

// expr reports whether e carries data from an incoming request.
func (t *tainter) expr(e ast.Expr, depth int) bool {
	if depth > 8 || e == nil || isConst(t.info, e) {
		return false
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		v := objOf(t.info, e)
		return v != nil && t.tainted[v] && !t.sanitized[v]
	case *ast.SelectorExpr:
		if isRequestBody(t.info, e) {
			return true
		}
		if v := objOf(t.info, e.X); v != nil && t.sanitized[v] {
			return false
		}
		if _, ok := t.info.Selections[e]; ok {
			return t.expr(e.X, depth+1)
		}
	case *ast.BinaryExpr:
		return e.Op == token.ADD && (t.expr(e.X, depth+1) || t.expr(e.Y, depth+1))
	case *ast.StarExpr:
		return t.expr(e.X, depth+1)
	case *ast.UnaryExpr:
		return e.Op == token.AND && t.expr(e.X, depth+1)
	case *ast.IndexExpr:
		// A slice element of tainted data; never a map lookup (an allowlist).
		if _, isMap := t.info.TypeOf(e.X).Underlying().(*types.Map); !isMap {
			return t.expr(e.X, depth+1)
		}
	case *ast.CompositeLit:
		for _, el := range e.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				el = kv.Value
			}
			if t.expr(el, depth+1) {
				return true
			}
		}
	case *ast.CallExpr:
		return t.call(e, depth)
	}
	return false
}

// call reports whether a call's result carries request data: a source,
// or a propagator with a tainted argument or receiver.
func (t *tainter) call(c *ast.CallExpr, depth int) bool {
	fn := callee(t.info, c)
	if fn == nil {
		return false
	}
	sel, _ := c.Fun.(*ast.SelectorExpr)
	recvReq := sel != nil && isRequest(t.info.TypeOf(sel.X))
	switch {
	// Sources.
	case recvReq && (fn.Name() == "FormValue" || fn.Name() == "PostFormValue" || fn.Name() == "PathValue"):
		return true
	case isMethod(fn, "net/url", "Values", "Get") && sel != nil && t.fromRequest(sel.X):
		return true
	case isFunc(fn, chiPath, "URLParam", "URLParamFromCtx"):
		return true
	case isMethod(fn, ginPath, "Context", "Query", "DefaultQuery", "Param", "PostForm", "DefaultPostForm", "GetQuery", "GetPostForm"):
		return true
	// Propagators.
	case isFunc(fn, "fmt", "Sprintf"), isFunc(fn, "net/url", "Parse", "ParseRequestURI", "JoinPath", "PathUnescape", "QueryUnescape"),
		isFunc(fn, "strings", "TrimSpace", "ToLower", "TrimPrefix", "TrimSuffix", "Trim", "Replace", "ReplaceAll"),
		isFunc(fn, "io", "ReadAll"), isFunc(fn, "encoding/json", "NewDecoder"):
		for _, a := range c.Args {
			if t.expr(a, depth+1) {
				return true
			}
		}
	case sel != nil && fn.Pkg() != nil && fn.Pkg().Path() == "net/url" && recvName(recvType(fn)) == "URL":
		return t.expr(sel.X, depth+1) // u.String(), u.JoinPath(...), u.ResolveReference
	}
	return false
}

// fromRequest reports whether e is r.URL.Query(), r.Form or r.PostForm.
func (t *tainter) fromRequest(e ast.Expr) bool {
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if ok && sel.Sel.Name == "Query" {
			if u, ok := ast.Unparen(sel.X).(*ast.SelectorExpr); ok && u.Sel.Name == "URL" && isRequest(t.info.TypeOf(u.X)) {
				return true
			}
		}
	case *ast.SelectorExpr:
		return (e.Sel.Name == "Form" || e.Sel.Name == "PostForm") && isRequest(t.info.TypeOf(e.X))
	case *ast.Ident:
		return t.expr(e, 0) || t.queryVar(e)
	}
	return false
}

// queryVar reports whether an identifier holds r.URL.Query().
func (t *tainter) queryVar(id *ast.Ident) bool {
	for _, r := range t.as[objOf(t.info, id)] {
		if _, isIdent := ast.Unparen(r).(*ast.Ident); !isIdent && t.fromRequest(r) {
			return true
		}
	}
	return false
}
