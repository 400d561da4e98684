// Package speclint owns rampart lint's OpenAPI security audit: the rules
// that read an OpenAPI 3.0 or 3.1 document (as loaded by the shared
// openapi package) and report what makes the API it describes easier to
// attack, by OWASP API Security Top 10 (2023) category. Its rules cover
// every rule of the Spectral OWASP ruleset v2 (SpectralEquivalents maps
// them) and add rules of their own: deprecated OAuth flows, unused scopes,
// operations weaker than their siblings, mass assignment, sensitive
// response properties, BOLA surface, unbounded pagination and uploads,
// SSRF surface, deprecated operations and secrets in examples.
//
// Callbacks and OpenAPI 3.1 webhooks are walked too, with the rules that
// apply to a request the API sends rather than receives (callbacks.go
// lists them).
//
// It honours x-rampart-lint-ignore, written on any object of the
// document: a list of rule ids, or a map of rule id to reason, that
// suppresses those rules on that object and everything written below it.
//
// It does not load documents (openapi does), run checkers or apply
// settings and the severity gate (lint does), or render (findings does).
// A problem in a shared component is reported once, at the component.
package speclint

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// IgnoreKey is the extension that suppresses rules inline.
const IgnoreKey = "x-rampart-lint-ignore"

// Checker is the spec checker. Its zero value is not usable; call New.
// It is immutable and safe for concurrent use.
type Checker struct {
	// secrets finds credentials in examples.
	secrets *dlp.Scanner
}

var _ lint.Checker = (*Checker)(nil)

// New returns the spec checker.
func New() *Checker {
	return &Checker{secrets: dlp.MustNew(dlp.JWT, dlp.AWSKey, dlp.GCPKey, dlp.SlackToken, dlp.GitHubToken, dlp.PrivateKey, dlp.Secret)}
}

// Name implements lint.Checker.
func (*Checker) Name() string { return "spec" }

// Rules implements lint.Checker: every rule, in a stable order.
func (*Checker) Rules() []findings.Rule {
	out := make([]findings.Rule, len(allRules))
	for i, ru := range allRules {
		out[i] = ru.Rule
	}
	return out
}

// Check implements lint.Checker. It reads in.Spec and notes its absence.
func (c *Checker) Check(ctx context.Context, in *lint.Input) ([]findings.Finding, []string, error) {
	if in == nil || in.Spec == nil || in.Spec.Doc == nil {
		return nil, []string{"spec: no OpenAPI document given, spec rules skipped"}, nil
	}
	r := newRun(ctx, in.Spec, c.secrets)
	workers := 1
	if len(in.Spec.Operations) >= minParallelOps {
		workers = min(runtime.GOMAXPROCS(0), maxWorkers)
	}
	if err := r.all(workers); err != nil {
		return nil, nil, fmt.Errorf("linting %s: %w", in.Spec.Source, err)
	}
	if r.valueBudget <= 0 {
		r.notes = append(r.notes, fmt.Sprintf("spec: %s holds more than %d schemas and example values (YAML aliases?): the rest were not checked", in.Spec.Source, maxValues))
	}
	return r.kept(), r.notes, nil
}

// Operations are walked by up to maxWorkers runs side by side when a
// document has at least minParallelOps of them.
const (
	minParallelOps = 256
	maxWorkers     = 8
)

// all runs every rule over the document: the document-wide ones, the
// components (so that a shared schema is reported at its definition),
// then each operation, split among workers forked runs (merged in order,
// so the report is the same for any number of them).
func (r *run) all(workers int) error {
	doc := r.doc
	r.ignore("", doc.Extensions)
	r.servers(doc.Servers, "/servers", about{})
	r.securitySchemes()
	r.components()
	r.adminSecurity()
	r.webhooks()
	for _, p := range pathNames(doc) {
		if err := r.ctx.Err(); err != nil {
			return err
		}
		item := doc.Paths.Value(p)
		base := ptrJoin("/paths", p)
		r.ignore(base, item.Extensions)
		r.servers(item.Servers, base+"/servers", about{path: p})
		r.parameters(item.Parameters, base+"/parameters", about{path: p})
	}
	byPath := map[string][]*openapi.Operation{}
	for _, op := range r.spec.Operations {
		byPath[op.Path] = append(byPath[op.Path], op)
	}
	ops := r.spec.Operations
	// An external document is walked once, from the first $ref that
	// reaches it (r.external), which forks cannot agree on: a spec that
	// has them is walked in one run.
	if workers <= 1 || r.spec.External() {
		return r.operations(ops, byPath)
	}
	forks := make([]*run, workers)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := len(ops)*w/workers, len(ops)*(w+1)/workers
		// Each fork may read what is left of the budget: the bound
		// against alias-expanded trees grows by the number of workers at
		// most.
		forks[w] = r.fork(r.valueBudget)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = forks[w].operations(ops[lo:hi], byPath)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.merge(forks)
	return nil
}

// operations runs the operation rules over ops, in order.
func (r *run) operations(ops []*openapi.Operation, byPath map[string][]*openapi.Operation) error {
	for i, op := range ops {
		if i%64 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
		r.operation(op, byPath[op.Path])
	}
	return nil
}

// pathNames returns the document's paths in a stable order.
func pathNames(doc *openapi3.T) []string {
	if doc.Paths == nil {
		return nil
	}
	var out []string
	for _, p := range doc.Paths.InMatchingOrder() {
		if doc.Paths.Value(p) != nil {
			out = append(out, p)
		}
	}
	return out
}

// opPointer is the JSON pointer of an operation.
func opPointer(op *openapi.Operation) string {
	return ptrJoin("/paths", op.Path, strings.ToLower(op.Method))
}
