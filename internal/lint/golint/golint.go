// Package golint owns rampart lint's Go checks: golang.org/x/tools/go/analysis
// analyzers that find the HTTP routes a Go API serves (net/http ServeMux,
// chi and gin) and report the API weaknesses visible in its code (mass
// assignment, excessive data exposure, SQL injection, missing server
// timeouts, unbounded request bodies, SSRF, secrets in source), the
// //rampart:ignore suppressions, and the lint.Checker that loads a module's
// packages, runs the analyzers and compares the routes with the spec
// (inventory drift).
//
// The analyzers are ordinary analysis.Analyzers, so they also run under
// go vet -vettool (cmd/rampart-vet) and in editors. Their data flow is
// intra-procedural and deliberately simple: they prefer missing a finding
// to reporting a false one. The package does not load specs or render
// reports: openapi and findings do.
package golint

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/token"
	"go/types"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/types/typeutil"
)

// Import paths of the frameworks the analyzers know.
const (
	chiPath = "github.com/go-chi/chi/v5"
	ginPath = "github.com/gin-gonic/gin"
)

// RulePrefix is the start of every rule id this package reports.
const RulePrefix = "rampart.lint.go."

// Analyzers returns every analyzer of the package, the routes analyzer
// first. The slice is new on every call; the analyzers are shared.
func Analyzers() []*analysis.Analyzer {
	return []*analysis.Analyzer{Routes, MassAssign, Exposure, SQLInjection, ServerTimeout, BodyLimit, SSRF, Secrets, Ignore}
}

// callee returns the function or method a call invokes, or nil.
func callee(info *types.Info, call *ast.CallExpr) *types.Func {
	fn, _ := typeutil.Callee(info, call).(*types.Func)
	return fn
}

