// Package specimport owns rampart config import-openapi: it turns an
// OpenAPI document, loaded by package openapi, into the routes section of
// a Rampart config for a person to review. It maps each operation's path
// template to a route pattern (PathPattern), its method to the route's
// methods, its security requirements to auth and authz.scopes, security:
// [] to public: true, and turns on the route's openapi block; wherever
// the spec says something a route cannot say exactly, it writes a YAML
// comment and picks the stricter route, never a weaker one. An operation
// whose spec says nothing about security gets no access at all and a
// TODO, so that the config refuses to load until someone decides (deny
// by default).
//
// It reads no file and writes none (cmd/rampart does), does not know
// which authenticators a config defines, and does not compare an
// existing config with a spec (package configlint does). Output is
// deterministic: routes in path then method order.
package specimport

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	yaml "go.yaml.in/yaml/v3"

	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// DefaultUpstream is the upstream the routes name without
// Options.Upstream.
const DefaultUpstream = "api"

// Options tune Import. The zero value imports with servers[0]'s base
// path, the upstream "api" and each security scheme's own name as its
// authenticator.
type Options struct {
	// Spec is the spec's path as the routes' openapi blocks name it
	// (relative to the gateway's working directory). Required.
	Spec string
	// Upstream is the upstream every route forwards to; "" means
	// DefaultUpstream.
	Upstream string
	// Auth maps security scheme names to Rampart authenticator names; a
	// scheme it does not list keeps its own name. A key that names no
	// scheme of the spec is an *OptionError.
	Auth map[string]string
	// Server is the index in the spec's servers whose base path prefixes
	// every route's path. Out of range is an *OptionError.
	Server int
}

// OptionError is an Options value that does not fit the spec: the
// caller asked for something the spec does not have.
type OptionError struct{ Msg string }

func (e *OptionError) Error() string { return e.Msg }

// Result is an import's output.
type Result struct {
	// YAML is the routes section, a YAML document with comments.
	YAML []byte
	// Routes counts the routes in it; Skipped the operations left out
	// (each explained by a comment and a warning).
	Routes, Skipped int
	// Warnings are what the user must look at, each starting with the
	// spec's file:line:col: operations left out, routes without access
	// that keep the config from loading, servers not covered.
	Warnings []string
}

// Import writes the routes section for every operation of s. It fails
// only on options that do not fit the spec (*OptionError); an operation
// that cannot be imported is a comment and a warning, not an error.
func Import(s *openapi.Spec, o Options) (*Result, error) {
	if o.Spec == "" {
		return nil, &OptionError{Msg: "the spec path for the openapi blocks is required"}
	}
	if o.Upstream == "" {
		o.Upstream = DefaultUpstream
	}
	schemes := schemeNames(s.Doc)
	for _, k := range sortedKeys(o.Auth) {
		if o.Auth[k] == "" {
			return nil, &OptionError{Msg: fmt.Sprintf("--auth %s=: name the authenticator that checks scheme %s", k, k)}
		}
		if !slices.Contains(schemes, k) {
			known := "it has none"
			if len(schemes) > 0 {
				known = "it has " + strings.Join(schemes, ", ")
			}
			return nil, &OptionError{Msg: fmt.Sprintf("--auth %s=%s: %s declares no security scheme %q (%s)", k, o.Auth[k], s.Source, k, known)}
		}
	}
	bases := s.BasePaths()
	if o.Server < 0 || o.Server >= len(bases) {
		return nil, &OptionError{Msg: fmt.Sprintf("--server %d: %s has %d server(s), numbered from 0", o.Server, s.Source, len(s.Doc.Servers))}
	}
	im := &importer{spec: s, o: o, base: bases[o.Server], used: map[string]bool{}, names: map[string]bool{}, shapes: map[string]string{}}
	for _, op := range s.Operations {
		if op.Op.OperationID != "" {
			im.names[op.Op.OperationID] = true
		}
	}
	for _, op := range s.Operations {
		im.operation(op)
	}
	return im.render(bases), nil
}

// importer is one import's state.
type importer struct {
	spec *openapi.Spec
	o    Options
	base string

	routes      []*route
	notImported []string          // the operations left out, with why
	used        map[string]bool   // schemes the routes use
	names       map[string]bool   // route names taken
	shapes      map[string]string // route name by pattern shape and method
	warnings    []string
	skipped     int
}

