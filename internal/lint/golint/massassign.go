package golint

import (
	"go/ast"
	"go/types"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// privileged are the (normalised) names of properties a client must not
// set on itself: who it is, what it may do, what it owns, what it has.
var privileged = map[string]bool{
	"role": true, "roles": true, "admin": true, "isadmin": true, "superuser": true, "issuperuser": true,
	"isstaff": true, "owner": true, "ownerid": true, "permission": true, "permissions": true,
	"balance": true, "isverified": true, "emailverified": true,
}

// MassAssign reports handlers that decode a request body into a struct
// with privileged properties.
var MassAssign = &analysis.Analyzer{
	Name: "massassign",
	Doc: `report request bodies decoded into structs with privileged fields (mass assignment)

A handler that decodes the request body (json.NewDecoder(r.Body).Decode,
json.Unmarshal of io.ReadAll(r.Body), gin's ShouldBindJSON and BindJSON)
into a struct with a field such as role, admin, is_admin, owner,
permissions or balance (by Go name or json tag) lets the client set that
field (OWASP API3:2023). Decode into a request type holding only what the
client may set, or tag the field json:"-". A body decoded into a map is
reported where a value of the map is assigned to such a field (u.Role =
patch["role"], or in a range over the map).`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#massassign",
	Run: runMassAssign,
}

func runMassAssign(pass *analysis.Pass) (any, error) {
	as := assignments(pass)
	mapsDone := map[*types.Var]bool{} // decoded maps whose copies are reported
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			target, ok := decodeTarget(pass.TypesInfo, as, call)
			if !ok {
				return true
			}
			if m := decodedMap(pass.TypesInfo, target); m != nil {
				if !mapsDone[m] {
					mapsDone[m] = true
					reportMapCopies(pass, enclosingBody(f, call), m)
				}
				return true
			}
			s, name := structOf(pass.TypesInfo.TypeOf(target))
			if s == nil {
				return true
			}
			var hits []string
			for _, fp := range encodedFields(s, "", 0, nil) {
				if privileged[normName(fp.json)] || privileged[normName(fp.path[strings.LastIndex(fp.path, ".")+1:])] {
					hits = append(hits, fp.path)
				}
			}
			if len(hits) > 0 {
				report(pass, call, "request body is decoded into %s, whose privileged %s %s the client can then set (mass assignment): decode into a type without them or tag them json:\"-\"",
					name, plural(len(hits), "field"), strings.Join(hits, ", "))
			}
			return true
		})
	}
	return nil, nil
}

// decodedMap returns the map variable a decode target names (&m or m,
// with m a map), or nil.
func decodedMap(info *types.Info, target ast.Expr) *types.Var {
	e := ast.Unparen(target)
	if u, ok := e.(*ast.UnaryExpr); ok {
		e = ast.Unparen(u.X)
	}
	v := objOf(info, e)
	if v == nil {
		return nil
	}
	if _, ok := v.Type().Underlying().(*types.Map); !ok {
		return nil
	}
	return v
}

// enclosingBody returns the body of the function declaration in f that
// holds n, or nil.
func enclosingBody(f *ast.File, n ast.Node) *ast.BlockStmt {
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil && fd.Pos() <= n.Pos() && n.End() <= fd.End() {
			return fd.Body
		}
	}
	return nil
}

// reportMapCopies reports, in body, the assignments of a value of the
// decoded map m to a privileged struct field: x.Role = m["role"], and
// x.Role = v in a range over m whose value is v.
func reportMapCopies(pass *analysis.Pass, body *ast.BlockStmt, m *types.Var) {
	if body == nil {
		return
	}
	info := pass.TypesInfo
	values := map[*types.Var]bool{} // the value variables of ranges over m
	var fromMap func(e ast.Expr) bool
	fromMap = func(e ast.Expr) bool {
		switch e := ast.Unparen(e).(type) {
		case *ast.IndexExpr:
			return objOf(info, e.X) == m
		case *ast.TypeAssertExpr: // patch["role"].(string)
			return fromMap(e.X)
		case *ast.Ident:
			return values[objOf(info, e)]
		}
		return false
	}
	// pairs are the (left, right) pairs of an assignment, the comma-ok
	// forms (v, ok := m[k], v, ok := x.(T)) pairing the first left side
	// with the one right side.
	pairs := func(as *ast.AssignStmt) [][2]ast.Expr {
		if len(as.Lhs) == len(as.Rhs) {
			out := make([][2]ast.Expr, len(as.Lhs))
			for i := range as.Lhs {
				out[i] = [2]ast.Expr{as.Lhs[i], as.Rhs[i]}
			}
			return out
		}
		if len(as.Lhs) == 2 && len(as.Rhs) == 1 {
			return [][2]ast.Expr{{as.Lhs[0], as.Rhs[0]}}
		}
		return nil
	}
	// The variables holding a value of m: range values and variables
	// assigned from m (role := patch["role"]), to a fixed point.
	for range 4 {
		grew := false
		mark := func(e ast.Expr) {
			if v := objOf(info, e); v != nil && !values[v] {
				values[v] = true
				grew = true
			}
		}
		ast.Inspect(body, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.RangeStmt:
				if objOf(info, n.X) == m && n.Value != nil {
					mark(n.Value)
				}
			case *ast.AssignStmt:
				for _, p := range pairs(n) {
					if _, isIdent := ast.Unparen(p[0]).(*ast.Ident); isIdent && fromMap(p[1]) {
						mark(p[0])
					}
				}
			}
			return true
		})
		if !grew {
			break
		}
	}
	ast.Inspect(body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok {
			return true
		}
		for _, p := range pairs(as) {
			l := p[0]
			if !fromMap(p[1]) {
				continue
			}
			if path, ok := privilegedField(info, l); ok {
				report(pass, as, "a value of the request body (decoded into map %s) is assigned to the privileged field %s, so the client can set it (mass assignment): copy only the fields the client may set", m.Name(), path)
			}
		}
		return true
	})
}

// privilegedField reports whether e selects a privileged struct field
// (by Go name or json name), and names it Type.Field.
func privilegedField(info *types.Info, e ast.Expr) (string, bool) {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	selection, ok := info.Selections[sel]
	if !ok || selection.Kind() != types.FieldVal {
		return "", false
	}
	f, _ := selection.Obj().(*types.Var)
	s, typeName := structOf(info.TypeOf(sel.X))
	if f == nil || s == nil {
		return "", false
	}
	tag := ""
	for i := range s.NumFields() {
		if s.Field(i) == f {
			tag = s.Tag(i)
		}
	}
	name, _ := jsonName(f, tag)
	if !privileged[normName(f.Name())] && (name == "" || !privileged[normName(name)]) {
		return "", false
	}
	return typeName + "." + f.Name(), true
}