// isFunc reports whether fn is the package-level function pkg.name.
func isFunc(fn *types.Func, pkg string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != pkg {
		return false
	}
	if sig, ok := fn.Type().(*types.Signature); !ok || sig.Recv() != nil {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// isMethod reports whether fn is a method named one of names whose
// receiver is the named type pkg.recv (or a pointer to it, or the interface
// pkg.recv declaring it).
func isMethod(fn *types.Func, pkg, recv string, names ...string) bool {
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != pkg {
		return false
	}
	sig, ok := fn.Type().(*types.Signature)
	if !ok || sig.Recv() == nil {
		return false
	}
	if recvName(sig.Recv().Type()) != recv {
		return false
	}
	for _, n := range names {
		if fn.Name() == n {
			return true
		}
	}
	return false
}

// recvName is the name of a receiver's named type, through a pointer.
func recvName(t types.Type) string {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	if n, ok := types.Unalias(t).(*types.Named); ok {
		return n.Obj().Name()
	}
	return ""
}

// isNamed reports whether t (through one pointer when ptr) is pkg.name.
func isNamed(t types.Type, ptr bool, pkg, name string) bool {
	if t == nil {
		return false
	}
	if ptr {
		p, ok := types.Unalias(t).(*types.Pointer)
		if !ok {
			return false
		}
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == pkg && n.Obj().Name() == name
}

func isRequest(t types.Type) bool        { return isNamed(t, true, "net/http", "Request") }
func isResponseWriter(t types.Type) bool { return isNamed(t, false, "net/http", "ResponseWriter") }

// isRequestBody reports whether e is the body of an incoming request:
// r.Body with r a *http.Request (c.Request.Body in gin included).
func isRequestBody(info *types.Info, e ast.Expr) bool {
	sel, ok := ast.Unparen(e).(*ast.SelectorExpr)
	return ok && sel.Sel.Name == "Body" && isRequest(info.TypeOf(sel.X))
}

// constString returns e's value when e is a string constant.
func constString(info *types.Info, e ast.Expr) (string, bool) {
	tv, ok := info.Types[e]
	if !ok || tv.Value == nil || tv.Value.Kind() != constant.String {
		return "", false
	}
	return constant.StringVal(tv.Value), true
}

// isConst reports whether e is a compile-time constant.
func isConst(info *types.Info, e ast.Expr) bool {
	tv, ok := info.Types[e]
	return ok && tv.Value != nil
}

// objOf returns the variable an identifier (or field selector) names.
func objOf(info *types.Info, e ast.Expr) *types.Var {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		v, _ := info.ObjectOf(e).(*types.Var)
		return v
	case *ast.SelectorExpr:
		if sel, ok := info.Selections[e]; ok && sel.Kind() == types.FieldVal {
			v, _ := sel.Obj().(*types.Var)
			return v
		}
	}
	return nil
}

// normName lowercases a Go or JSON name and drops _ and -, so that
// IsAdmin, is_admin and is-admin compare equal.
func normName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c != '_' && c != '-' && c != ' ' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// jsonName returns the name encoding/json uses for a struct field, and
// false when encoding/json skips it (unexported or json:"-").
func jsonName(f *types.Var, tag string) (string, bool) {
	if !f.Exported() && !f.Embedded() {
		return "", false
	}
	j, ok := lookupTag(tag, "json")
	if !ok {
		return f.Name(), true
	}
	if j == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(j, ",")
	if name == "" {
		return f.Name(), true
	}
	return name, true
}

// lookupTag is reflect.StructTag.Lookup for a tag string.
func lookupTag(tag, key string) (string, bool) {
	for tag != "" {
		i := 0
		for i < len(tag) && tag[i] == ' ' {
			i++
		}
		tag = tag[i:]
		if tag == "" {
			break
		}
		i = 0
		for i < len(tag) && tag[i] > ' ' && tag[i] != ':' && tag[i] != '"' && tag[i] != 0x7f {
			i++
		}
		if i == 0 || i+1 >= len(tag) || tag[i] != ':' || tag[i+1] != '"' {
			break
		}
		name := tag[:i]
		tag = tag[i+1:]
		i = 1
		for i < len(tag) && tag[i] != '"' {
			if tag[i] == '\\' {
				i++
			}
			i++
		}
		if i >= len(tag) {
			break
		}
		qvalue := tag[:i+1]
		tag = tag[i+1:]
		if key == name {
			v, err := strconv.Unquote(qvalue)
			return v, err == nil
		}
	}
	return "", false
}

// structOf returns the struct a value of type t encodes as, through
// pointers, slices, arrays and map values, with its named type's name.
func structOf(t types.Type) (*types.Struct, string) {
	for range 8 {
		switch u := types.Unalias(t).(type) {
		case *types.Pointer:
			t = u.Elem()
		case *types.Slice:
			t = u.Elem()
		case *types.Array:
			t = u.Elem()
		case *types.Map:
			t = u.Elem()
		case *types.Named:
			s, ok := u.Underlying().(*types.Struct)
			if !ok {
				return nil, ""
			}
			return s, u.Obj().Name()
		case *types.Struct:
			return u, "struct"
		default:
			return nil, ""
		}
	}
	return nil, ""
}

// fieldPath is one encodable field of a struct, by its path from the
// top (User.Password), its JSON name and its tag.
type fieldPath struct {
	path, json, tag string
}

// encodedFields lists the fields encoding/json reads or writes in s,
// through embedded and nested structs (to a small depth).
func encodedFields(s *types.Struct, prefix string, depth int, out []fieldPath) []fieldPath {
	for i := range s.NumFields() {
		f := s.Field(i)
		tag := s.Tag(i)
		name, ok := jsonName(f, tag)
		if !ok {
			continue
		}
		p := f.Name()
		if prefix != "" {
			p = prefix + "." + f.Name()
		}
		if f.Embedded() {
			if _, tagged := lookupTag(tag, "json"); !tagged {
				if es, _ := structOf(f.Type()); es != nil && depth < 3 {
					out = encodedFields(es, prefix, depth+1, out)
				}
				continue
			}
		}
		out = append(out, fieldPath{path: p, json: name, tag: tag})
		if ns, _ := structOf(f.Type()); ns != nil && depth < 2 && !isWellKnown(f.Type()) {
			out = encodedFields(ns, p, depth+1, out)
		}
	}
	return out
}

// isWellKnown reports standard-library value types (time.Time and the
// like) whose fields are not the API's.
func isWellKnown(t types.Type) bool {
	for {
		p, ok := types.Unalias(t).(*types.Pointer)
		if !ok {
			break
		}
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	if !ok || n.Obj().Pkg() == nil {
		return false
	}
	return !strings.Contains(n.Obj().Pkg().Path(), ".")
}

// funcDecls maps the package's functions and methods to their
// declarations.
func funcDecls(pass *analysis.Pass) map[*types.Func]*ast.FuncDecl {
	m := map[*types.Func]*ast.FuncDecl{}
	for _, f := range pass.Files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				if fn, ok := pass.TypesInfo.Defs[fd.Name].(*types.Func); ok {
					m[fn] = fd
				}
			}
		}
	}
	return m
}

// isTestFile reports whether pos is in a _test.go file.
func isTestFile(pass *analysis.Pass, pos token.Pos) bool {
	return strings.HasSuffix(pass.Fset.File(pos).Name(), "_test.go")
}

// sprintf is fmt.Sprintf without args meaning no formatting.
func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// plural returns word, with an s unless n is 1.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
