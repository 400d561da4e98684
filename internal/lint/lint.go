// Package lint owns rampart lint's contract and its run: what a checker is
// given (Input), what it returns (rules and findings, in the shared
// findings vocabulary), and how a run turns the checkers' findings into one
// report (settings from .rampart-lint.yaml, severity overrides, the
// severity gate).
//
// It knows no rule. The checkers live in their own packages, one per kind
// of file: speclint (OpenAPI documents), golint (Go API code, as
// golang.org/x/tools/go/analysis analyzers), configlint (Rampart's own
// config, alone or against a spec); cmd/rampart wires them. Each checker
// honours its own inline suppressions (x-rampart-lint-ignore in a spec,
// //rampart:ignore in Go), because only it knows where they are written.
package lint

import (
	"context"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// Input is what one run of rampart lint reads. Every part is optional; a
// checker skips (and says so in its notes) what it needs and lacks.
type Input struct {
	// Spec is the OpenAPI document (a file given as an argument, or
	// --spec), loaded by the shared openapi loader; its Source is the path
	// that findings name.
	Spec *openapi.Spec
	// Config is the Rampart config given as an argument, loaded and
	// validated; ConfigFile is its path as the user gave it, and
	// ConfigIndex places its JSON pointers (yamlpos) for findings.
	Config      *config.Config
	ConfigFile  string
	ConfigIndex yamlpos.Index
	// RouteSpecs are the specs that the config's routes name in their
	// openapi blocks, by openapi.spec as written (configlint's
	// LoadRouteSpecs); each such route is compared with its own spec. A
	// route whose spec is absent is not compared.
	RouteSpecs map[string]*openapi.Spec
	// GoDir is the directory Go packages are loaded from, GoPatterns the
	// package patterns (./...); none means no Go analysis.
	GoDir      string
	GoPatterns []string
}

// Checker checks one kind of input.
type Checker interface {
	// Name is the checker's short name (spec, go, config), for notes.
	Name() string
	// Rules lists every rule the checker can report, each with an id
	// under rampart.lint.<name>.
	Rules() []findings.Rule
	// Check returns the findings on in, each with its RuleID among
	// Rules(), its Location (file relative to the working directory,
	// JSON pointer or none, 1-based line and column) and, for an API
	// operation, its Method and PathTemplate. Findings suppressed inline
	// are left out. notes are what the user should know that are not
	// findings (an input the checker needs and lacks). An error means the
	// input could not be checked at all.
	Check(ctx context.Context, in *Input) (fs []findings.Finding, notes []string, err error)
}
