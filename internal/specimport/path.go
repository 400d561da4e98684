package specimport

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
)

// Pattern is the Rampart route pattern of an OpenAPI path template.
type Pattern struct {
	// Path is the pattern, such as /v1/users/{id}.
	Path string
	// Renamed lists the parameters whose names Rampart's patterns cannot
	// hold ("user-id"), as "spec name -> route name" pairs; the route's
	// own rules (authz.owner.param, protect.subject) use the route name.
	Renamed []string
	// TrailingSlash is true when the template ended with a slash that the
	// pattern drops: Rampart matches normalized paths, which have none.
	TrailingSlash bool
}

// ErrTemplate is the error of a template that no Rampart pattern
// expresses exactly (errors.Is).
var ErrTemplate = errors.New("not expressible as a Rampart route pattern")

type templateError struct {
	tmpl, why string
}

func (e *templateError) Error() string {
	return fmt.Sprintf("path %s: %s (%v)", e.tmpl, e.why, ErrTemplate)
}

func (e *templateError) Unwrap() error { return ErrTemplate }

// PathPattern converts base (a server's base path such as /v1, or "")
// followed by the OpenAPI path template tmpl into a Rampart route
// pattern that matches exactly the paths the template does. A template
// that no pattern expresses exactly is an error wrapping ErrTemplate
// that names it: a parameter that is not a whole segment
// (/files/{name}.json), an empty or dot segment, a literal with
// characters that Rampart's normalized paths never hold (%, ?, #, ;, \,
// space), the same parameter twice. It never widens a template: a
// pattern that matched more than the spec declares would route requests
// the spec does not have.
func PathPattern(base, tmpl string) (Pattern, error) {
	full := strings.TrimRight(base, "/") + tmpl
	fail := func(format string, args ...any) (Pattern, error) {
		return Pattern{}, &templateError{tmpl: full, why: fmt.Sprintf(format, args...)}
	}
	if !strings.HasPrefix(full, "/") {
		return fail("does not start with /")
	}
	if strings.ContainsAny(base, "{}") {
		// The base path is literal text (a server variable's value):
		// braces there would become a route parameter and widen it.
		return fail("the server's base path %q holds braces, which a route would read as a parameter", base)
	}
	var p Pattern
	if len(full) > 1 && strings.HasSuffix(full, "/") {
		full = full[:len(full)-1]
		p.TrailingSlash = true
	}
	if full == "/" {
		p.Path = "/"
		return p, nil
	}
	segs := strings.Split(full[1:], "/")
	out := make([]string, len(segs))
	seen := map[string]bool{}
	for i, s := range segs {
		switch {
		case s == "":
			return fail("empty segment (//): normalized paths have none")
		case s == "." || s == "..":
			return fail("dot segment %q: normalized paths have none", s)
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") && strings.Count(s, "{") == 1 && strings.Count(s, "}") == 1:
			name := s[1 : len(s)-1]
			if name == "" {
				return fail("parameter without a name")
			}
			route := paramName(name)
			if route != name {
				p.Renamed = append(p.Renamed, name+" -> "+route)
			}
			if seen[route] {
				return fail("parameter {%s} appears twice", route)
			}
			seen[route] = true
			out[i] = "{" + route + "}"
		case strings.ContainsAny(s, "{}"):
			return fail("segment %q: a parameter must be a whole segment such as {id}; Rampart's patterns cannot match part of one", s)
		case strings.ContainsAny(s, "%?#;\\ "):
			return fail("segment %q: Rampart matches decoded paths, whose literal segments hold no %%, ?, #, ;, \\ or space", s)
		default:
			out[i] = s
		}
	}
	p.Path = "/" + strings.Join(out, "/")
	// The checks above mirror config's; this keeps them honest.
	if err := config.CheckPathPattern(p.Path); err != nil {
		return fail("%v", err)
	}
	return p, nil
}

// paramName turns a spec parameter name into one a route pattern holds:
// letters, digits and _, not starting with a digit. Every other
// character becomes _.
func paramName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}
