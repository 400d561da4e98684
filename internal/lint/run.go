package lint

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
)

// Options tune Run.
type Options struct {
	// Settings are the project's choices; nil means none.
	Settings *Settings
	// Version is rampart's, for the report.
	Version string
	// Dir is the directory finding paths are made relative to; "" means
	// the working directory.
	Dir string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Run runs every checker on in and returns one report: Tool "lint", Target
// the files read, the rules of every checker (less those turned off), the
// findings with the settings applied (excluded paths dropped, rules off,
// severities overridden), paths relative and slash-separated, and the
// checkers' notes. A checker that fails leaves the report incomplete (its
// error is the StopReason) and the others still run.
//
// An error means the run could not start: a settings rule id that names
// no rule (a *SettingsError), or a checker that breaks the contract (two
// checkers with one rule id, a rule outside rampart.lint.<name>, a
// finding of an unknown rule).
func Run(ctx context.Context, in *Input, checkers []Checker, o Options) (*findings.Report, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	s := o.Settings
	if s == nil {
		s = &Settings{}
	}
	r := &findings.Report{Tool: "lint", Version: o.Version, Target: strings.Join(Targets(in), ", "), Started: now(), Complete: true,
		Rules: []findings.Rule{}, Findings: []findings.Finding{}}
	owner := map[string]string{}
	for _, c := range checkers {
		for _, ru := range c.Rules() {
			if !strings.HasPrefix(ru.ID, "rampart.lint."+c.Name()+".") {
				return nil, fmt.Errorf("lint: checker %s: rule %s is not under rampart.lint.%s", c.Name(), ru.ID, c.Name())
			}
			if prev, dup := owner[ru.ID]; dup {
				return nil, fmt.Errorf("lint: rule %s is both checker %s's and checker %s's", ru.ID, prev, c.Name())
			}
			owner[ru.ID] = c.Name()
			r.Rules = append(r.Rules, ru)
		}
	}
	if err := s.Check(r.Rules); err != nil {
		return nil, err
	}
	results := runCheckers(ctx, in, checkers)
	var failed []string
	for i, res := range results {
		name := checkers[i].Name()
		for _, n := range res.notes {
			if !strings.HasPrefix(n, name+":") {
				n = name + ": " + n
			}
			r.Notes = append(r.Notes, n)
		}
		if res.err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", name, res.err))
			continue
		}
		for _, f := range res.fs {
			if owner[f.RuleID] != name {
				return nil, fmt.Errorf("lint: checker %s reported a finding of rule %q, which is not among its rules", name, f.RuleID)
			}
		}
		if len(r.Findings) == 0 && res.fs != nil {
			// The first checker's findings are taken as they are: a
			// copy of a hundred thousand findings costs more than the
			// rest of this function.
			r.Findings = res.fs
			continue
		}
		r.Findings = append(r.Findings, res.fs...)
	}
	if len(failed) > 0 {
		r.Complete, r.StopReason = false, "could not check everything: "+strings.Join(failed, "; ")
	}
	if err := apply(r, s, o.Dir); err != nil {
		return nil, err
	}
	r.Stats = map[string]int{"inputs": len(Targets(in)), "rules": len(r.Rules)}
	// Findings that Finalize's order sees as equal (one rule, no
	// operation, no key) stand in the order a reader meets them. Sorted
	// here by both, Finalize finds them in order, which costs it one
	// pass.
	findings.SortStable(r.Findings, func(a, b *findings.Finding) int {
		la, lb := locOf(a), locOf(b)
		return cmp.Or(findings.CompareOrder(a, b),
			strings.Compare(la.File, lb.File), cmp.Compare(la.Line, lb.Line), cmp.Compare(la.Column, lb.Column))
	})
	r.Finalize()
	r.Finished = now()
	return r, nil
}

type checkResult struct {
	fs    []findings.Finding
	notes []string
	err   error
}

// runCheckers runs the checkers side by side; each owns its result slot.
func runCheckers(ctx context.Context, in *Input, checkers []Checker) []checkResult {
	results := make([]checkResult, len(checkers))
	var wg sync.WaitGroup
	for i, c := range checkers {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					results[i] = checkResult{err: fmt.Errorf("internal error (please report it): %v", p)}
				}
			}()
			fs, notes, err := c.Check(ctx, in)
			results[i] = checkResult{fs, notes, err}
		})
	}
	wg.Wait()
	return results
}

// apply makes paths relative and slash-separated, then drops excluded
// and turned-off findings and applies severity overrides, noting what it
// did.
func apply(r *findings.Report, s *Settings, dir string) error {
	if dir == "" {
		var err error
		if dir, err = filepath.Abs("."); err != nil {
			return fmt.Errorf("lint: the working directory: %w", err)
		}
	}
	kept := r.Findings[:0]
	excluded, off := 0, 0
	for _, f := range r.Findings {
		if f.Location != nil {
			loc := *f.Location
			loc.File = relPath(dir, loc.File)
			f.Location = &loc
			if s.Excluded(loc.File) {
				excluded++
				continue
			}
		}
		if rs, ok := s.setting(f.RuleID); ok {
			if rs.Off {
				off++
				continue
			}
			f.Severity = rs.Severity
		}
		kept = append(kept, f)
	}
	r.Findings = kept
	rules := r.Rules[:0]
	offRules := 0
	for _, ru := range r.Rules {
		if rs, ok := s.setting(ru.ID); ok {
			if rs.Off {
				offRules++
				continue
			}
			ru.Severity = rs.Severity
		}
		rules = append(rules, ru)
	}
	r.Rules = rules
	if offRules > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d rules turned off by %s (%d findings dropped)", offRules, s.File, off))
	}
	if excluded > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d findings in paths excluded by %s", excluded, s.File))
	}
	return nil
}

// relPath returns file relative to dir when it is an absolute path below
// dir, and slash-separated in any case: SARIF consumers want relative
// URIs.
func relPath(dir, file string) string {
	if file == "" {
		return ""
	}
	if filepath.IsAbs(file) {
		// A file outside dir keeps its absolute path: no relative one
		// names it.
		if rel, err := filepath.Rel(dir, file); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			file = rel
		}
	}
	return filepath.ToSlash(filepath.Clean(file))
}

func locOf(f *findings.Finding) findings.Location {
	if f.Location == nil {
		return findings.Location{}
	}
	return *f.Location
}

// Targets lists the files and package patterns in, for the report.
func Targets(in *Input) []string {
	var t []string
	if in.Spec != nil {
		t = append(t, filepath.ToSlash(in.Spec.Source))
	}
	if in.ConfigFile != "" {
		t = append(t, filepath.ToSlash(in.ConfigFile))
	}
	t = append(t, in.GoPatterns...)
	return t
}
