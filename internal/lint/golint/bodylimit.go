package golint

import (
	"go/ast"
	"go/token"
	"go/types"
	"slices"

	"golang.org/x/tools/go/analysis"
)

// BodyLimit reports request bodies read whole without a bound.
var BodyLimit = &analysis.Analyzer{
	Name: "bodylimit",
	Doc: `report request bodies read without a bound

io.ReadAll(r.Body) and json.NewDecoder(r.Body) read as much as the client
sends, into memory: one large request exhausts the server (OWASP
API4:2023). Wrap the body first, r.Body = http.MaxBytesReader(w, r.Body,
n), or read io.LimitReader(r.Body, n). A function that assigns
http.MaxBytesReader to the same request's Body is not reported, nor a
handler served through http.MaxBytesHandler (wrapped at its
registration, or its router wrapped where an http.Server or
ListenAndServe serves it).`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#bodylimit",
	Run: runBodyLimit,
}

func runBodyLimit(pass *analysis.Pass) (any, error) {
	info := pass.TypesInfo
	limited := boundedHandlers(pass, assignments(pass))
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			// Requests whose Body this function bounds: r.Body = http.MaxBytesReader(...).
			bounded := map[*types.Var]token.Pos{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if a, ok := n.(*ast.AssignStmt); ok && len(a.Lhs) == len(a.Rhs) {
					for i, l := range a.Lhs {
						if isRequestBody(info, l) {
							if c, ok := ast.Unparen(a.Rhs[i]).(*ast.CallExpr); ok && isFunc(callee(info, c), "net/http", "MaxBytesReader") {
								if v := objOf(info, l.(*ast.SelectorExpr).X); v != nil {
									bounded[v] = a.Pos()
								}
							}
						}
					}
				}
				return true
			})
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 1 {
					return true
				}
				fn := callee(info, call)
				what := ""
				switch {
				case isFunc(fn, "io", "ReadAll"), isFunc(fn, "io/ioutil", "ReadAll"):
					what = fn.Pkg().Name() + ".ReadAll"
				case isFunc(fn, "encoding/json", "NewDecoder"):
					what = "json.NewDecoder"
				default:
					return true
				}
				arg := ast.Unparen(call.Args[0])
				if !isRequestBody(info, arg) {
					return true
				}
				if v := objOf(info, arg.(*ast.SelectorExpr).X); v != nil {
					if p, ok := bounded[v]; ok && p < call.Pos() {
						return true
					}
				}
				if inBoundedHandler(info, limited, call, arg.(*ast.SelectorExpr).X) {
					return true
				}
				report(pass, call, "%s reads the request body without a bound, so one large request exhausts memory: wrap it with http.MaxBytesReader or io.LimitReader", what)
				return true
			})
		}
	}
	return nil, nil
}

// inBoundedHandler reports whether call is in a handler that
// http.MaxBytesHandler bounds and req (r, or gin's c.Request) is that
// handler's own request.
func inBoundedHandler(info *types.Info, limited []handlerFn, call *ast.CallExpr, req ast.Expr) bool {
	root := ast.Unparen(req)
	for {
		sel, ok := root.(*ast.SelectorExpr)
		if !ok {
			break
		}
		root = ast.Unparen(sel.X)
	}
	id, ok := root.(*ast.Ident)
	if !ok {
		return false
	}
	v, _ := info.Uses[id].(*types.Var)
	if v == nil {
		return false
	}
	for _, h := range limited {
		if h.pos <= call.Pos() && call.End() <= h.end && slices.Contains(h.params, v) {
			return true
		}
	}
	return false
}
