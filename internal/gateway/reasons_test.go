package gateway

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var updateReasons = flag.Bool("update-reasons", false, "rewrite docs/reasons.md from the stages' Reasons")

// reasonsDoc renders docs/reasons.md.
func reasonsDoc() []byte {
	var b strings.Builder
	b.WriteString("# Denial reasons\n\n")
	b.WriteString("Every refusal by the pipeline carries a stable reason code: in the problem document's\n")
	b.WriteString("`reason` member, the access log, the audit event and the `reason` label\n")
	b.WriteString("of `rampart_requests_total`. This table is generated from the stages'\n")
	b.WriteString("`Reasons` functions by `go test ./internal/gateway -run TestReasonsDoc\n")
	b.WriteString("-update-reasons`; do not edit it by hand. The rows follow the order in\n")
	b.WriteString("which a request meets the stages.\n\n")
	b.WriteString("| reason | status | what happened | what the client should do |\n|---|---|---|---|\n")
	for _, r := range Reasons() {
		status := strconv.Itoa(r.Status)
		if t := http.StatusText(r.Status); t != "" {
			status += " " + t
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.Code, status, r.Meaning, r.Action)
	}
	return []byte(b.String())
}

func TestReasonsDoc(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "reasons.md")
	got := reasonsDoc()
	if *updateReasons {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(got) {
		t.Fatal("docs/reasons.md is stale: run go test ./internal/gateway -run TestReasonsDoc -update-reasons")
	}
}

// reasonLike matches the string literals that look like reason codes.
var reasonLike = regexp.MustCompile(`^(listener|upstream|client|firewall|route|inputs|waf|authn|authz|limits|protect)\.[a-z_]+$`)

// notReasons are literals of that shape that are something else.
var notReasons = map[string]bool{
	"limits.pre_auth": true, // the pre-authentication stage's name
}

// TestReasonsComplete: every code a stage refuses with is documented
// once, with a status a client can get, and every documented code is used.
// The code is read as the compiler does (go/ast), so a reason written as a
// literal anywhere (the anomaly detectors compare them) must be one of
// them too.
func TestReasonsComplete(t *testing.T) {
	root := filepath.Join("..")
	sc := &reasonScan{t: t, root: root, known: documentedReasons(t),
		used: map[string]bool{}, constOf: map[string]string{}, idents: map[string]bool{}}
	if err := filepath.WalkDir(root, sc.visit); err != nil {
		t.Fatal(err)
	}
	for name := range sc.idents {
		if code, ok := sc.constOf[name]; ok {
			sc.used[code] = true
		}
	}
	for _, r := range Reasons() {
		if !sc.used[r.Code] {
			t.Errorf("%s is documented but no code refuses with it", r.Code)
		}
	}
}

// documentedReasons: the codes Reasons documents, each checked to be
// documented once, with a client error or server error status, a meaning
// and an action.
func documentedReasons(t *testing.T) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, r := range Reasons() {
		if known[r.Code] {
			t.Errorf("%s is documented twice", r.Code)
		}
		known[r.Code] = true
		if r.Status < 400 || r.Status > 599 || r.Meaning == "" || r.Action == "" {
			t.Errorf("%s: status %d, meaning %q, action %q", r.Code, r.Status, r.Meaning, r.Action)
		}
	}
	return known
}

// reasonScan reads the production Go files under root for the reason
// codes they use.
type reasonScan struct {
	t     *testing.T
	root  string
	known map[string]bool // documented codes
	used  map[string]bool // codes written as literals outside the reasons.go files
	// constOf maps package.ReasonConstant to its code, from the
	// reasons.go files; idents holds the package.Reason* identifiers used
	// outside them.
	constOf map[string]string
	idents  map[string]bool
}

// visit is the filepath.WalkDirFunc: it inspects every production Go
// file.
func (sc *reasonScan) visit(path string, d os.DirEntry, err error) error {
	if err != nil {
		return err
	}
	rel, _ := filepath.Rel(sc.root, path)
	if d.IsDir() {
		switch rel {
		case "config", "scan", "findings", "openapi", "testdata":
			return filepath.SkipDir // their dotted strings are config paths and rule ids
		}
		return nil
	}
	if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
		return nil
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return err
	}
	reasonsFile := filepath.Base(path) == "reasons.go"
	pkg := f.Name.Name
	ast.Inspect(f, func(n ast.Node) bool { return sc.inspect(n, rel, pkg, reasonsFile) })
	return nil
}

// inspect is ast.Inspect's function for one node of file rel of package
// pkg.
func (sc *reasonScan) inspect(n ast.Node, rel, pkg string, reasonsFile bool) bool {
	switch n := n.(type) {
	case *ast.ValueSpec:
		if reasonsFile && len(n.Names) == 1 && len(n.Values) == 1 {
			if lit, ok := n.Values[0].(*ast.BasicLit); ok {
				code, _ := strconv.Unquote(lit.Value)
				sc.constOf[pkg+"."+n.Names[0].Name] = code
			}
		}
	case *ast.SelectorExpr:
		if x, ok := n.X.(*ast.Ident); ok && !reasonsFile && strings.HasPrefix(n.Sel.Name, "Reason") {
			sc.idents[x.Name+"."+n.Sel.Name] = true
			return false
		}
	case *ast.BasicLit:
		sc.literal(n, rel, reasonsFile)
	case *ast.Ident:
		if !reasonsFile && strings.HasPrefix(n.Name, "Reason") {
			sc.idents[pkg+"."+n.Name] = true
		}
	}
	return true
}

// literal checks a string literal that looks like a reason code is a
// documented one, and outside the reasons.go files counts it as used.
func (sc *reasonScan) literal(n *ast.BasicLit, rel string, reasonsFile bool) {
	if n.Kind != token.STRING {
		return
	}
	s, err := strconv.Unquote(n.Value)
	if err != nil || !reasonLike.MatchString(s) || notReasons[s] {
		return
	}
	if !sc.known[s] {
		sc.t.Errorf("%s: %q looks like a reason code but no Reasons function documents it", rel, s)
	}
	if !reasonsFile {
		sc.used[s] = true
	}
}