// route is one route to write.
type route struct {
	name, path, method, operation string
	public, authenticated         bool
	auth, scopes                  []string
	comments                      []string // above the route
	todo                          string   // why it has no access
}

func (im *importer) warn(op *openapi.Operation, format string, args ...any) {
	_, pos := im.spec.Locate(yamlpos.Pointer("paths", op.Path, strings.ToLower(op.Method)))
	im.warnings = append(im.warnings, fmt.Sprintf("%s:%d:%d: warning: %s", im.spec.Source, pos.Line, pos.Column, fmt.Sprintf(format, args...)))
}

// skip leaves op out, named with why in the header comment and in a
// warning.
func (im *importer) skip(op *openapi.Operation, why string) {
	im.skipped++
	im.notImported = append(im.notImported, fmt.Sprintf("  %s %s (%s): %s.", op.Method, op.Path, op.ID(), why))
	im.warn(op, "%s %s (%s) not imported: %s", op.Method, op.Path, op.ID(), why)
}

func (im *importer) operation(op *openapi.Operation) {
	if op.Method == "TRACE" {
		im.skip(op, "Rampart never proxies TRACE")
		return
	}
	p, err := PathPattern(im.base, op.Path)
	if err != nil {
		var te *templateError
		if errors.As(err, &te) {
			im.skip(op, te.why)
		} else {
			im.skip(op, err.Error())
		}
		return
	}
	key := shapeOf(p.Path) + " " + op.Method
	if prev, dup := im.shapes[key]; dup {
		im.skip(op, fmt.Sprintf("its route would match the same %s requests as route %q (%s)", op.Method, prev, p.Path))
		return
	}
	r := &route{path: p.Path, method: op.Method, name: im.name(op)}
	im.shapes[key] = r.name
	if p.TrailingSlash {
		r.comments = append(r.comments, fmt.Sprintf("The spec's path %s ends with a slash; Rampart matches paths without it, so this route answers %s too.", im.base+op.Path, p.Path))
	}
	for _, rn := range p.Renamed {
		r.comments = append(r.comments, fmt.Sprintf("Path parameter renamed %s: route patterns name parameters with letters, digits and _ (authz.owner.param and protect.subject use the route's name).", rn))
	}
	r.operation = op.Op.OperationID
	if !operationID.MatchString(r.operation) {
		if r.operation != "" {
			r.comments = append(r.comments, fmt.Sprintf("operationId %q has characters openapi.operation does not accept: the operation is found by path and method (auto).", r.operation))
		}
		r.operation = "auto"
	}
	im.access(op, r)
	if r.todo != "" {
		im.warn(op, "%s %s (%s): %s", op.Method, op.Path, op.ID(), r.todo)
	}
	im.routes = append(im.routes, r)
}

// operationID is what config accepts in openapi.operation (its
// validation is the authority; the import test parses the output).
var operationID = regexp.MustCompile(`^[A-Za-z0-9_.\-:/]{1,128}$`)

// name is the route's name: the operationId, or method and path.
func (im *importer) name(op *openapi.Operation) string {
	if op.Op.OperationID != "" {
		return op.Op.OperationID
	}
	var b strings.Builder
	b.WriteString(strings.ToLower(op.Method))
	dash := true
	for _, c := range op.Path {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			if dash {
				b.WriteByte('-')
				dash = false
			}
			b.WriteRune(c)
		} else {
			dash = true
		}
	}
	n := b.String()
	for i := 2; im.names[n]; i++ {
		n = b.String() + "-" + strconv.Itoa(i)
	}
	im.names[n] = true
	return n
}

