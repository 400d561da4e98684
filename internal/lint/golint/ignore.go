package golint

import (
	"go/ast"
	"go/token"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// directivePrefix starts an inline suppression:
//
//	//rampart:ignore RULE reason
//
// on the line of the finding or the line before it. RULE is the
// analyzer's name (sqlinjection) or its rule id
// (rampart.lint.go.sqlinjection); the reason is required, and a later //
// ends it.
const directivePrefix = "//rampart:ignore"

// directive is one //rampart:ignore comment.
type directive struct {
	pos    token.Pos
	line   int
	rule   string // the short name
	reason string
}

// directives returns the //rampart:ignore comments of f.
func directives(fset *token.FileSet, f *ast.File) []directive {
	var ds []directive
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			rule, reason, ok := parseDirective(c.Text)
			if !ok {
				continue
			}
			ds = append(ds, directive{pos: c.Pos(), line: fset.Position(c.Pos()).Line, rule: rule, reason: reason})
		}
	}
	return ds
}

// parseDirective parses the text of one comment: ok is false when it is
// not a //rampart:ignore directive; rule is the short name ("" when the
// directive names none) and reason the words after it, single-spaced,
// up to a later //.
func parseDirective(text string) (rule, reason string, ok bool) {
	rest, ok := strings.CutPrefix(text, directivePrefix)
	if !ok || rest != "" && rest[0] != ' ' && rest[0] != '\t' {
		return "", "", false
	}
	if i := strings.Index(rest, "//"); i >= 0 {
		rest = rest[:i]
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", "", true
	}
	return strings.TrimPrefix(fields[0], RulePrefix), strings.Join(fields[1:], " "), true
}

// report reports a diagnostic of the pass's analyzer at n unless a
// //rampart:ignore directive with a reason suppresses it.
func report(pass *analysis.Pass, n ast.Node, format string, args ...any) {
	reportRange(pass, n.Pos(), n.End(), format, args...)
}

func reportRange(pass *analysis.Pass, pos, end token.Pos, format string, args ...any) {
	if suppressed(pass, pos) {
		return
	}
	pass.Report(analysis.Diagnostic{Pos: pos, End: end, Message: sprintf(format, args...)})
}

// suppressed reports whether a directive naming the pass's analyzer, with
// a reason, stands on pos's line or the line before.
func suppressed(pass *analysis.Pass, pos token.Pos) bool {
	f := fileOf(pass, pos)
	if f == nil {
		return false
	}
	line := pass.Fset.Position(pos).Line
	for _, d := range directives(pass.Fset, f) {
		if d.rule == pass.Analyzer.Name && d.reason != "" && (d.line == line || d.line == line-1) {
			return true
		}
	}
	return false
}

// fileOf returns the syntax of the file holding pos.
func fileOf(pass *analysis.Pass, pos token.Pos) *ast.File {
	for _, f := range pass.Files {
		if f.FileStart <= pos && pos <= f.FileEnd {
			return f
		}
	}
	return nil
}

// Ignore reports //rampart:ignore directives that do not work: without a
// rule, naming a rule that does not exist, or without a reason (a
// suppression must say why the finding does not apply).
var Ignore = &analysis.Analyzer{
	Name: "ignore",
	Doc: `report //rampart:ignore directives without a rule or a reason

A finding is suppressed by "//rampart:ignore RULE reason" on its line or
the line before. The reason is required: a directive without one, or
naming no known rule, suppresses nothing and is reported.`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#ignore",
	Run: runIgnore,
}

func runIgnore(pass *analysis.Pass) (any, error) {
	for _, f := range pass.Files {
		for _, d := range directives(pass.Fset, f) {
			switch {
			case d.rule == "":
				pass.Reportf(d.pos, "//rampart:ignore names no rule: write //rampart:ignore RULE reason")
			case !knownRule(d.rule):
				pass.Reportf(d.pos, "//rampart:ignore names unknown rule %q", d.rule)
			case d.reason == "":
				pass.Reportf(d.pos, "//rampart:ignore %s has no reason, so it suppresses nothing: say why the finding does not apply", d.rule)
			}
		}
	}
	return nil, nil
}

// knownRule reports whether name is the short name of one of the
// package's rules.
func knownRule(name string) bool {
	switch name {
	case "routes", "massassign", "exposure", "sqlinjection", "servertimeout", "bodylimit", "ssrf", "secrets", "ignore",
		driftUndeclared, driftUnimplemented:
		return true
	}
	return false
}

// The inventory-drift rules, reported by the Checker (they need the spec).
const (
	driftUndeclared    = "undeclaredroute"
	driftUnimplemented = "unimplementedoperation"
)
