package golint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// seedComments adds the comments of the testdata packages as seeds.
func seedComments(f *testing.F) {
	f.Helper()
	for _, file := range testdataFiles(f) {
		for _, cg := range file.Comments {
			for _, c := range cg.List {
				f.Add(c.Text)
			}
		}
	}
}

// seedStrings adds the string literals of the testdata packages (route
// patterns among them) as seeds.
func seedStrings(f *testing.F) {
	f.Helper()
	for _, file := range testdataFiles(f) {
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil {
					f.Add(s)
				}
			}
			return true
		})
	}
}

// testdataFiles parses the analyzers' testdata packages.
func testdataFiles(f *testing.F) []*ast.File {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "src", "*", "*.go"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no testdata sources: %v", err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, n := range names {
		file, err := parser.ParseFile(fset, n, nil, parser.ParseComments)
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, file)
	}
	return files
}

// FuzzParseDirective checks the //rampart:ignore parser on any comment:
// no panic; a rule is one word without the rule-id prefix; the reason is
// single-spaced, never holds //, and is empty without a rule; and a
// directive written back from what was parsed (with the long rule id)
// parses to the same rule and reason.
func FuzzParseDirective(f *testing.F) {
	seedComments(f)
	for _, s := range []string{"//rampart:ignore", "//rampart:ignore\tsqlinjection\treason", "//rampart:ignore  x  y  // z", "//rampart:ignored x y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rule, reason, ok := parseDirective(text)
		if !ok {
			if rule != "" || reason != "" {
				t.Fatalf("not a directive, but rule %q reason %q", rule, reason)
			}
			return
		}
		if !strings.HasPrefix(text, directivePrefix) {
			t.Fatalf("%q parsed as a directive", text)
		}
		if strings.ContainsFunc(rule, unicode.IsSpace) || strings.Contains(reason, "//") ||
			reason != strings.Join(strings.Fields(reason), " ") || rule == "" && reason != "" {
			t.Fatalf("%q: rule %q reason %q", text, rule, reason)
		}
		if rule == "" || strings.Contains(rule, "//") {
			return
		}
		again := directivePrefix + " " + RulePrefix + rule
		if reason != "" {
			again += " " + reason
		}
		r2, re2, ok2 := parseDirective(again)
		if !ok2 || r2 != rule || re2 != reason {
			t.Fatalf("%q -> (%q, %q); written back as %q -> (%q, %q, %v)", text, rule, reason, again, r2, re2, ok2)
		}
	})
}

// FuzzRoutePaths checks the route pattern and path functions on any
// string: no panic; a ServeMux pattern's method is one word and its path
// starts with / when the pattern has one; Template normalises
// idempotently and ignores parameter names (the OpenAPI form of a path,
// openAPIPath, has the same template, and is itself stable); joining a
// prefix keeps a leading /.
func FuzzRoutePaths(f *testing.F) {
	seedStrings(f)
	for _, s := range []string{"GET /users/{id}", "GET\t/x", "POST example.com/a/{$}", "/files/{path...}", "/items/{id:[0-9]+}",
		"/v1/users/:id", "/static/*filepath", "///", "/a*b", "/{}/", "*...", "/:/", "/{a:b/c}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		method, path := splitPattern(s)
		if strings.ContainsAny(method, " \t") {
			t.Fatalf("splitPattern(%q): method %q", s, method)
		}
		if strings.Contains(path, "/") && !strings.HasPrefix(path, "/") && !strings.Contains(method, "/") {
			t.Fatalf("splitPattern(%q): path %q does not start with /", s, path)
		}
		tm := Template(s)
		if again := Template(tm); again != tm {
			t.Fatalf("Template(%q) = %q, but Template(%q) = %q", s, tm, tm, again)
		}
		oa := openAPIPath(s)
		if got := Template(oa); got != tm {
			t.Fatalf("Template(openAPIPath(%q)) = Template(%q) = %q, want Template(%q) = %q", s, oa, got, s, tm)
		}
		if again := openAPIPath(oa); again != oa {
			t.Fatalf("openAPIPath(%q) = %q, but openAPIPath(%q) = %q", s, oa, oa, again)
		}
		if j := joinPath("/api", s); !strings.HasPrefix(j, "/") {
			t.Fatalf("joinPath(/api, %q) = %q", s, j)
		}
	})
}
