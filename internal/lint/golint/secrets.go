package golint

import (
	"fmt"
	"go/ast"
	"go/token"
	"strings"

	"golang.org/x/tools/go/analysis"

	"github.com/rampart-gw/rampart/internal/dlp"
)

// credentialKinds are the DLP detectors of credentials with a format of
// their own, reported wherever a string constant holds one.
var credentialKinds = []dlp.Kind{dlp.AWSKey, dlp.GCPKey, dlp.SlackToken, dlp.GitHubToken, dlp.PrivateKey, dlp.JWT}

// Secrets reports credentials written in the source.
var Secrets = &analysis.Analyzer{
	Name: "secrets",
	Doc: `report secrets in source: string constants that are keys or tokens

A string literal that internal/dlp's detectors recognise as a credential
(AWS access key id, Google API key, Slack or GitHub token, PEM private
key, JWT), or one assigned to a name such as password, secret, apiKey or
token that is a plausible secret (high entropy, or any non-placeholder
value for a password), is readable by everyone with the code and stays in
its history (OWASP API8:2023, CWE-798). Read it from the environment or a
secret store, and rotate it. _test.go files are not checked; the message
never contains the value.`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#secrets",
	Run: runSecrets,
}

func runSecrets(pass *analysis.Pass) (any, error) {
	named, err := dlp.New(append([]dlp.Kind{dlp.Secret}, credentialKinds...)...)
	if err != nil {
		return nil, fmt.Errorf("building the secret detectors: %w", err)
	}
	bare, err := dlp.New(credentialKinds...)
	if err != nil {
		return nil, fmt.Errorf("building the secret detectors: %w", err)
	}
	for _, f := range pass.Files {
		if isTestFile(pass, f.Pos()) {
			continue
		}
		done := map[*ast.BasicLit]bool{}
		check := func(name string, e ast.Expr) {
			lit, ok := ast.Unparen(e).(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING || done[lit] {
				return
			}
			done[lit] = true
			v, ok := constString(pass.TypesInfo, lit)
			if !ok || v == "" {
				return
			}
			if fs := named.FindNamedString(name, v); len(fs) > 0 {
				report(pass, lit, "string constant assigned to %s is a credential (%s) in source: read it from the environment or a secret store, and rotate it", name, kindName(fs[0].Kind))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ImportSpec:
				return false
			case *ast.Field:
				if n.Tag != nil {
					done[n.Tag] = true
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if i < len(n.Values) {
						check(id.Name, n.Values[i])
					}
				}
			case *ast.AssignStmt:
				if len(n.Lhs) == len(n.Rhs) {
					for i, l := range n.Lhs {
						if name := exprName(l); name != "" {
							check(name, n.Rhs[i])
						}
					}
				}
			case *ast.KeyValueExpr:
				if name := exprName(n.Key); name != "" {
					check(name, n.Value)
				} else if k, ok := constString(pass.TypesInfo, n.Key); ok {
					check(k, n.Value)
				}
			case *ast.BasicLit:
				if n.Kind != token.STRING || done[n] {
					return true
				}
				done[n] = true
				if v, ok := constString(pass.TypesInfo, n); ok {
					if fs := bare.FindString(v); len(fs) > 0 {
						report(pass, n, "string constant holds a credential (%s): read it from the environment or a secret store, and rotate it", kindName(fs[0].Kind))
					}
				}
			}
			return true
		})
	}
	return nil, nil
}

// exprName is the name an assignment target or key is written with.
func exprName(e ast.Expr) string {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// kindName says what a DLP kind is, for messages.
func kindName(k dlp.Kind) string {
	switch k {
	case dlp.AWSKey:
		return "AWS access key id"
	case dlp.GCPKey:
		return "Google API key"
	case dlp.SlackToken:
		return "Slack token"
	case dlp.GitHubToken:
		return "GitHub token"
	case dlp.PrivateKey:
		return "private key"
	case dlp.JWT:
		return "JWT"
	}
	return strings.ReplaceAll(string(k), "_", " ")
}
