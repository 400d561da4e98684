package speclint

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// maxDepth bounds every walk into schemas and example values: recursive
// schemas end at their first repeat, and this bounds the rest.
const maxDepth = 48

// maxValues bounds the schemas and example values one run reads; a
// 5 MB spec holds far fewer.
const maxValues = 1 << 18

// about names the operation (or path) a finding is about; zero for a
// finding about a component or the document.
type about struct {
	method, path, opID string
	// callback is set inside a callback or webhook: a request the API
	// sends and the answer it gets, where the rules about the API's own
	// endpoints do not apply (see callbacks.go).
	callback bool
}

// shared is what a finding in a component that a's node refers to is
// about: no operation, but still inside a callback or webhook.
func (a about) shared() about { return about{callback: a.callback} }

func aboutOp(op *openapi.Operation) about {
	return about{method: op.Method, path: op.Path, opID: op.Op.OperationID}
}

// schemaCtx says where a schema is used, for the rules that depend on it.
type schemaCtx int

const (
	anywhere schemaCtx = iota
	inRequest
	inResponse
)

type visitKey struct {
	s *openapi3.Schema
	c schemaCtx
}

type extKey struct {
	ref string
	c   schemaCtx
}

// run is one Check: the document, what has been reported and what is
// suppressed. It is used by one goroutine.
type run struct {
	ctx     context.Context
	spec    *openapi.Spec
	doc     *openapi3.T
	secrets *dlp.Scanner

	out     []*findings.Finding
	reqPtrs []string        // the pointer each finding was reported at, for suppression
	ids     []string        // each finding's key in seen, for merging forked runs
	seen    map[string]bool // rule, pointer and key already reported
	visited map[visitKey]bool
	// items records the callback and webhook path items walked, so that
	// a callback that refers to itself ends.
	items map[*openapi3.PathItem]bool
	// external records the external $refs walked, by reference string.
	external map[extKey]bool
	// ignores maps a pointer to the rule ids suppressed there and below.
	ignores map[string]map[string]bool
	notes   []string
	// valueBudget bounds the schemas and example values read in one
	// run: YAML aliases can make a small document decode to an
	// exponentially large tree.
	valueBudget int
}

func newRun(ctx context.Context, s *openapi.Spec, secrets *dlp.Scanner) *run {
	return &run{ctx: ctx, spec: s, doc: s.Doc, secrets: secrets,
		seen: map[string]bool{}, visited: map[visitKey]bool{}, items: map[*openapi3.PathItem]bool{}, external: map[extKey]bool{}, ignores: map[string]map[string]bool{},
		valueBudget: maxValues}
}

// report records a finding of ru at ptr (a JSON pointer into the spec's
// file; a pointer below an external $ref is placed on the $ref), once per
// rule, pointer and key.
func (r *run) report(ru *rule, ptr string, a about, key, format string, args ...any) {
	id := ru.ID + "\x00" + ptr + "\x00" + key
	if r.seen[id] {
		return
	}
	r.seen[id] = true
	at, pos := r.spec.Locate(ptr)
	if at != ptr && strings.HasPrefix(ptr, at) {
		if ref, _ := r.spec.Locate(at + "/$ref"); ref == at+"/$ref" {
			// Inside an external document, placed on the $ref that
			// brings it in: keep the rest of the path in the key so
			// that its findings stay apart.
			key = strings.TrimPrefix(ptr, at) + cond(key != "", " "+key, "")
		}
	}
	r.out = append(r.out, &findings.Finding{
		RuleID: ru.ID, Title: ru.Name, Severity: ru.Severity, Confidence: ru.Confidence, OWASP: ru.OWASP,
		Method: a.method, PathTemplate: a.path, OperationID: a.opID,
		Message:  fmt.Sprintf(format, args...),
		Location: &findings.Location{File: r.spec.Source, Pointer: at, Line: pos.Line, Column: pos.Column},
		Key:      key,
	})
	r.reqPtrs = append(r.reqPtrs, ptr)
	r.ids = append(r.ids, id)
}

// fork returns a run that starts where r stands (what r reported, walked
// and suppressed so far) with its own copies, and a share of r's value
// budget, to walk some operations beside others.
func (r *run) fork(budget int) *run {
	ignores := make(map[string]map[string]bool, len(r.ignores))
	for k, v := range r.ignores {
		ignores[k] = maps.Clone(v)
	}
	return &run{ctx: r.ctx, spec: r.spec, doc: r.doc, secrets: r.secrets,
		seen: maps.Clone(r.seen), visited: maps.Clone(r.visited), items: maps.Clone(r.items), external: maps.Clone(r.external),
		ignores: ignores, valueBudget: budget}
}