// access fills r's public, auth and authz from op's security.
func (im *importer) access(op *openapi.Operation, r *route) {
	reqs, where := op.Op.Security, "the operation"
	if reqs == nil {
		if im.spec.Doc.Security == nil {
			r.todo = "the spec declares no security for this operation, nor at its root: the route gets neither auth nor public: true, so the config refuses to load until you decide"
			r.comments = append(r.comments, "TODO: "+r.todo+".")
			return
		}
		rs := im.spec.Doc.Security
		reqs, where = &rs, "the spec's root"
	}
	if len(*reqs) == 0 {
		r.public = true
		r.comments = append(r.comments, "Public: "+where+" says security: [].")
		return
	}
	var kept []openapi3.SecurityRequirement
	anonymous := false
	for _, req := range *reqs {
		switch len(req) {
		case 0:
			anonymous = true
		case 1:
			kept = append(kept, req)
		default:
			r.comments = append(r.comments, fmt.Sprintf("The alternative {%s} needs all of those credentials at once; auth accepts one credential per request, so it is left out (stricter: its callers must use another alternative).", strings.Join(sortedKeys(req), ", ")))
		}
	}
	if len(kept) == 0 {
		if anonymous && len(*reqs) == 1 {
			r.public = true
			r.comments = append(r.comments, "Public: "+where+" says security: [{}] (anonymous access).")
			return
		}
		r.todo = "no alternative of the spec's security is one credential that auth can check"
		r.comments = append(r.comments, "TODO: "+r.todo+"; say which authenticator and authz the route needs.")
		return
	}
	if anonymous {
		r.comments = append(r.comments, "The spec also allows anonymous callers ({} among the alternatives): imported with auth, which is stricter. Make it public: true (without auth and authz) if anonymous access is what you want.")
	}
	var perAlt []string
	differ := false
	for i, req := range kept {
		scheme := sortedKeys(req)[0]
		im.used[scheme] = true
		a := im.authenticator(scheme)
		if !slices.Contains(r.auth, a) {
			r.auth = append(r.auth, a)
		}
		for _, sc := range req[scheme] {
			if !slices.Contains(r.scopes, sc) {
				r.scopes = append(r.scopes, sc)
			}
		}
		if i > 0 && !sameSet(req[scheme], kept[0][sortedKeys(kept[0])[0]]) {
			differ = true
		}
		perAlt = append(perAlt, fmt.Sprintf("%s [%s]", scheme, strings.Join(req[scheme], ", ")))
	}
	if differ {
		r.comments = append(r.comments, fmt.Sprintf("The alternatives ask for different scopes (%s), but authz applies whichever authenticator succeeds: the route requires all of them, stricter than the spec for the alternatives that ask fewer.", strings.Join(perAlt, "; ")))
	}
	if len(r.scopes) == 0 {
		r.authenticated = true
	}
}

// authenticator is the authenticator name of a security scheme.
func (im *importer) authenticator(scheme string) string {
	if a, ok := im.o.Auth[scheme]; ok {
		return a
	}
	return scheme
}

// shapeOf is a pattern with its parameter names erased, as package route
// compares patterns: two routes of one shape match the same paths.
func shapeOf(pattern string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

func schemeNames(doc *openapi3.T) []string {
	if doc.Components == nil {
		return nil
	}
	return sortedKeys(doc.Components.SecuritySchemes)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// render writes the routes section.
func (im *importer) render(bases []string) *Result {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range im.routes {
		seq.Content = append(seq.Content, im.node(r))
	}
	if len(im.routes) == 0 {
		seq.Style = yaml.FlowStyle
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{scalar("routes"), seq}}
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}, HeadComment: comment(im.header(bases))}
	var b bytes.Buffer
	e := yaml.NewEncoder(&b)
	e.SetIndent(2)
	// Encoding nodes built here cannot fail: every node is a scalar,
	// sequence or mapping of scalars.
	_ = e.Encode(doc)
	_ = e.Close()
	return &Result{YAML: b.Bytes(), Routes: len(im.routes), Skipped: im.skipped, Warnings: im.warnings}
}

