package speclint

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// operation runs the rules about one operation; siblings are the
// operations on the same path, itself included.
func (r *run) operation(op *openapi.Operation, siblings []*openapi.Operation) {
	ptr := opPointer(op)
	a := aboutOp(op)
	r.ignore(ptr, op.Op.Extensions)
	r.security(op, ptr, a, siblings)
	if op.Op.Servers != nil {
		r.servers(*op.Op.Servers, ptr+"/servers", a)
	}
	r.parameters(op.Op.Parameters, ptr+"/parameters", a)
	if op.Op.Deprecated {
		r.report(&ruleDeprecated, ptr+"/deprecated", a, "", "%s %s is deprecated but still in the document.", op.Method, op.Path)
	}
	if op.Op.RequestBody != nil {
		r.requestBody(op.Op.RequestBody, ptr+"/requestBody", a, cond(writeMethod(op.Method), inRequest, anywhere))
	}
	r.responses(op, ptr+"/responses", a)
	r.callbacks(op.Op.Callbacks, ptr+"/callbacks", about{method: a.method, path: a.path, opID: a.opID, callback: true})
}

func writeMethod(m string) bool { return m == "POST" || m == "PUT" || m == "PATCH" }

// security checks that an operation requires credentials, and as much as
// its siblings do.
func (r *run) security(op *openapi.Operation, ptr string, a about, siblings []*openapi.Operation) {
	reqs := r.spec.Security(op)
	at := ptr + "/security"
	switch op.Method {
	case "POST", "PUT", "PATCH", "DELETE":
		if !r.spec.RequiresAuth(op) {
			r.report(&ruleWriteUnauthenticated, at, a, "", "%s %s can be called without credentials.", op.Method, op.Path)
		}
	case "GET", "HEAD":
		if len(reqs) == 0 {
			r.report(&ruleReadUnauthenticated, at, a, "", "%s %s has no security requirement.", op.Method, op.Path)
		}
	}
	r.weakerSibling(op, at, a, siblings)
}

// responses checks an operation's declared responses and each response.
func (r *run) responses(op *openapi.Operation, ptr string, a about) {
	rs := op.Op.Responses
	var codes map[string]*openapi3.ResponseRef
	if rs != nil {
		codes = rs.Map()
		r.ignore(ptr, rs.Extensions)
	}
	has := func(code string) bool {
		for k, v := range codes {
			if strings.EqualFold(k, code) && v != nil {
				return true
			}
		}
		return false
	}
	if !has("400") && !has("422") && !has("4XX") {
		r.report(&ruleResponse400, ptr, a, "", "%s %s declares no 400, 422 or 4XX response.", op.Method, op.Path)
	}
	for _, need := range []struct {
		code string
		ru   *rule
	}{{"401", &ruleResponse401}, {"429", &ruleResponse429}, {"500", &ruleResponse500}} {
		ref := codes[need.code]
		switch {
		case ref == nil || ref.Value == nil:
			r.report(need.ru, ptr, a, "", "%s %s declares no %s response.", op.Method, op.Path, need.code)
		case len(ref.Value.Content) == 0:
			r.report(need.ru, refAt(ref.Ref, ptrJoin(ptr, need.code)), a, "", "The %s response of %s %s has no content.", need.code, op.Method, op.Path)
		}
	}
	if idParam(op) != "" && !has("403") && !has("404") && !has("4XX") {
		r.report(&ruleBOLASurface, ptr, a, "", "%s %s takes the object id %s but declares neither 403 nor 404.", op.Method, op.Path, idParam(op))
	}
	for _, code := range sortedKeys(codes) {
		r.response(codes[code], ptrJoin(ptr, code), a, code)
	}
}

// idParam returns the first path parameter that names an object.
func idParam(op *openapi.Operation) string {
	for _, p := range op.Parameters() {
		if p.In != "path" {
			continue
		}
		n := normalize(p.Name)
		if strings.HasSuffix(n, "id") || strings.HasSuffix(n, "uuid") || strings.HasSuffix(n, "guid") {
			return p.Name
		}
	}
	return ""
}

// rateLimitSets are the header sets Spectral's rate-limit rule accepts.
var rateLimitSets = [][]string{{"RateLimit"}, {"RateLimit-Limit", "RateLimit-Reset"}, {"X-RateLimit-Limit"}, {"X-Rate-Limit-Limit"}}

// response checks one response; code is its status, "" for a component.
func (r *run) response(ref *openapi3.ResponseRef, here string, a about, code string) {
	if ref == nil || ref.Value == nil {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	resp := ref.Value
	r.ignore(ptr, resp.Extensions)
	if a.callback {
		// The answer of a callback's or webhook's receiver: the API
		// reads it, so only what it holds is checked.
		r.responseContent(resp, ptr, a, anywhere)
		return
	}
	hasHeader := func(name string) bool {
		for k, h := range resp.Headers {
			if strings.EqualFold(k, name) && h != nil {
				return true
			}
		}
		return false
	}
	if code != "" && (code[0] == '2' || code[0] == '4') && !anySet(rateLimitSets, hasHeader) {
		r.report(&ruleRateLimitHeaders, ptr, a, "", "The %s response declares no rate-limit headers.", code)
	}
	if code == "429" && !hasHeader("Retry-After") {
		r.report(&ruleRetryAfter, ptr, a, "", "The 429 response declares no Retry-After header.")
	}
	if len(resp.Headers) > 0 && !hasHeader("Access-Control-Allow-Origin") {
		r.report(&ruleCORSOrigin, ptr+"/headers", a, "", "The response's headers do not include Access-Control-Allow-Origin.")
	}
	r.responseContent(resp, ptr, a, inResponse)
}

// responseContent walks a response's headers and content.
func (r *run) responseContent(resp *openapi3.Response, ptr string, a about, c schemaCtx) {
	for _, n := range sortedKeys(resp.Headers) {
		r.header(resp.Headers[n], ptrJoin(ptr, "headers", n), a)
	}
	for _, mt := range sortedKeys(resp.Content) {
		r.mediaType(resp.Content[mt], ptrJoin(ptr, "content", mt), mt, a, c)
	}
}

func anySet(sets [][]string, has func(string) bool) bool {
	for _, set := range sets {
		all := true
		for _, h := range set {
			all = all && has(h)
		}
		if all {
			return true
		}
	}
	return false
}

// requestBody checks a request body used in context c: inRequest for
// the body of a POST, PUT or PATCH (the mass-assignment and SSRF
// context), inResponse for a callback's or webhook's payload (data the
// API sends out), anywhere otherwise.
func (r *run) requestBody(ref *openapi3.RequestBodyRef, here string, a about, c schemaCtx) {
	if ref == nil || ref.Value == nil {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	rb := ref.Value
	r.ignore(ptr, rb.Extensions)
	for _, mt := range sortedKeys(rb.Content) {
		r.mediaType(rb.Content[mt], ptrJoin(ptr, "content", mt), mt, a, c)
	}
}

// mediaType checks one media type: uploads, its schema and examples.
func (r *run) mediaType(m *openapi3.MediaType, ptr, name string, a about, c schemaCtx) {
	if m == nil {
		return
	}
	r.ignore(ptr, m.Extensions)
	if c == inRequest {
		r.upload(m, ptr, strings.ToLower(name), a)
	}
	r.schema(m.Schema, ptr+"/schema", a, c, 0)
	r.examples(m.Example, m.Examples, ptr, a)
}
