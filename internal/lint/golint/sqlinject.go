package golint

import (
	"go/ast"
	"go/token"
	"go/types"

	"golang.org/x/tools/go/analysis"
)

// SQLInjection reports SQL text built from variables reaching database/sql.
var SQLInjection = &analysis.Analyzer{
	Name: "sqlinjection",
	Doc: `report SQL built by string concatenation or fmt.Sprintf reaching database/sql

The query argument of Query, QueryRow, Exec, Prepare (and their Context
variants) on *sql.DB, *sql.Tx and *sql.Conn, when it is built with + or
fmt.Sprintf from a value that is not a constant, directly or through a
local variable, lets the value rewrite the statement (OWASP API8:2023,
CWE-89). Pass values as arguments with placeholders ($1, ?) instead.
Constant operands (table names declared as const) are not reported.`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#sqlinjection",
	Run: runSQLInjection,
}

var sqlMethods = map[string]int{
	"Query": 0, "QueryRow": 0, "Exec": 0, "Prepare": 0,
	"QueryContext": 1, "QueryRowContext": 1, "ExecContext": 1, "PrepareContext": 1,
}

func runSQLInjection(pass *analysis.Pass) (any, error) {
	as := assignments(pass)
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			fn := callee(pass.TypesInfo, call)
			i, ok := sqlMethods[nameOf(fn)]
			if !ok || !(isMethod(fn, "database/sql", "DB", fn.Name()) || isMethod(fn, "database/sql", "Tx", fn.Name()) || isMethod(fn, "database/sql", "Conn", fn.Name())) {
				return true
			}
			if i >= len(call.Args) {
				return true
			}
			if how := built(pass.TypesInfo, as, call.Args[i], 0); how != "" {
				report(pass, call.Args[i], "SQL passed to %s is built with %s from a value that is not a constant (SQL injection): use placeholders and pass the value as an argument", fn.Name(), how)
			}
			return true
		})
	}
	return nil, nil
}

func nameOf(fn *types.Func) string {
	if fn == nil {
		return ""
	}
	return fn.Name()
}

// built says how a string expression is assembled from non-constant
// parts ("string concatenation", "fmt.Sprintf"), or "" when it is not.
func built(info *types.Info, as assigns, e ast.Expr, depth int) string {
	if depth > 6 || isConst(info, e) {
		return ""
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			return "string concatenation"
		}
	case *ast.CallExpr:
		fn := callee(info, e)
		if isFunc(fn, "fmt", "Sprintf") && len(e.Args) > 1 {
			for _, a := range e.Args[1:] {
				if !isConst(info, a) {
					return "fmt.Sprintf"
				}
			}
		}
	case *ast.Ident:
		for _, r := range as[objOf(info, e)] {
			if how := built(info, as, r, depth+1); how != "" {
				return how
			}
		}
	}
	return ""
}
