package golint

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// assigns maps each local variable (and field) of a package to the
// expressions assigned to it, flow-insensitively: x := e, x = e, var x = e
// and the first result of x, err := f(). x += e is recorded as the
// binary expression x + e.
type assigns map[*types.Var][]ast.Expr

// assignments collects the package's assignments.
func assignments(pass *analysis.Pass) assigns {
	as := assigns{}
	info := pass.TypesInfo
	add := func(l ast.Expr, r ast.Expr) {
		if v := objOf(info, l); v != nil {
			as[v] = append(as[v], r)
		}
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				switch {
				case n.Tok == token.ADD_ASSIGN && len(n.Lhs) == 1 && len(n.Rhs) == 1:
					add(n.Lhs[0], &ast.BinaryExpr{X: n.Lhs[0], OpPos: n.TokPos, Op: token.ADD, Y: n.Rhs[0]})
				case len(n.Lhs) == len(n.Rhs):
					for i := range n.Lhs {
						add(n.Lhs[i], n.Rhs[i])
					}
				case len(n.Rhs) == 1:
					add(n.Lhs[0], n.Rhs[0])
				}
			case *ast.ValueSpec:
				switch {
				case len(n.Names) == len(n.Values):
					for i := range n.Names {
						add(n.Names[i], n.Values[i])
					}
				case len(n.Values) == 1:
					add(n.Names[0], n.Values[0])
				}
			}
			return true
		})
	}
	return as
}

// bodySource reports whether e reads the incoming request's body: r.Body,
// http.MaxBytesReader(w, r.Body, n), io.LimitReader(r.Body, n), or a
// variable assigned one of them; bounded says whether a limit applies.
func bodySource(info *types.Info, as assigns, e ast.Expr, depth int) (body, bounded bool) {
	if depth > 4 {
		return false, false
	}
	e = ast.Unparen(e)
	if isRequestBody(info, e) {
		return true, false
	}
	switch e := e.(type) {
	case *ast.CallExpr:
		fn := callee(info, e)
		switch {
		case isFunc(fn, "net/http", "MaxBytesReader") && len(e.Args) == 3:
			b, _ := bodySource(info, as, e.Args[1], depth+1)
			return b, true
		case isFunc(fn, "io", "LimitReader") && len(e.Args) == 2:
			b, _ := bodySource(info, as, e.Args[0], depth+1)
			return b, true
		case isFunc(fn, "io", "NopCloser") && len(e.Args) == 1:
			return bodySource(info, as, e.Args[0], depth+1)
		}
	case *ast.Ident:
		v := objOf(info, e)
		for _, r := range as[v] {
			if b, bd := bodySource(info, as, r, depth+1); b {
				return b, bd
			}
		}
	}
	return false, false
}

// decodeTarget returns the expression a call decodes the incoming
// request's body into: json.NewDecoder(body).Decode(&v), json.Unmarshal(b,
// &v) of b := io.ReadAll(body), and gin's ShouldBindJSON, BindJSON,
// ShouldBind and Bind. The target is the argument as written (&v).
func decodeTarget(info *types.Info, as assigns, call *ast.CallExpr) (ast.Expr, bool) {
	fn := callee(info, call)
	if fn == nil || len(call.Args) == 0 {
		return nil, false
	}
	switch {
	case isMethod(fn, "encoding/json", "Decoder", "Decode"):
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if ok && decoderOfBody(info, as, sel.X, 0) {
			return call.Args[0], true
		}
	case isFunc(fn, "encoding/json", "Unmarshal") && len(call.Args) == 2:
		if readOfBody(info, as, call.Args[0], 0) {
			return call.Args[1], true
		}
	case isMethod(fn, ginPath, "Context", "ShouldBindJSON", "BindJSON", "ShouldBind", "Bind"):
		return call.Args[0], true
	}
	return nil, false
}

// decoderOfBody reports whether e is a json.Decoder reading the request
// body.
func decoderOfBody(info *types.Info, as assigns, e ast.Expr, depth int) bool {
	return holdsCallOnBody(info, as, e, depth, func(fn *types.Func) bool {
		return isFunc(fn, "encoding/json", "NewDecoder")
	})
}

// readOfBody reports whether e holds io.ReadAll of the request body.
func readOfBody(info *types.Info, as assigns, e ast.Expr, depth int) bool {
	return holdsCallOnBody(info, as, e, depth, func(fn *types.Func) bool {
		return isFunc(fn, "io", "ReadAll") || isFunc(fn, "io/ioutil", "ReadAll")
	})
}

// holdsCallOnBody reports whether e is, or a variable assigned (up to four
// hops) from, a one-argument call that is(callee) accepts, on the request
// body.
func holdsCallOnBody(info *types.Info, as assigns, e ast.Expr, depth int, is func(*types.Func) bool) bool {
	if depth > 4 {
		return false
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		if is(callee(info, e)) && len(e.Args) == 1 {
			b, _ := bodySource(info, as, e.Args[0], 0)
			return b
		}
	case *ast.Ident:
		for _, r := range as[objOf(info, e)] {
			if holdsCallOnBody(info, as, r, depth+1, is) {
				return true
			}
		}
	}
	return false
}
