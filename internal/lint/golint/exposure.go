package golint

import (
	"go/ast"
	"go/types"
	"slices"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// sensitive are the (normalised) field names whose values must not leave
// the server: credentials, their hashes, and the personal data that the
// DLP detectors mask (social security and card numbers).
var sensitive = map[string]bool{
	"password": true, "passwd": true, "passwordhash": true, "hashedpassword": true, "hash": true, "salt": true,
	"secret": true, "clientsecret": true, "token": true, "accesstoken": true, "refreshtoken": true,
	"apikey": true, "privatekey": true, "otpsecret": true, "totpsecret": true, "mfasecret": true,
	"ssn": true, "socialsecuritynumber": true, "cardnumber": true, "pan": true, "cvv": true, "cvc": true,
}

// isSensitive reports whether a field's JSON or Go name is sensitive.
func isSensitive(fp fieldPath) bool {
	return sensitive[normName(fp.json)] || sensitive[normName(fp.path[strings.LastIndex(fp.path, ".")+1:])]
}

// encodesParam is the fact that a function writes one of its parameters
// as JSON to an http.ResponseWriter it is given (a writeJSON helper).
type encodesParam struct {
	// Params are the indexes of the parameters written.
	Params []int
}

// AFact marks encodesParam as an analysis fact.
func (*encodesParam) AFact() {}

func (f *encodesParam) String() string { return "encodesJSON" }

// Exposure reports handlers that write a whole storage struct as JSON.
var Exposure = &analysis.Analyzer{
	Name: "exposure",
	Doc: `report whole storage structs written as JSON responses (excessive data exposure)

A struct with sensitive fields (password, hash, secret, token, ssn, card
number, ...) or with db/gorm tags (a storage model) encoded to an
http.ResponseWriter (json.NewEncoder(w).Encode, w.Write of json.Marshal)
or with gin's c.JSON sends the client everything it holds (OWASP
API3:2023). Write a response type with only the public fields, or tag the
sensitive ones json:"-". Helpers that encode a parameter (writeJSON(w,
status, v)) are followed, across packages too.`,
	URL:       "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#exposure",
	Run:       runExposure,
	FactTypes: []analysis.Fact{new(encodesParam)},
}

// exposer finds JSON responses in one package.
type exposer struct {
	pass  *analysis.Pass
	as    assigns
	local map[*types.Func][]int // this package's helpers
}

func runExposure(pass *analysis.Pass) (any, error) {
	x := &exposer{pass: pass, as: assignments(pass), local: map[*types.Func][]int{}}
	decls := funcDecls(pass)
	// Helpers first, to a fixed point (a helper may call a helper).
	for changed := true; changed; {
		changed = false
		for fn, d := range decls {
			params := paramVars(pass.TypesInfo, d.Type)
			var idx []int
			ast.Inspect(d.Body, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if v := x.written(call); v != nil {
						if i := slices.Index(params, objOf(pass.TypesInfo, v)); i >= 0 && isInterface(params[i].Type()) && !slices.Contains(idx, i) {
							idx = append(idx, i)
						}
					}
				}
				return true
			})
			if len(idx) > len(x.local[fn]) {
				slices.Sort(idx)
				x.local[fn] = idx
				changed = true
			}
		}
	}
	for fn, idx := range x.local {
		pass.ExportObjectFact(fn, &encodesParam{Params: idx})
	}
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			v := x.written(call)
			if v == nil {
				return true
			}
			s, name := structOf(pass.TypesInfo.TypeOf(v))
			if s == nil {
				return true
			}
			var hits []string
			storage := false
			for _, fp := range encodedFields(s, "", 0, nil) {
				if isSensitive(fp) {
					hits = append(hits, fp.path)
				}
				if _, ok := lookupTag(fp.tag, "db"); ok {
					storage = true
				}
				if _, ok := lookupTag(fp.tag, "gorm"); ok {
					storage = true
				}
			}
			switch {
			case len(hits) > 0:
				report(pass, call, "response writes the whole %s as JSON, sensitive %s %s included (excessive data exposure): write a response type with only the public fields, or tag the sensitive ones json:\"-\"",
					name, plural(len(hits), "field"), strings.Join(hits, ", "))
			case storage:
				report(pass, call, "response writes the storage model %s (db/gorm tags) as JSON, every column included (excessive data exposure): write a response type with only the public fields", name)
			}
			return true
		})
	}
	return nil, nil
}

// written returns the value a call writes as a JSON response, or nil.
func (x *exposer) written(call *ast.CallExpr) ast.Expr {
	info := x.pass.TypesInfo
	fn := callee(info, call)
	if fn == nil {
		return nil
	}
	sel, _ := call.Fun.(*ast.SelectorExpr)
	switch {
	case isMethod(fn, "encoding/json", "Encoder", "Encode") && sel != nil && len(call.Args) == 1:
		if x.encoderToResponse(sel.X, 0) {
			return call.Args[0]
		}
	case fn.Name() == "Write" && sel != nil && isResponseWriter(info.TypeOf(sel.X)) && len(call.Args) == 1:
		return x.marshalled(call.Args[0], 0)
	case isMethod(fn, ginPath, "Context", "JSON", "IndentedJSON", "PureJSON", "SecureJSON", "AsciiJSON") && len(call.Args) == 2:
		return call.Args[1]
	default:
		idx := x.local[fn]
		if idx == nil {
			var fact encodesParam
			if x.pass.ImportObjectFact(fn, &fact) {
				idx = fact.Params
			}
		}
		for _, i := range idx {
			if i < len(call.Args) {
				return call.Args[i]
			}
		}
	}
	return nil
}

// encoderToResponse reports whether e is a json.Encoder writing to an
// http.ResponseWriter.
func (x *exposer) encoderToResponse(e ast.Expr, depth int) bool {
	info := x.pass.TypesInfo
	if depth > 4 {
		return false
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		if isFunc(callee(info, e), "encoding/json", "NewEncoder") && len(e.Args) == 1 {
			return isResponseWriter(info.TypeOf(e.Args[0])) || isGinWriter(info.TypeOf(e.Args[0]))
		}
	case *ast.Ident:
		for _, r := range x.as[objOf(info, e)] {
			if x.encoderToResponse(r, depth+1) {
				return true
			}
		}
	}
	return false
}

// marshalled returns v when e holds json.Marshal(v) or MarshalIndent.
func (x *exposer) marshalled(e ast.Expr, depth int) ast.Expr {
	info := x.pass.TypesInfo
	if depth > 4 {
		return nil
	}
	switch e := ast.Unparen(e).(type) {
	case *ast.CallExpr:
		if isFunc(callee(info, e), "encoding/json", "Marshal", "MarshalIndent") && len(e.Args) >= 1 {
			return e.Args[0]
		}
	case *ast.Ident:
		for _, r := range x.as[objOf(info, e)] {
			if v := x.marshalled(r, depth+1); v != nil {
				return v
			}
		}
	}
	return nil
}

func isGinWriter(t types.Type) bool { return isNamed(t, false, ginPath, "ResponseWriter") }

func isInterface(t types.Type) bool { return t != nil && types.IsInterface(t) }

// paramVars lists a function type's parameters in order.
func paramVars(info *types.Info, ft *ast.FuncType) []*types.Var {
	var vs []*types.Var
	for _, f := range ft.Params.List {
		if len(f.Names) == 0 {
			vs = append(vs, nil)
		}
		for _, id := range f.Names {
			v, _ := info.Defs[id].(*types.Var)
			vs = append(vs, v)
		}
	}
	return vs
}
