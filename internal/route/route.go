// Package route is the stage that normalizes the request path and finds the
// route it belongs to: host, path pattern with named parameters, method.
//
// Matching is done on the path as package pathnorm normalized it, so the
// route a request is authorized for is the resource the upstream serves.
// Patterns are compiled into a segment tree at load time; a lookup walks it
// without allocating. When several routes match, the most specific wins:
// a literal segment over a parameter over a catch-all, then an exact host
// over a wildcard host over any host. Two routes that would match the same
// requests are a config error, not a silent precedence rule.
//
// It does not own what happens on the route (the later stages do) and does
// not fold case (see pathnorm).
package route

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pathnorm"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// hostKind orders host matchers by specificity.
type hostKind uint8

const (
	hostExact hostKind = iota
	hostWildcard
	hostAny
)

type endpoint struct {
	route    pipeline.Route
	hostKind hostKind
	host     string // lower case; for wildcards the suffix with its dot
	methods  []string
	allow    string // the Allow header for 405
	params   []string
}

func (e *endpoint) matchHost(h string) bool {
	switch e.hostKind {
	case hostExact:
		return strings.EqualFold(h, e.host)
	case hostWildcard:
		return len(h) > len(e.host) && strings.EqualFold(h[len(h)-len(e.host):], e.host) &&
			!strings.Contains(h[:len(h)-len(e.host)], ".")
	default:
		return true
	}
}

func (e *endpoint) matchMethod(m string) bool {
	for _, x := range e.methods {
		if x == m {
			return true
		}
	}
	return false
}

type node struct {
	literal  map[string]*node
	param    *node
	catchAll []*endpoint
	here     []*endpoint
}

// Table matches requests to routes. It is immutable and safe for concurrent
// use.
type Table struct {
	root node
}

// Compile builds a Table from validated routes. It reports patterns that
// cannot be parsed and pairs of routes that would match the same requests.
func Compile(routes []config.Route) (*Table, error) {
	t := &Table{}
	type key struct{ shape, host, method string }
	seen := map[key]string{}
	explicitHead := map[key]bool{}
	for i, r := range routes {
		if err := config.CheckPathPattern(r.Path); err != nil {
			return nil, fmt.Errorf("routes[%d].path: %w", i, err)
		}
		if slices.Contains(r.Methods, "HEAD") {
			explicitHead[key{shapeOf(r.Path), strings.ToLower(r.Host), "HEAD"}] = true
		}
	}
	for i, r := range routes {
		e := &endpoint{route: pipeline.Route{Index: i, Name: r.Name}, methods: slices.Clone(r.Methods)}
		switch {
		case r.Host == "":
			e.hostKind = hostAny
		case strings.HasPrefix(r.Host, "*."):
			e.hostKind, e.host = hostWildcard, strings.ToLower(r.Host[1:])
		default:
			e.hostKind, e.host = hostExact, strings.ToLower(r.Host)
		}
		allow := slices.Clone(r.Methods)
		if slices.Contains(allow, "GET") && !slices.Contains(allow, "HEAD") {
			// HEAD follows GET unless another route takes HEAD explicitly.
			if !explicitHead[key{shapeOf(r.Path), strings.ToLower(r.Host), "HEAD"}] {
				e.methods = append(e.methods, "HEAD")
			}
			allow = append(allow, "HEAD")
		}
		sort.Strings(allow)
		e.allow = strings.Join(allow, ", ")

		n, shape := &t.root, shapeOf(r.Path)
		segs := []string{}
		if r.Path != "/" {
			segs = strings.Split(r.Path[1:], "/")
		}
		catchAll := false
		for _, s := range segs {
			switch {
			case strings.HasSuffix(s, "...}"):
				e.params = append(e.params, s[1:len(s)-4])
				catchAll = true
			case strings.HasPrefix(s, "{"):
				e.params = append(e.params, s[1:len(s)-1])
				if n.param == nil {
					n.param = &node{}
				}
				n = n.param
			default:
				if n.literal == nil {
					n.literal = map[string]*node{}
				}
				if n.literal[s] == nil {
					n.literal[s] = &node{}
				}
				n = n.literal[s]
			}
		}
		if len(e.params) > pipeline.MaxParams {
			return nil, fmt.Errorf("routes[%d].path: more than %d parameters", i, pipeline.MaxParams)
		}
		for _, m := range r.Methods {
			k := key{shape, strings.ToLower(r.Host), m}
			if prev, dup := seen[k]; dup {
				return nil, fmt.Errorf("routes[%d]: route %q matches the same %s requests as route %q", i, r.Name, m, prev)
			}
			seen[k] = r.Name
		}
		if catchAll {
			n.catchAll = insertSorted(n.catchAll, e)
		} else {
			n.here = insertSorted(n.here, e)
		}
	}
	return t, nil
}

// shapeOf is a pattern with its parameter names erased: two routes of the
// same shape match the same paths.
func shapeOf(pattern string) string {
	var b strings.Builder
	for _, s := range strings.Split(pattern, "/")[1:] {
		switch {
		case strings.HasSuffix(s, "...}"):
			b.WriteString("/*")
		case strings.HasPrefix(s, "{"):
			b.WriteString("/{}")
		default:
			b.WriteString("/" + s)
		}
	}
	return b.String()
}

func insertSorted(list []*endpoint, e *endpoint) []*endpoint {
	list = append(list, e)
	sort.SliceStable(list, func(i, j int) bool { return list[i].hostKind < list[j].hostKind })
	return list
}

// Result is the outcome of a lookup.
type Result struct {
	// Route is the matched route, nil if none.
	Route *pipeline.Route
	// Allow lists the methods of the routes whose host and path matched
	// when the method did not (for 405); "" when no path matched.
	Allow string
}

