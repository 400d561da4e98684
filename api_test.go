package rampart_test

import (
	"bytes"
	"flag"
	"go/ast"
	"go/build"
	"go/doc"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"testing"
)

var updateAPI = flag.Bool("update-api", false, "rewrite testdata/public-api.golden from the package rampart of today")

// TestPublicAPI holds package rampart's exported API (every declaration,
// without bodies or comments) against testdata/public-api.golden, so that
// any change to it is deliberate: run go test -run TestPublicAPI
// -update-api, and review the golden file's diff.
func TestPublicAPI(t *testing.T) {
	fset := token.NewFileSet()
	bp, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	d, err := doc.NewFromFiles(fset, files, module)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	decl := func(n ast.Node) {
		if f, ok := n.(*ast.FuncDecl); ok {
			f.Body, f.Doc = nil, nil
		}
		_ = printer.Fprint(&b, fset, n)
		b.WriteString("\n")
	}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			v.Decl.Doc = nil
			decl(v.Decl)
		}
	}
	values(d.Consts)
	values(d.Vars)
	for _, f := range d.Funcs {
		decl(f.Decl)
	}
	for _, ty := range d.Types {
		ty.Decl.Doc = nil
		for _, spec := range ty.Decl.Specs {
			stripComments(spec)
		}
		decl(ty.Decl)
		values(ty.Consts)
		values(ty.Vars)
		for _, f := range ty.Funcs {
			decl(f.Decl)
		}
		for _, m := range ty.Methods {
			decl(m.Decl)
		}
	}
	golden := filepath.Join("testdata", "public-api.golden")
	if *updateAPI {
		if err := os.WriteFile(golden, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Fatalf("package rampart's public API changed; if that is deliberate, run go test -run TestPublicAPI -update-api and commit the golden file.\ngot:\n%s\nwant:\n%s", b.Bytes(), want)
	}
}

// stripComments drops field comments from a type spec, so that only the
// shape of the API is compared.
func stripComments(spec ast.Spec) {
	ts, ok := spec.(*ast.TypeSpec)
	if !ok {
		return
	}
	ts.Doc, ts.Comment = nil, nil
	if st, ok := ts.Type.(*ast.StructType); ok {
		for _, f := range st.Fields.List {
			f.Doc, f.Comment = nil, nil
		}
	}
}
