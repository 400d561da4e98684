// Package rampart_test holds the architecture tests: which package may
// import which, and that every package says what it owns.
package rampart_test

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/rampart-gw/rampart"

// packages returns every package directory of the module (bench/tools and
// examples/middleware are modules of their own and are skipped).
func packages(t *testing.T) map[string]*build.Package {
	t.Helper()
	pkgs := map[string]*build.Package{}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == "bench") {
			return filepath.SkipDir
		}
		if d.IsDir() && path != "." {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own (examples/middleware)
			}
		}
		if !d.IsDir() {
			return nil
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		if len(p.GoFiles) > 0 {
			pkgs[strings.TrimSuffix(module+"/"+filepath.ToSlash(path), "/.")] = p
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

func isStd(imp string) bool { return !strings.Contains(strings.Split(imp, "/")[0], ".") }

// stages are the pipeline stage packages: they may import the shared
// vocabulary but never each other or the assembly.
var stages = []string{"client", "firewall", "route", "inputs", "authn", "authz", "limits", "idtoken", "secheaders", "proxy"}

// rules says, for each package, which module-internal packages and which
// third-party modules it may import. Anything not listed is refused.
var rules = map[string]struct {
	internal []string
	external []string
}{
	"internal/config":           {[]string{"jsonpath"}, []string{"go.yaml.in/yaml/v3"}},
	"internal/dlp":              {nil, nil},
	"internal/jsonpath":         {nil, nil},
	"internal/jsonbody":         {[]string{"jsonpath"}, nil},
	"internal/keyring":          {[]string{"background", "secretfile", "store"}, []string{"github.com/hashicorp/golang-lru/v2"}},
	"internal/store/storetest":  {[]string{"config", "store"}, nil},
	"internal/protect":          {[]string{"config", "dlp", "jsonbody", "jsonpath", "keyring", "pipeline"}, nil},
	"internal/pipeline":         {nil, nil},
	"internal/pathnorm":         {nil, nil},
	"internal/problem":          {nil, nil},
	"internal/client":           {[]string{"config", "pipeline"}, nil},
	"internal/route":            {[]string{"config", "pipeline", "pathnorm"}, nil},
	"internal/authn":            {[]string{"config", "pipeline"}, nil},
	"internal/authz":            {[]string{"config", "jsonbody", "pipeline"}, []string{"github.com/cedar-policy/cedar-go"}},
	"internal/authn/introspect": {[]string{"authn", "config", "pipeline", "trust"}, []string{"golang.org/x/sync/singleflight"}},
	"internal/authn/mtlsauth":   {[]string{"authn", "config", "pipeline"}, nil},
	"internal/authn/apikeyauth": {[]string{"apikey", "authn", "background", "config", "pipeline", "store"}, []string{"github.com/hashicorp/golang-lru/v2"}},
	"internal/apikey":           {[]string{"secretfile", "store"}, nil},
	"internal/store":            {[]string{"config"}, []string{"github.com/jackc/pgx/v5", "modernc.org/sqlite"}},
	"internal/authn/jwtauth": {[]string{"authn", "background", "config", "jsonbody", "pipeline", "trust"},
		[]string{"github.com/go-jose/go-jose/v4", "golang.org/x/sync/singleflight"}},
	"internal/secheaders": {[]string{"config", "pipeline"}, nil},
	"internal/proxy":      {[]string{"config", "pipeline", "trust"}, nil},
	"internal/trust":      {nil, nil},
	"internal/secretfile": {nil, nil},
	// Background loops and their clock: the only place clockwork enters
	// production code.
	"internal/background":                {nil, []string{"github.com/jonboulle/clockwork"}},
	"internal/background/backgroundtest": {[]string{"background"}, []string{"github.com/jonboulle/clockwork"}},
	"internal/redisconn":                 {[]string{"config", "trust"}, []string{"github.com/redis/go-redis/v9"}},
	"internal/redistest":                 {[]string{"background/backgroundtest"}, nil},
	"internal/faultnet":                  {nil, nil},
	"internal/audit":                     {[]string{"background", "config", "pipeline", "secretfile", "trust"}, []string{"github.com/transparency-dev/formats", "golang.org/x/mod/sumdb"}},
	"internal/witness":                   {[]string{"audit", "config", "trust"}, []string{"github.com/transparency-dev/formats", "golang.org/x/mod/sumdb"}},
	"internal/anomaly":                   {[]string{"config", "pipeline"}, nil},
	"internal/signing":                   {[]string{"background", "secretfile", "store"}, []string{"github.com/go-jose/go-jose/v4"}},
	"internal/idtoken":                   {[]string{"config", "pipeline", "signing"}, []string{"github.com/go-jose/go-jose/v4"}},
	"internal/tokens":                    {[]string{"apikey", "authn", "background", "config", "pipeline", "signing", "store"}, []string{"github.com/go-jose/go-jose/v4"}},
	"internal/firewall":                  {[]string{"background", "config", "pipeline"}, []string{"github.com/redis/go-redis/v9", "go4.org/netipx"}},
	"internal/limits":                    {[]string{"config", "jsonbody", "pipeline"}, []string{"github.com/redis/go-redis/v9"}},
	"internal/engine":                    {[]string{"pipeline", "problem"}, nil},
	// The engine conformance suite: raw bytes in, the wire checked on
	// both sides; it knows no engine (tests hand it one).
	"internal/engine/enginetest": {nil, nil},
	// The inputs stage: the contract and the WAF, per route.
	"internal/inputs": {[]string{"config", "contract", "openapi", "pipeline", "waf"}, nil},
	// The WAF: the only package that imports Coraza and the CRS.
	"internal/waf":       {nil, []string{"github.com/corazawaf/coraza/v3", "github.com/corazawaf/coraza-coreruleset/v4"}},
	"internal/accesslog": {[]string{"background", "pipeline"}, nil},
	"internal/metrics":   {[]string{"pipeline"}, []string{"github.com/prometheus/client_golang"}},
	"internal/admin":     {[]string{"apikey", "firewall", "keyring", "problem", "secretfile", "store", "trust"}, []string{"github.com/prometheus/client_golang"}},
	"internal/tlsconf":   {[]string{"background", "config", "secretfile", "trust"}, nil},
	"internal/acme":      {[]string{"config", "trust"}, []string{"github.com/caddyserver/certmagic", "github.com/mholt/acmez", "go.uber.org/zap"}},
	"internal/server":    {[]string{"config"}, nil},
	"internal/gateway": {[]string{"authn", "authn/apikeyauth", "authn/introspect", "authn/jwtauth", "authn/mtlsauth", "authz", "background", "client", "config", "engine", "firewall", "idtoken", "inputs", "keyring", "limits", "metrics", "pipeline",
		"protect", "proxy", "route", "secheaders", "signing", "store", "tokens"}, nil},
	"internal/gateway/gatewaytest": {[]string{"config"}, nil},
	// The lifecycle opens the process's resources and serves; it builds
	// no pipeline of its own.
	"internal/lifecycle": {[]string{"accesslog", "acme", "admin", "anomaly", "apikey", "audit", "background", "client", "config", "dlp", "firewall", "gateway", "keyring", "limits", "metrics", "pipeline",
		"redisconn", "server", "signing", "store", "tlsconf", "tokens", "witness"}, nil},
	// The toolkit: nothing on the request path imports it, but for the
	// spec loader (see specLoaderUsers).
	"internal/openapi": {[]string{"yamlpos"}, []string{"github.com/getkin/kin-openapi"}},
	// The API's OpenAPI contract at the gateway: specs compiled with the
	// toolkit's loader, checked with kin-openapi (3.0) and jsonschema (3.1).
	"internal/contract":        {[]string{"openapi"}, []string{"github.com/getkin/kin-openapi", "github.com/santhosh-tekuri/jsonschema/v6"}},
	"internal/yamlpos":         {nil, []string{"go.yaml.in/yaml/v3"}},
	"internal/lint":            {[]string{"config", "findings", "openapi", "yamlpos"}, []string{"go.yaml.in/yaml/v3"}},
	"internal/lint/speclint":   {[]string{"dlp", "findings", "lint", "openapi", "yamlpos"}, []string{"github.com/getkin/kin-openapi"}},
	"internal/lint/golint":     {[]string{"dlp", "findings", "lint", "openapi"}, []string{"golang.org/x/tools"}},
	"cmd/rampart-vet":          {[]string{"lint/golint"}, []string{"golang.org/x/tools"}},
	"internal/lint/configlint": {[]string{"config", "dlp", "findings", "lint", "openapi", "yamlpos"}, []string{"github.com/getkin/kin-openapi"}},
	"internal/findings":        {nil, nil},
	// Routes from a spec, for rampart config import-openapi.
	"internal/specimport": {[]string{"config", "openapi", "yamlpos"}, []string{"github.com/getkin/kin-openapi", "go.yaml.in/yaml/v3"}},
	// Test helpers for reports: the SARIF schema, embedded.
	"internal/findings/findingstest":      {nil, []string{"github.com/santhosh-tekuri/jsonschema/v6"}},
	"internal/cliout":                     {nil, nil},
	"internal/demo":                       {[]string{"apikey", "config", "lifecycle", "secretfile", "store"}, []string{"github.com/go-jose/go-jose/v4"}},
	"internal/scan":                       {[]string{"dlp", "findings", "jsonpath", "openapi"}, []string{"github.com/getkin/kin-openapi", "go.yaml.in/yaml/v3", "golang.org/x/oauth2"}},
	"internal/scan/authz":                 {[]string{"findings", "scan"}, nil},
	"internal/scan/authn":                 {[]string{"findings", "scan"}, nil},
	"internal/scan/exposure":              {[]string{"dlp", "findings", "scan"}, []string{"github.com/getkin/kin-openapi"}},
	"internal/scan/limits":                {[]string{"findings", "scan"}, nil},
	"internal/scan/scantest":              {nil, []string{"modernc.org/sqlite"}},
	"internal/scan/misconfig":             {[]string{"findings", "scan", "scan/tlsprobe"}, nil},
	"internal/scan/tlsprobe":              {nil, nil},
	"internal/scan/tlsprobe/tlsprobetest": {[]string{"background/backgroundtest"}, nil},
	"internal/scan/ssrf":                  {[]string{"findings", "scan"}, []string{"github.com/getkin/kin-openapi"}},
	"internal/scan/injection":             {[]string{"findings", "scan"}, nil},
	"internal/scan/inventory":             {[]string{"findings", "scan"}, nil},
	"internal/scan/flows":                 {[]string{"findings", "scan", "scan/limits"}, nil},
	"internal/scan/suite":                 {[]string{"findings", "scan", "scan/authn", "scan/authz", "scan/exposure", "scan/flows", "scan/injection", "scan/inventory", "scan/limits", "scan/misconfig", "scan/ssrf"}, nil},
	// The public middleware API: the only package outside internal/.
	"": {[]string{"config", "gateway", "lifecycle", "pipeline"}, []string{"github.com/prometheus/client_golang"}},
	"cmd/rampart": {[]string{"admin", "apikey", "audit", "cliout", "config", "demo", "findings", "gateway", "keyring", "lifecycle", "lint", "lint/configlint", "lint/golint", "lint/speclint", "openapi", "pipeline", "scan", "scan/suite", "specimport", "store", "witness", "yamlpos"},
		[]string{"github.com/spf13/cobra", "github.com/transparency-dev/formats/note", "golang.org/x/mod/sumdb/note"}},
}

func TestImportRules(t *testing.T) {
	pkgs := packages(t)
	if len(pkgs) < 15 {
		t.Fatalf("found only %d packages; the walk is broken", len(pkgs))
	}
	for path, p := range pkgs {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
		rule, ok := rules[rel]
		if !ok {
			t.Errorf("%s has no import rule: add it to rules in arch_test.go and docs/architecture.md", rel)
			continue
		}
		for _, imp := range p.Imports {
			switch {
			case isStd(imp):
			case strings.HasPrefix(imp, module+"/internal/"):
				name := strings.TrimPrefix(imp, module+"/internal/")
				if !slices.Contains(rule.internal, name) {
					t.Errorf("%s may not import internal/%s", rel, name)
				}
			default:
				allowed := false
				for _, ext := range rule.external {
					if imp == ext || strings.HasPrefix(imp, ext+"/") {
						allowed = true
					}
				}
				if !allowed {
					t.Errorf("%s may not import %s", rel, imp)
				}
			}
		}
	}
}

// TestExamplesUsePublicAPI: the middleware examples import Rampart only
// through package rampart, as a user's program must.
func TestExamplesUsePublicAPI(t *testing.T) {
	n := 0
	err := filepath.WalkDir("examples", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if strings.HasPrefix(p, module+"/internal/") {
				t.Errorf("%s imports %s: examples may use only package rampart", path, p)
			}
			if p == module {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 3 {
		t.Errorf("%d example files import package rampart; want the net/http, chi and gin examples", n)
	}
}

// TestStagesIndependent states the central rule on its own: no stage
// imports another stage.
func TestStagesIndependent(t *testing.T) {
	for _, s := range stages {
		for _, other := range stages {
			if s != other && slices.Contains(rules["internal/"+s].internal, other) {
				t.Errorf("stage %s may not import stage %s", s, other)
			}
		}
	}
}

// toolkit are the packages of rampart scan, rampart lint and rampart
// config import-openapi.
var toolkit = []string{"openapi", "findings", "scan", "lint", "specimport"}

// specLoaderUsers are the request-path packages that may import the
// toolkit's spec loader, internal/openapi, and nothing else of the
// toolkit: the gateway enforces a spec loaded exactly as scan and lint
// load it (same bounds, same $ref policy, same errors with lines).
// internal/openapi itself imports only yamlpos, so this brings no scanner
// or linter code onto the request path.
var specLoaderUsers = []string{"internal/contract", "internal/inputs"}

// TestToolkitApart keeps the two wings of the house apart: no package of
// the request path (anything the gateway imports) imports the toolkit,
// but for the loader in specLoaderUsers.
func TestToolkitApart(t *testing.T) {
	if got := rules["internal/openapi"].internal; !slices.Equal(got, []string{"yamlpos"}) {
		t.Errorf("internal/openapi imports %v: the spec loader on the request path must stay free of the rest of the toolkit", got)
	}
	for rel, rule := range rules {
		if rel == "cmd/rampart" || rel == "cmd/rampart-vet" || slices.ContainsFunc(toolkit, func(p string) bool {
			return rel == "internal/"+p || strings.HasPrefix(rel, "internal/"+p+"/")
		}) {
			continue
		}
		for _, imp := range rule.internal {
			if imp == "openapi" && slices.Contains(specLoaderUsers, rel) {
				continue
			}
			for _, tk := range toolkit {
				if imp == tk || strings.HasPrefix(imp, tk+"/") {
					t.Errorf("%s is on the request path or beside it and may not import the toolkit package %s", rel, imp)
				}
			}
		}
	}
}

func TestPackageDocs(t *testing.T) {
	for path, p := range packages(t) {
		fset := token.NewFileSet()
		documented := false
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && len(strings.TrimSpace(af.Doc.Text())) > 40 {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s has no package comment saying what it owns", path)
		}
	}
}

// TestStageBuilders keeps one shape for every stage's builder, so that the
// gateway assembles them all the same way: func New(section, Deps) (*T,
// error), where section is the stage's part of the config (a config type),
// Deps is a struct of the package's own that holds the route table
// (Routes []config.Route) when the stage keys settings by route, and the
// built resources the stage needs, and *T is the package's own stage type.
func TestStageBuilders(t *testing.T) {
	for _, name := range append(slices.Clip(stages), "protect") {
		dir := filepath.Join("internal", name)
		fset := token.NewFileSet()
		var newFn *ast.FuncDecl
		var deps *ast.StructType
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv == nil && d.Name.Name == "New" {
						newFn = d
					}
				case *ast.GenDecl:
					for _, sp := range d.Specs {
						if ts, ok := sp.(*ast.TypeSpec); ok && ts.Name.Name == "Deps" {
							deps, _ = ts.Type.(*ast.StructType)
						}
					}
				}
			}
		}
		if newFn == nil || deps == nil {
			t.Errorf("%s: no func New or no struct type Deps", dir)
			continue
		}
		if problem := builderShape(newFn.Type); problem != "" {
			t.Errorf("%s: func New: %s; want func New(section config.X, d Deps) (*Stage, error)", dir, problem)
		}
	}
}

func builderShape(ft *ast.FuncType) string {
	var params []ast.Expr
	for _, f := range ft.Params.List {
		for range max(1, len(f.Names)) {
			params = append(params, f.Type)
		}
	}
	if len(params) != 2 {
		return "takes " + strconv.Itoa(len(params)) + " parameters"
	}
	if !isConfigType(params[0]) {
		return "the first parameter is not a config section"
	}
	if id, ok := params[1].(*ast.Ident); !ok || id.Name != "Deps" {
		return "the second parameter is not Deps"
	}
	if ft.Results == nil || len(ft.Results.List) != 2 {
		return "does not return (stage, error)"
	}
	if st, ok := ft.Results.List[0].Type.(*ast.StarExpr); !ok {
		return "the stage is not returned as a pointer to the package's type"
	} else if _, local := st.X.(*ast.Ident); !local {
		return "the stage is not the package's own type"
	}
	if id, ok := ft.Results.List[1].Type.(*ast.Ident); !ok || id.Name != "error" {
		return "the second result is not error"
	}
	return ""
}

// isConfigType reports whether e is config.X, map[string]config.X or
// []config.X.
func isConfigType(e ast.Expr) bool {
	switch e := e.(type) {
	case *ast.SelectorExpr:
		pkg, ok := e.X.(*ast.Ident)
		return ok && pkg.Name == "config"
	case *ast.MapType:
		return isConfigType(e.Value)
	case *ast.ArrayType:
		return isConfigType(e.Elt)
	}
	return false
}

func TestBuilderShape(t *testing.T) {
	tests := []struct{ sig, problem string }{
		{"func(c config.Client, d Deps) (*Stage, error)", ""},
		{"func(ups map[string]config.Upstream, d Deps) (*Proxy, error)", ""},
		{"func(routes []config.Route, paths config.Paths) (*Stage, error)", "the second parameter is not Deps"},
		{"func(fw config.Firewall, routes []config.Route, opt Options) (*Firewall, error)", "takes 3 parameters"},
		{"func(h config.Headers, d Deps) *Stage", "does not return (stage, error)"},
		{"func(c *config.Config, d Deps) (*Protector, error)", "the first parameter is not a config section"},
		{"func(c config.Client, d Deps) (pipeline.RequestStage, error)", "the stage is not returned as a pointer to the package's type"},
		{"func(c config.Client, d Deps) (*Stage, bool)", "the second result is not error"},
	}
	for _, tt := range tests {
		e, err := parser.ParseExpr(tt.sig)
		if err != nil {
			t.Fatal(err)
		}
		if got := builderShape(e.(*ast.FuncType)); got != tt.problem {
			t.Errorf("builderShape(%s) = %q, want %q", tt.sig, got, tt.problem)
		}
	}
}
