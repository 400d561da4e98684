// Package configlint owns the audit of Rampart's own config for rampart
// lint and rampart config validate: the rules that find a config that
// loads but is weaker than it looks (public routes that write, routes
// without rate limits, fail-open limits, plaintext listeners and
// upstreams, a remote admin listener, an audit log that is off or not
// synced, DLP off where personal data comes back, tokens without an
// audience, long token lifetimes) and, with an OpenAPI spec, the rules
// that compare the routes with the spec (operations no route serves,
// routes weaker than the spec's security, routes the spec does not have).
// A route with an openapi block is compared, with the same rules, with
// the spec the block names; LoadRouteSpecs loads those specs (through
// package openapi) and reports the ones that do not load and the
// operations they lack, which the gateway refuses too.
//
// It reads a config that package config already loaded and validated,
// and specs that package openapi loads; it parses neither, and it does
// not own the validation errors of config (those stop a config from
// loading) nor the spec's own rules (speclint).
package configlint

import (
	"context"
	"fmt"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// Prefix begins every rule id of this checker.
const Prefix = "rampart.lint.config."

// Bounds of the long-token-ttl rule, shorter than the hard limit (1h) that
// config validation enforces on both TTLs.
const (
	// MaxTokenServerTTL bounds token_server.ttl: an access token lives at
	// most 15 minutes, so a leaked one is soon worthless.
	MaxTokenServerTTL = 15 * 60
	// MaxIdentityTokenTTL bounds identity_token.ttl: the token is minted
	// for one request to the upstream, so 5 minutes covers any clock skew.
	MaxIdentityTokenTTL = 5 * 60
	// MaxIntrospectionCacheTTL bounds authn.introspection[].cache_ttl, the
	// longest a revoked token keeps working.
	MaxIntrospectionCacheTTL = 5 * 60
)

// Checker is the config checker. The zero value is ready to use.
type Checker struct{}

// Name returns "config".
func (Checker) Name() string { return "config" }

// Rules lists every rule of the checker.
func (Checker) Rules() []findings.Rule { return append([]findings.Rule(nil), rules...) }

// Check audits in.Config, and compares it with in.Spec when there is one.
// Without in.Config it checks nothing and says so in a note.
func (Checker) Check(ctx context.Context, in *lint.Input) ([]findings.Finding, []string, error) {
	if in == nil || in.Config == nil {
		return nil, []string{"config: no Rampart config given; config rules skipped"}, nil
	}
	r := &run{cfg: in.Config, file: in.ConfigFile, index: in.ConfigIndex}
	var notes []string
	if r.index == nil {
		notes = append(notes, "config: no position index of "+r.file+"; findings carry JSON pointers without lines")
	}
	for _, check := range configChecks {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("config checks: %w", err)
		}
		check(r)
	}
	switch {
	case in.Spec == nil && len(in.RouteSpecs) > 0:
		notes = append(notes, "config: no OpenAPI spec given (--spec); only the routes with an openapi block were compared, each with its own spec")
	case in.Spec == nil:
		notes = append(notes, "config: no OpenAPI spec given (--spec); the rules that compare routes with the spec skipped")
	default:
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("config checks: %w", err)
		}
		r.spec, r.routeSpecs = in.Spec, in.RouteSpecs
		r.checkSpec()
	}
	if in.RouteSpecs != nil {
		r.checkRouteSpecs(in.RouteSpecs, in.Spec)
	}
	r.dlpOff()
	return r.out, notes, nil
}

// run is one check of one config.
type run struct {
	// routeSpecs are the routes' own specs (LoadRouteSpecs), by the
	// openapi.spec that names them.
	routeSpecs map[string]*openapi.Spec
	cfg        *config.Config
	file       string
	index      yamlpos.Index
	spec       specSource
	out        []findings.Finding
}

// at locates ptr in the config file: the pointer itself, or its deepest
// ancestor written in the file when the key is absent.
func (r *run) at(ptr string) *findings.Location {
	if r.index == nil {
		return &findings.Location{File: r.file, Pointer: ptr}
	}
	found, pos := r.index.Locate(ptr)
	return &findings.Location{File: r.file, Pointer: found, Line: pos.Line, Column: pos.Column}
}

// has reports whether ptr is written in the config file. Without an index
// it reports false.
func (r *run) has(ptr string) bool {
	_, ok := r.index[ptr]
	return ok
}

// add records a finding of rule id at loc.
func (r *run) add(id string, loc *findings.Location, f findings.Finding) {
	ru := ruleFor(id)
	f.RuleID, f.Title, f.OWASP, f.Location = ru.ID, ru.Name, ru.OWASP, loc
	if f.Confidence == "" {
		f.Confidence = findings.Firm
	}
	if f.Severity == findings.Info {
		f.Severity = ru.Severity
	}
	r.out = append(r.out, f)
}

// routePtr is the JSON pointer of routes[i], with tokens after it.
func routePtr(i int, tokens ...string) string {
	return yamlpos.Pointer(append([]string{"routes", fmt.Sprint(i)}, tokens...)...)
}