// header is the comment that opens the section: where it comes from, the
// base path, the servers it does not cover, the authenticators to define.
func (im *importer) header(bases []string) []string {
	title := ""
	if im.spec.Doc.Info != nil {
		title = fmt.Sprintf(" (%s %s)", im.spec.Doc.Info.Title, im.spec.Doc.Info.Version)
	}
	h := []string{fmt.Sprintf("Routes for the operations of %s%s, written by rampart config import-openapi: review them before use.", im.o.Spec, title)}
	switch {
	case len(im.spec.Doc.Servers) == 0:
		h = append(h, "The spec has no servers: paths are its own, at the root.")
	case im.base == "":
		h = append(h, fmt.Sprintf("Paths are the spec's, at the root: servers[%d] (%s) has no base path.", im.o.Server, im.spec.Doc.Servers[im.o.Server].URL))
	default:
		h = append(h, fmt.Sprintf("Paths are the spec's under %s, the base path of servers[%d] (%s).", im.base, im.o.Server, im.spec.Doc.Servers[im.o.Server].URL))
	}
	for i, b := range bases {
		if b != im.base {
			shown := b
			if shown == "" {
				shown = "/"
			}
			msg := fmt.Sprintf("servers[%d] (%s) has the base path %s, which these routes do not match: import again with --server %d for its routes.", i, im.spec.Doc.Servers[i].URL, shown, i)
			h = append(h, msg)
			_, pos := im.spec.Locate(yamlpos.Pointer("servers", strconv.Itoa(i), "url"))
			im.warnings = append(im.warnings, fmt.Sprintf("%s:%d:%d: warning: %s", im.spec.Source, pos.Line, pos.Column, msg))
		}
	}
	if len(im.notImported) > 0 {
		h = append(h, "Not imported (no route is written for them):")
		h = append(h, im.notImported...)
	}
	if len(im.used) > 0 {
		h = append(h, "Security schemes and the authenticators that check them (define these under authn, or map them with --auth scheme=authenticator):")
		for _, name := range sortedKeys(im.used) {
			h = append(h, fmt.Sprintf("  %s (%s) -> %s", name, describe(im.spec.Doc, name), im.authenticator(name)))
		}
		h = append(h, "authz: {authenticated: true} is all that a requirement without scopes says: narrow it with roles or owner rules where the API needs more.")
	}
	return h
}

// describe says what kind of credential a security scheme is.
func describe(doc *openapi3.T, name string) string {
	if doc.Components == nil || doc.Components.SecuritySchemes[name] == nil || doc.Components.SecuritySchemes[name].Value == nil {
		return "undefined"
	}
	s := doc.Components.SecuritySchemes[name].Value
	switch s.Type {
	case "http":
		if s.BearerFormat != "" {
			return "http " + s.Scheme + ", " + s.BearerFormat
		}
		return "http " + s.Scheme
	case "apiKey":
		return "apiKey in " + s.In + " " + s.Name
	default:
		return s.Type // oauth2, openIdConnect, mutualTLS
	}
}

// node is one route's mapping.
func (im *importer) node(r *route) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string, v *yaml.Node) { m.Content = append(m.Content, scalar(k), v) }
	add("name", scalar(r.name))
	add("path", scalar(r.path))
	add("methods", flowSeq([]string{r.method}))
	add("upstream", scalar(im.o.Upstream))
	switch {
	case r.public:
		add("public", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	case r.todo != "":
	default:
		add("auth", flowSeq(r.auth))
		az := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		if r.authenticated {
			az.Content = append(az.Content, scalar("authenticated"), &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		} else {
			az.Content = append(az.Content, scalar("scopes"), flowSeq(r.scopes))
		}
		add("authz", az)
	}
	add("openapi", &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle, Content: []*yaml.Node{
		scalar("spec"), scalar(im.o.Spec), scalar("operation"), scalar(r.operation),
	}})
	if len(r.comments) > 0 {
		m.HeadComment = comment(r.comments)
	}
	return m
}

func scalar(v string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
}

func flowSeq(vs []string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, v := range vs {
		n.Content = append(n.Content, scalar(v))
	}
	return n
}

// comment joins paragraphs into comment text, wrapped at 90 columns; a
// paragraph's leading spaces indent all its lines, and any line break in
// it (from the spec's text) becomes a space.
func comment(paras []string) string {
	var lines []string
	for _, p := range paras {
		indent := p[:len(p)-len(strings.TrimLeft(p, " "))]
		lines = append(lines, wrap(p, 90, indent)...)
	}
	return strings.Join(lines, "\n")
}

func wrap(s string, width int, indent string) []string {
	var out []string
	line := ""
	for _, w := range strings.Fields(s) {
		switch {
		case line == "":
			line = indent + w
		case len(line)+1+len(w) > width:
			out = append(out, line)
			line = indent + w
		default:
			line += " " + w
		}
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}