// Match finds the route for host (port allowed), a normalized path and a
// method, appending route parameters to params.
func (t *Table) Match(host, path, method string, params []pipeline.Param) (Result, []pipeline.Param) {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["), ".")
	m := matcher{host: host, method: method}
	rest := ""
	if path != "/" {
		rest = path[1:]
	}
	e := m.walk(&t.root, rest, path == "/", 0)
	if e == nil {
		return Result{Allow: m.allow}, params
	}
	for i, name := range e.params {
		params = append(params, pipeline.Param{Name: name, Value: m.values[i]})
	}
	return Result{Route: &e.route}, params
}

// matcher holds one lookup's state; it lives on the stack.
type matcher struct {
	host, method string
	allow        string
	values       [pipeline.MaxParams]string
}

// pick returns the first endpoint in list matching host and method, and
// adds the methods of those that matched only the host to Allow.
func (m *matcher) pick(list []*endpoint) *endpoint {
	for _, e := range list {
		if !e.matchHost(m.host) {
			continue
		}
		if e.matchMethod(m.method) {
			return e
		}
		m.allow = unionAllow(m.allow, e.allow)
	}
	return nil
}

// unionAllow merges two Allow values (sorted, comma-separated): a path
// whose methods are split among routes (one route per operation) allows
// all of them. It allocates only on the way to a 405.
func unionAllow(a, b string) string {
	switch {
	case a == "":
		return b
	case a == b || b == "":
		return a
	}
	ms := strings.Split(a+", "+b, ", ")
	sort.Strings(ms)
	return strings.Join(slices.Compact(ms), ", ")
}

// walk matches the remaining path (without its leading slash) below n;
// done is true when no segment remains, and k parameters are captured.
// Literal children are tried before the parameter child, and both before a
// catch-all, so the most specific route wins.
func (m *matcher) walk(n *node, rest string, done bool, k int) *endpoint {
	if done {
		return m.pick(n.here)
	}
	seg, tail, more := strings.Cut(rest, "/")
	if child := n.literal[seg]; child != nil {
		if e := m.walk(child, tail, !more, k); e != nil {
			return e
		}
	}
	if n.param != nil && k < pipeline.MaxParams {
		m.values[k] = seg
		if e := m.walk(n.param, tail, !more, k+1); e != nil {
			return e
		}
	}
	if len(n.catchAll) > 0 && k < pipeline.MaxParams {
		if e := m.pick(n.catchAll); e != nil {
			m.values[k] = rest
			return e
		}
	}
	return nil
}

// overrideParams are query parameters that Rails, Laravel, Symfony and
// method-override middleware read as the request's method, so that a POST
// could run as a DELETE with another route rule.
var overrideParams = []string{"_method", "x-http-method-override", "x-http-method", "x-method-override"}

// dropOverrides removes method-override parameters from a query.
func dropOverrides(q string) string {
	if q == "" || !strings.Contains(strings.ToLower(q), "method") {
		return q
	}
	parts := strings.Split(q, "&")
	kept := parts[:0]
	for _, p := range parts {
		name, _, _ := strings.Cut(p, "=")
		if dec, err := url.QueryUnescape(name); err == nil && slices.Contains(overrideParams, strings.ToLower(dec)) {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}

// Stage is the route stage. It is immutable and safe for concurrent use.
type Stage struct {
	table *Table
	fold  bool // paths are matched, and forwarded, in lower case
}

// Deps are what the route stage is built with besides its config section.
type Deps struct {
	// Routes is the route table, in match order: the config's routes
	// and the token server's own, as the gateway lists them for every
	// stage.
	Routes []config.Route
}

// New compiles the route table of d with the path policy of a validated
// config (its paths section) into a stage.
func New(paths config.Paths, d Deps) (*Stage, error) {
	routes := d.Routes
	if paths.CaseInsensitive {
		folded := make([]config.Route, len(routes))
		for i, r := range routes {
			r.Path = foldPattern(r.Path)
			folded[i] = r
		}
		routes = folded
	}
	t, err := Compile(routes)
	if err != nil {
		return nil, err
	}
	return &Stage{table: t, fold: paths.CaseInsensitive}, nil
}

// foldPattern lowers the literal segments of a pattern, keeping parameter
// names as written.
func foldPattern(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, "{") {
			segs[i] = strings.ToLower(s)
		}
	}
	return strings.Join(segs, "/")
}

// Name returns "route".
func (s *Stage) Name() string { return "route" }

// Request normalizes the path and sets x.Path, x.Route and x.Params, or
// refuses the request: 400 for a path that could be read two ways, 404 for
// no route, 405 for a method the route does not accept.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) error {
	p, err := pathnorm.Normalize(x.In.RawPath)
	if err != nil {
		return &pipeline.Denial{Status: http.StatusBadRequest, Reason: ReasonBadPath,
			Message: "The request path is not acceptable: " + err.Error() + ".", Cause: err}
	}
	if s.fold {
		p = strings.ToLower(p)
	}
	x.Path = p
	x.Query = dropOverrides(pathnorm.Query(x.In.RawQuery))
	res, params := s.table.Match(x.In.Host, p, x.In.Method, x.Params)
	x.Params = params
	if res.Route == nil {
		if res.Allow != "" {
			d := pipeline.Deny(http.StatusMethodNotAllowed, ReasonMethodNotAllowed, "The route does not accept this method.")
			d.Header = http.Header{"Allow": {res.Allow}}
			return d
		}
		return pipeline.Deny(http.StatusNotFound, ReasonNotFound, "No route matches the request.")
	}
	x.Route = res.Route
	return nil
}
