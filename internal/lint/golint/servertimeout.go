package golint

import (
	"go/ast"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// ServerTimeout reports http.Server values without read timeouts and the
// http.ListenAndServe functions, which cannot have any.
var ServerTimeout = &analysis.Analyzer{
	Name: "servertimeout",
	Doc: `report http.Server literals without ReadHeaderTimeout or ReadTimeout, and http.ListenAndServe

A server without a read or read-header timeout keeps a connection (and
its goroutine and buffers) for as long as a client takes to send its
headers: a few slow clients exhaust it (Slowloris; OWASP API4:2023).
http.ListenAndServe and ListenAndServeTLS use such a server and cannot be
given one. Set ReadHeaderTimeout (and usually ReadTimeout, WriteTimeout
and IdleTimeout) on an http.Server. A literal whose variable gets the
field assigned later is not reported.`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#servertimeout",
	Run: runServerTimeout,
}

func runServerTimeout(pass *analysis.Pass) (any, error) {
	info := pass.TypesInfo
	// Servers whose timeouts are set after the literal: srv.ReadHeaderTimeout = ...
	later := map[*types.Var]bool{}
	// The variable each literal is assigned to.
	lits := map[*ast.CompositeLit]*types.Var{}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.AssignStmt:
				for i, l := range n.Lhs {
					if sel, ok := l.(*ast.SelectorExpr); ok && (sel.Sel.Name == "ReadHeaderTimeout" || sel.Sel.Name == "ReadTimeout") && isServer(info.TypeOf(sel.X)) {
						if v := objOf(info, sel.X); v != nil {
							later[v] = true
						}
					}
					if len(n.Lhs) == len(n.Rhs) {
						if lit := serverLit(info, n.Rhs[i]); lit != nil {
							lits[lit] = objOf(info, l)
						}
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						if lit := serverLit(info, n.Values[i]); lit != nil {
							lits[lit] = objOf(info, id)
						}
					}
				}
			}
			return true
		})
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if lit := serverLit(info, n); lit != nil && !hasReadTimeout(lit) {
					if v := lits[lit]; v != nil && later[v] {
						return true
					}
					report(pass, lit, "http.Server has neither ReadHeaderTimeout nor ReadTimeout, so slow clients can hold its connections open (Slowloris): set ReadHeaderTimeout")
				}
			case *ast.CallExpr:
				if fn := callee(info, n); isFunc(fn, "net/http", "ListenAndServe", "ListenAndServeTLS") {
					report(pass, n, "http.%s serves without any timeout and cannot be given one (Slowloris): use an http.Server with ReadHeaderTimeout", fn.Name())
				}
			}
			return true
		})
	}
	return nil, nil
}

func isServer(t types.Type) bool {
	return isNamed(t, true, "net/http", "Server") || isNamed(t, false, "net/http", "Server")
}

// serverLit returns the http.Server composite literal e is (through &).
func serverLit(info *types.Info, e ast.Expr) *ast.CompositeLit {
	e = ast.Unparen(e)
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = ast.Unparen(u.X)
	}
	lit, ok := e.(*ast.CompositeLit)
	if !ok || !isNamed(info.TypeOf(lit), false, "net/http", "Server") {
		return nil
	}
	return lit
}

// hasReadTimeout reports whether a keyed literal sets a read timeout; an
// unkeyed one counts as setting it (it names every field).
func hasReadTimeout(lit *ast.CompositeLit) bool {
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if id, ok := kv.Key.(*ast.Ident); ok && (id.Name == "ReadHeaderTimeout" || id.Name == "ReadTimeout") {
			return true
		}
	}
	return false
}
