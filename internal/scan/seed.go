package scan

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// Seed is a recorded request given as an extra starting point: its path
// and query values feed discovery (real ids the spec's examples lack), and
// a recorded path the spec does not declare is probed as an undocumented
// endpoint. Only the method, path and query are kept: recorded headers,
// cookies and bodies (credentials among them) are dropped, never replayed.
type Seed struct {
	Method string
	// Path is relative to the target's base path, escaped.
	Path  string
	Query url.Values
}

// ParseSeeds reads a HAR file (HTTP Archive 1.2, as browsers and proxies
// export it) or a Postman collection (v2.0/v2.1) and keeps the requests
// to the target's host and port under its base path. name is used in
// errors; skipped counts requests to other hosts.
func ParseSeeds(name string, b []byte, target *url.URL) (seeds []Seed, skipped int, err error) {
	var probe struct {
		Log *struct {
			Entries []struct {
				Request struct {
					Method string `json:"method"`
					URL    string `json:"url"`
				} `json:"request"`
			} `json:"entries"`
		} `json:"log"`
		Info *struct {
			Schema string `json:"schema"`
		} `json:"info"`
		Item []postmanItem `json:"item"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, 0, fmt.Errorf("reading seeds %s: not JSON: %w", name, err)
	}
	var raw []struct{ method, url string }
	switch {
	case probe.Log != nil:
		for _, e := range probe.Log.Entries {
			raw = append(raw, struct{ method, url string }{e.Request.Method, e.Request.URL})
		}
	case probe.Info != nil && strings.Contains(probe.Info.Schema, "getpostman.com"):
		var walk func(items []postmanItem, depth int)
		walk = func(items []postmanItem, depth int) {
			if depth > 32 {
				return
			}
			for _, it := range items {
				if it.Request != nil {
					raw = append(raw, struct{ method, url string }{it.Request.Method, it.Request.URL.Raw})
				}
				walk(it.Item, depth+1)
			}
		}
		walk(probe.Item, 0)
	default:
		return nil, 0, fmt.Errorf("reading seeds %s: neither a HAR file (log.entries) nor a Postman collection (info.schema)", name)
	}
	base := strings.TrimSuffix(target.EscapedPath(), "/")
	for i, r := range raw {
		m := strings.ToUpper(r.method)
		if m == "" {
			m = http.MethodGet
		}
		u, err := url.Parse(r.url)
		if err != nil {
			return nil, 0, fmt.Errorf("reading seeds %s: request %d: bad URL: %w", name, i, err)
		}
		if u.Host != "" && (u.Scheme != target.Scheme || hostPort(u) != hostPort(target)) {
			skipped++
			continue
		}
		p := u.EscapedPath()
		if !strings.HasPrefix(p, base+"/") && p != base {
			skipped++
			continue
		}
		seeds = append(seeds, Seed{Method: m, Path: strings.TrimPrefix(p, base), Query: u.Query()})
	}
	return seeds, skipped, nil
}

// postmanItem is an item of a Postman collection: a request or a folder.
type postmanItem struct {
	Request *struct {
		Method string     `json:"method"`
		URL    postmanURL `json:"url"`
	} `json:"request"`
	Item []postmanItem `json:"item"`
}

// postmanURL is a URL written as a string or as an object with "raw".
type postmanURL struct{ Raw string }

func (u *postmanURL) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		u.Raw = s
		return nil
	}
	var o struct {
		Raw string `json:"raw"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	u.Raw = o.Raw
	return nil
}

// templateRE turns a path template into a pattern that captures its
// parameters.
func templateRE(tmpl string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^")
	for i, seg := range strings.Split(tmpl, "/") {
		if i > 0 {
			b.WriteString("/")
		}
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteString("([^/]+)")
		} else {
			b.WriteString(regexp.QuoteMeta(seg))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// matchSeed returns the operation a seed is an instance of and its path
// parameter values; literal templates win over parameterized ones.
func (s *Session) matchSeed(sd Seed) (*Op, map[string]string) {
	var best *Op
	var values map[string]string
	for _, op := range s.Ops {
		if op.Method != sd.Method {
			continue
		}
		m := templateRE(op.Path).FindStringSubmatch(sd.Path)
		if m == nil || (best != nil && len(op.Params) >= len(best.Params)) {
			continue
		}
		best, values = op, map[string]string{}
		for i, name := range op.Params {
			values[name] = unescape(m[i+1])
		}
	}
	return best, values
}

// useSeeds feeds the seeds to discovery: ids for the operations they match,
// and the unmatched ones for the inventory check.
func (s *Session) useSeeds() {
	for _, sd := range s.opts.Seeds {
		op, values := s.matchSeed(sd)
		if op == nil {
			if sd.Method == http.MethodGet {
				s.mu.Lock()
				s.unmatched = append(s.unmatched, sd)
				s.mu.Unlock()
			}
			continue
		}
		if len(op.Params) == 0 {
			continue
		}
		last := op.Params[len(op.Params)-1]
		o := &Object{Path: op.Path, Param: last, ID: values[last], Parents: without(values, last)}
		for _, id := range s.Identities {
			if id.Subject != "" && id.Subject == o.ID {
				o.Owner = id
			}
		}
		s.AddObject(o)
	}
}

// UnmatchedSeeds returns the recorded GET requests no spec operation
// matches.
func (s *Session) UnmatchedSeeds() []Seed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seed(nil), s.unmatched...)
}
