package speclint

import (
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// components walks the reusable components first, so that whatever they
// hold is reported at its definition, once, whoever uses it.
func (r *run) components() {
	c := r.doc.Components
	if c == nil {
		return
	}
	r.ignore("/components", c.Extensions)
	for _, n := range sortedKeys(c.Schemas) {
		r.schema(c.Schemas[n], ptrJoin("/components/schemas", n), about{}, anywhere, 0)
	}
	for _, n := range sortedKeys(c.Parameters) {
		r.parameter(c.Parameters[n], ptrJoin("/components/parameters", n), about{})
	}
	for _, n := range sortedKeys(c.Headers) {
		r.header(c.Headers[n], ptrJoin("/components/headers", n), about{})
	}
	for _, n := range sortedKeys(c.Examples) {
		r.exampleRef(c.Examples[n], ptrJoin("/components/examples", n), about{})
	}
	for _, n := range sortedKeys(c.RequestBodies) {
		r.requestBody(c.RequestBodies[n], ptrJoin("/components/requestBodies", n), about{}, anywhere)
	}
	for _, n := range sortedKeys(c.Responses) {
		r.response(c.Responses[n], ptrJoin("/components/responses", n), about{}, "")
	}
	for _, n := range sortedKeys(c.Callbacks) {
		r.callback(c.Callbacks[n], ptrJoin("/components/callbacks", n), about{callback: true})
	}
}

// parameters checks a list of parameters written at base.
func (r *run) parameters(ps openapi3.Parameters, base string, a about) {
	for i, p := range ps {
		r.parameter(p, ptrJoin(base, strconv.Itoa(i)), a)
	}
}

// urlNameSpectral is Spectral's concerning-url-parameter pattern.
var urlNameSpectral = func(name string) bool {
	return strings.HasPrefix(name, "callback") || strings.HasPrefix(name, "redirect") ||
		strings.HasSuffix(name, "_url") || strings.HasSuffix(name, "Url") || strings.HasSuffix(name, "-url")
}

// urlName adds names and formats of our own to Spectral's.
func urlName(name string) bool {
	if urlNameSpectral(name) {
		return true
	}
	n := normalize(name)
	return n == "callback" || strings.HasSuffix(n, "url") || strings.HasSuffix(n, "uri") || strings.HasSuffix(n, "webhook")
}

func urlFormat(s *openapi3.Schema) bool {
	switch strings.ToLower(s.Format) {
	case "uri", "url", "iri", "uri-reference", "iri-reference", "uri-template":
		return true
	}
	return false
}

func (r *run) parameter(ref *openapi3.ParameterRef, here string, a about) {
	if ref == nil || ref.Value == nil {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	p := ref.Value
	r.ignore(ptr, p.Extensions)
	var s *openapi3.Schema
	sptr := ptr + "/schema"
	if p.Schema != nil && p.Schema.Value != nil {
		s = p.Schema.Value
		sptr = refAt(p.Schema.Ref, sptr)
	}
	if (p.In == "query" || p.In == "path") && credentialName(p.Name) {
		r.report(&ruleCredentialInURL, ptr+"/name", a, "", "The %s parameter %s is named like a credential.", p.In, p.Name)
	}
	if !a.callback {
		// In a request the API sends (a callback or webhook), ids, URLs
		// and page sizes are the receiver's concern, not an attack
		// surface of the API; a credential in its URL still leaks.
		r.parameterRules(p, s, sptr, ptr, a)
	}
	r.schema(p.Schema, ptr+"/schema", a, anywhere, 0)
	r.examples(p.Example, p.Examples, ptr, a)
	for _, mt := range sortedKeys(p.Content) {
		r.mediaType(p.Content[mt], ptrJoin(ptr, "content", mt), mt, a, anywhere)
	}
}

// parameterRules are the rules about a parameter of one of the API's own
// operations (or a component) that depend on its name and schema; s is
// its schema (written at sptr), nil without one.
func (r *run) parameterRules(p *openapi3.Parameter, s *openapi3.Schema, sptr, ptr string, a about) {
	if s != nil && (p.Name == "id" || strings.HasSuffix(p.Name, "_id") || strings.HasSuffix(p.Name, "Id") || strings.HasSuffix(p.Name, "-id")) &&
		s.Type.Includes("integer") {
		r.report(&ruleNumericID, sptr, a, "", "Parameter %s is an integer id.", p.Name)
	}
	if urlName(p.Name) || (s != nil && urlFormat(s)) {
		r.report(&ruleURLParameter, ptr, a, "", "The %s parameter %s takes a URL.", p.In, p.Name)
	}
	if p.In == "query" && s != nil && pageSizeName(p.Name) && s.Max == nil && s.ExclusiveMax.Value == nil && len(s.Enum) == 0 && s.Const == nil {
		r.report(&rulePagination, sptr, a, "", "Page-size parameter %s has no maximum.", p.Name)
	}
}

// credentialName is Spectral's no-credentials-in-url pattern.
func credentialName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"client_secret", "clientsecret", "token", "password", "secret", "api-key", "apikey"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// pageSizeName reports whether a query parameter sets a page size.
func pageSizeName(name string) bool {
	switch normalize(name) {
	case "limit", "pagesize", "perpage", "size", "maxresults", "maxitems", "count", "top", "first", "last", "take",
		"pagelimit", "batchsize", "maxpagesize", "rows", "maxrecords", "resultsperpage", "itemsperpage", "num":
		return true
	}
	return false
}

// normalize lower-cases a name and drops separators, so that isAdmin,
// is_admin and is-admin read the same.
func normalize(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (r *run) header(ref *openapi3.HeaderRef, here string, a about) {
	if ref == nil || ref.Value == nil {
		return
	}
	ptr := refAt(ref.Ref, here)
	h := ref.Value
	r.ignore(ptr, h.Extensions)
	r.schema(h.Schema, ptr+"/schema", a, anywhere, 0)
	for _, mt := range sortedKeys(h.Content) {
		r.mediaType(h.Content[mt], ptrJoin(ptr, "content", mt), mt, a, anywhere)
	}
	r.examples(h.Example, h.Examples, ptr, a)
}
