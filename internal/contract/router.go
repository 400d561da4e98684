package contract

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// template is a compiled path template such as /users/{id}/posts.
type template struct {
	segs []tseg
	// literals counts the literal segments, for precedence: OpenAPI says
	// concrete paths match before templated ones (/users/me before
	// /users/{id}).
	literals int
}

// tseg is one segment: a literal, or a parameter with an optional literal
// prefix and suffix ({id}.json).
type tseg struct {
	lit            string
	param          string
	prefix, suffix string
}

func parseTemplate(p string) template {
	var t template
	for _, s := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		i, j := strings.IndexByte(s, '{'), strings.LastIndexByte(s, '}')
		if i < 0 || j < i {
			t.segs = append(t.segs, tseg{lit: s})
			t.literals++
			continue
		}
		t.segs = append(t.segs, tseg{param: s[i+1 : j], prefix: s[:i], suffix: s[j+1:]})
	}
	return t
}

// match matches the raw segments of a path; params get each parameter's
// percent-decoded value.
func (t template) match(segs []string, params map[string]string) bool {
	if len(segs) != len(t.segs) {
		return false
	}
	for i, ts := range t.segs {
		s := segs[i]
		if ts.param == "" {
			if s != ts.lit {
				if u, err := url.PathUnescape(s); err != nil || u != ts.lit {
					return false
				}
			}
			continue
		}
		if len(s) < len(ts.prefix)+len(ts.suffix) || !strings.HasPrefix(s, ts.prefix) || !strings.HasSuffix(s, ts.suffix) {
			return false
		}
		raw := s[len(ts.prefix) : len(s)-len(ts.suffix)]
		val, err := url.PathUnescape(raw)
		if err != nil {
			return false
		}
		if params != nil {
			params[ts.param] = val
		}
	}
	return true
}

// router finds the operation of a method and path. Spec servers with a
// path (https://api.example.com/v1) make the path match with or without
// that prefix, the longest prefix first.
type router struct {
	ops      []*operation // most literal segments first
	prefixes []string
}

func newRouter(ops []*operation, servers openapi3.Servers) *router {
	r := &router{ops: append([]*operation(nil), ops...)}
	sort.SliceStable(r.ops, func(i, j int) bool { return r.ops[i].tmpl.literals > r.ops[j].tmpl.literals })
	seen := map[string]bool{}
	for _, s := range servers {
		if s == nil {
			continue
		}
		u, err := url.Parse(s.URL)
		if err != nil || strings.Contains(u.Path, "{") {
			continue
		}
		p := strings.TrimSuffix(u.Path, "/")
		if p != "" && !seen[p] {
			seen[p] = true
			r.prefixes = append(r.prefixes, p)
		}
	}
	sort.Slice(r.prefixes, func(i, j int) bool { return len(r.prefixes[i]) > len(r.prefixes[j]) })
	return r
}

// candidates returns the path and the path with each server prefix
// stripped.
func (r *router) candidates(path string) []string {
	out := []string{path}
	for _, p := range r.prefixes {
		if rest, ok := strings.CutPrefix(path, p); ok && (rest == "" || rest[0] == '/') {
			if rest == "" {
				rest = "/"
			}
			out = append(out, rest)
		}
	}
	return out
}

func splitPath(p string) []string {
	return strings.Split(strings.TrimPrefix(p, "/"), "/")
}

// match returns the operation, its path parameters, or 404 (no path)
// or 405 (the path, not the method).
func (r *router) match(method, path string) (*operation, map[string]string, int) {
	status := http.StatusNotFound
	for _, c := range r.candidates(path) {
		segs := splitPath(c)
		for _, op := range r.ops {
			if !op.tmpl.match(segs, nil) {
				continue
			}
			if op.op.Method != method {
				status = http.StatusMethodNotAllowed
				continue
			}
			params := make(map[string]string, len(op.tmpl.segs)-op.tmpl.literals)
			op.tmpl.match(segs, params)
			return op, params, 0
		}
	}
	return nil, nil, status
}

// matchOne matches path against one operation's template.
func (r *router) matchOne(op *operation, path string) (map[string]string, bool) {
	for _, c := range r.candidates(path) {
		segs := splitPath(c)
		params := map[string]string{}
		if op.tmpl.match(segs, params) {
			return params, true
		}
	}
	return nil, false
}