// merge appends the findings, suppressions and notes of forked runs, in
// order, each finding once: a forked run walks what an earlier one may
// have walked too (a schema two operations share), and keeps the first
// report, as one run walking both in turn would.
func (r *run) merge(forks []*run) {
	exhausted := false
	n := 0
	for _, f := range forks {
		n += len(f.out)
	}
	r.out, r.reqPtrs, r.ids = slices.Grow(r.out, n), slices.Grow(r.reqPtrs, n), slices.Grow(r.ids, n)
	for _, f := range forks {
		for i, fd := range f.out {
			if r.seen[f.ids[i]] {
				continue
			}
			r.seen[f.ids[i]] = true
			r.out = append(r.out, fd)
			r.reqPtrs = append(r.reqPtrs, f.reqPtrs[i])
			r.ids = append(r.ids, f.ids[i])
		}
		for ptr, ids := range f.ignores {
			if r.ignores[ptr] == nil {
				r.ignores[ptr] = map[string]bool{}
			}
			maps.Copy(r.ignores[ptr], ids)
		}
		for _, n := range f.notes {
			if !slices.Contains(r.notes, n) {
				r.notes = append(r.notes, n)
			}
		}
		exhausted = exhausted || f.valueBudget <= 0
	}
	if exhausted {
		r.valueBudget = 0
	}
}

func cond[T any](ok bool, a, b T) T {
	if ok {
		return a
	}
	return b
}

// ignore records the x-rampart-lint-ignore of the node at ptr, if any.
func (r *run) ignore(ptr string, ext map[string]any) {
	v, ok := ext[IgnoreKey]
	if !ok {
		return
	}
	var ids []string
	switch t := v.(type) {
	case string:
		ids = []string{t}
	case []any:
		for _, e := range t {
			if s, ok := e.(string); ok {
				ids = append(ids, s)
			} else {
				r.note(ptr, "entries must be rule ids (strings)")
			}
		}
	case map[string]any:
		for k := range t {
			ids = append(ids, k)
		}
		slices.Sort(ids)
	default:
		r.note(ptr, "must be a list of rule ids or a map of rule id to reason")
		return
	}
	set := r.ignores[ptr]
	if set == nil {
		set = map[string]bool{}
		r.ignores[ptr] = set
	}
	for _, id := range ids {
		if _, known := ruleByID(id); !known {
			r.note(ptr, fmt.Sprintf("unknown rule %q", id))
			continue
		}
		set[id] = true
	}
}

func (r *run) note(ptr, msg string) {
	_, pos := r.spec.Locate(ptr + "/" + IgnoreKey)
	r.notes = append(r.notes, fmt.Sprintf("spec: %s:%d:%d: %s: %s", r.spec.Source, pos.Line, pos.Column, IgnoreKey, msg))
}

// suppressed reports whether rule id is ignored at ptr or above it.
func (r *run) suppressed(id, ptr string) bool {
	for {
		if r.ignores[ptr][id] {
			return true
		}
		if ptr == "" {
			return false
		}
		i := strings.LastIndexByte(ptr, '/')
		if i < 0 {
			return false
		}
		ptr = ptr[:i]
	}
}

// kept returns the findings that no x-rampart-lint-ignore suppresses.
func (r *run) kept() []findings.Finding {
	// One slice of the findings' size: they are gathered as pointers, so
	// that a run of a hundred thousand does not copy them each time its
	// slice grows.
	out := make([]findings.Finding, 0, len(r.out))
	for i, f := range r.out {
		if len(r.ignores) == 0 || !r.suppressed(f.RuleID, r.reqPtrs[i]) {
			out = append(out, *f)
		}
	}
	return out
}

// ptrJoin appends escaped tokens to a JSON pointer.
func ptrJoin(ptr string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(ptr)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(yamlpos.Escape(t))
	}
	return b.String()
}

// refAt returns where the node a $ref names is written: for a reference
// into this document its target, for an external one (or none) here, the
// place that brought it in.
func refAt(ref, here string) string {
	if strings.HasPrefix(ref, "#/") {
		return ref[1:]
	}
	return here
}

// local reports whether ref is a reference inside this document.
func local(ref string) bool { return strings.HasPrefix(ref, "#/") }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
