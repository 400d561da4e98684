// Package contract owns enforcing an API's own OpenAPI contract at the
// gateway: a spec loaded by internal/openapi (the loader that rampart scan
// and rampart lint use) is compiled once into a Validator, which checks
// each request's operation, parameters (path, query, header, cookie, with
// their style and explode) and body (by media type, against the JSON
// Schema of the spec's dialect: OpenAPI 3.0, or 3.1 with JSON Schema
// 2020-12), and optionally each response (status declared, JSON body
// against its schema, writeOnly properties stripped).
//
// Parameter decoding and the OpenAPI 3.0 schema dialect are kin-openapi's
// openapi3filter; 3.1 schemas are compiled at load time with
// santhosh-tekuri/jsonschema (kin-openapi itself would compile them again
// on every request). docs/inputs.md records why, with the figures.
//
// Refusals are a *Violation: a status and a bounded list of Problems, each
// naming where (parameter name or JSON pointer) and which rule failed,
// never the value sent. The package owns no HTTP handling, no config and
// no pipeline stage: the gateway's inputs stage calls it.
package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// MaxProblems caps the problems of one Violation.
const MaxProblems = 10

// Response check modes.
const (
	ResponseOff    = "off"
	ResponseReport = "report"
	ResponseBlock  = "block"
)

// Options tune Compile.
type Options struct {
	// Operation is the operationId every request must match, or "" or
	// "auto" to match each request's method and path against the spec's
	// paths.
	Operation string
	// Response is ResponseOff (the default, ""), ResponseReport or
	// ResponseBlock: whether ValidateResponse checks responses, and
	// whether a bad one is replaced (block) or only reported.
	Response string
	// MaxBodyValues bounds the values (object members and array
	// elements, at any depth) of a JSON body checked, request or
	// response; a body with more is refused before any schema runs.
	// 0 means DefaultMaxBodyValues. It bounds the work per request: the
	// gateway's body size limit bounds bytes, not values.
	MaxBodyValues int
}

// DefaultMaxBodyValues is the default of Options.MaxBodyValues: a batch of
// 500 records of 20 fields. At the measured few microseconds per value
// (docs/inputs.md), a body at the limit costs tens of milliseconds.
const DefaultMaxBodyValues = 10_000

// Request is what ValidateRequest needs of an inbound request.
type Request struct {
	// Method is the HTTP method, upper case.
	Method string
	// RawPath is the request path as the gateway routes it: normalized
	// (internal/pathnorm), still percent-encoded where the encoding
	// matters. Each path parameter is percent-decoded after the segment
	// is matched, so /users/a%2Fb gives the parameter "a/b".
	RawPath string
	// RawQuery is the query string without the '?', percent-encoded.
	RawQuery string
	// Header returns a request header's values; it is called with
	// canonical names (http.Header.Values fits). nil means no headers.
	Header func(name string) []string
	// ContentType is the Content-Type header.
	ContentType string
	// Body is the whole request body, read by the gateway when WantsBody
	// says so; HasBody says a body was sent (it may be empty).
	Body    []byte
	HasBody bool
}

// Violation is a refused request or response. It is the error
// ValidateRequest and ValidateResponse return; its text names the
// problems and never holds a value sent.
type Violation struct {
	// Status is the HTTP status a refused request gets: 404 when no
	// operation has the path, 405 when the path has no such method, 415
	// when the body's media type is not declared, 400 otherwise; for a
	// response, 502.
	Status int
	// Problems says what is wrong, at most MaxProblems of them.
	Problems []Problem
	// Truncated says problems were left off past MaxProblems.
	Truncated bool
}

// Problem is one rule a request or response broke.
type Problem struct {
	// In is "path", "query", "header", "cookie" or "body" (or "request"
	// for the operation itself, "response" for a response).
	In string `json:"in"`
	// Name is the parameter's name, for a parameter.
	Name string `json:"name,omitempty"`
	// Pointer is the RFC 6901 JSON pointer into the body, for a body
	// ("" is the whole body).
	Pointer string `json:"pointer,omitempty"`
	// Reason is the rule that failed, for example "maxLength 64",
	// "required", "not declared" or "type: want integer".
	Reason string `json:"reason"`
}

func (p Problem) String() string {
	where := p.In
	switch {
	case p.Name != "":
		where += " " + p.Name
	case p.In == "body" || p.Pointer != "":
		where += " " + pointerOrRoot(p.Pointer)
	}
	return where + ": " + p.Reason
}

func pointerOrRoot(p string) string {
	if p == "" {
		return "/"
	}
	return p
}

func (v *Violation) Error() string {
	parts := make([]string, 0, len(v.Problems))
	for _, p := range v.Problems {
		parts = append(parts, p.String())
	}
	s := fmt.Sprintf("contract violation (%d): %s", v.Status, strings.Join(parts, "; "))
	if v.Truncated {
		s += "; more problems left off"
	}
	return s
}

func (v *Violation) add(p Problem) {
	if len(v.Problems) >= MaxProblems {
		v.Truncated = true
		return
	}
	v.Problems = append(v.Problems, p)
}

// Validator checks requests and responses against one compiled spec. It
// is immutable after Compile and safe for concurrent use.
type Validator struct {
	spec     *openapi.Spec
	is31     bool
	response string
	// route is the kin-openapi route document: the spec itself for 3.0,
	// a copy marked 3.0 for 3.1 so that openapi3filter checks parameters
	// with its built-in validator instead of compiling a 2020-12 schema
	// per request (bodies of 3.1 specs are checked with the schemas
	// compiled at load time instead).
	routeDoc *openapi3.T
	router   *router
	// fixed is the operation of Options.Operation, nil for auto.
	fixed *operation
	opts  *openapi3filter.Options
	// schemaOpts are the options of every 3.0 schema check.
	schemaOpts []openapi3.SchemaValidationOption
	maxValues  int
	// marks says which schemas hold a readOnly or writeOnly property
	// anywhere below them, so that the walks skip the others.
	marks *marks
}

// operation is one compiled operation.
type operation struct {
	op    *openapi.Operation
	tmpl  template
	route *routers.Route
	// params are the operation's parameters (path-item ones overridden).
	params []*openapi3.Parameter
	// headers are the canonical names of its header parameters, plus
	// Content-Type and Cookie: the only headers the checks read.
	headers []string
	// aliases are, per header parameter name, the canonical names that
	// differ from it only in '-' against '_': servers behind CGI-style
	// interfaces (PHP, Rack, WSGI) and nginx with underscores_in_headers
	// read all of them as one header (HTTP_X_TENANT).
	aliases map[string][]string
	// query are the names of its query parameters that a bracketed key
	// (name[] or name[x]) would alias in PHP, Rails or Express's qs:
	// every query parameter but a deepObject one, whose syntax that is.
	query map[string]bool
	// body is the request body, nil when none is declared.
	body *openapi3.RequestBody
	// bodies are the compiled 3.1 request body schemas by media type.
	bodies map[string]*compiled
	// responses are the compiled 3.1 response schemas by status key
	// ("200", "2XX", "default") and media type.
	responses map[string]map[string]*compiled
}

// Compile builds a Validator from a loaded spec. Problems (an unknown
// operationId, a bad response mode, a schema that cannot be compiled)
// come back as errors naming the operation and the JSON pointer.
func Compile(spec *openapi.Spec, opts Options) (*Validator, error) {
	if spec == nil || spec.Doc == nil {
		return nil, errors.New("compiling contract: no spec")
	}
	switch opts.Response {
	case "", ResponseOff, ResponseReport, ResponseBlock:
	default:
		return nil, fmt.Errorf("compiling contract: response %q: want off, report or block", opts.Response)
	}
	if opts.MaxBodyValues < 0 {
		return nil, fmt.Errorf("compiling contract: max body values %d: want 0 (the default) or more", opts.MaxBodyValues)
	}
	v := &Validator{spec: spec, is31: spec.Doc.IsOpenAPI31OrLater(), response: opts.Response, routeDoc: spec.Doc, maxValues: opts.MaxBodyValues}
	if v.maxValues == 0 {
		v.maxValues = DefaultMaxBodyValues
	}
	if v.response == "" {
		v.response = ResponseOff
	}
	if v.is31 {
		cp := *spec.Doc
		cp.OpenAPI = "3.0.3"
		v.routeDoc = &cp
	}
	v.schemaOpts = []openapi3.SchemaValidationOption{
		openapi3.MultiErrors(),
		openapi3.EnableFormatValidation(),
		openapi3.WithStringFormatValidators(stringFormats),
	}
	v.opts = &openapi3filter.Options{
		AuthenticationFunc:                openapi3filter.NoopAuthenticationFunc,
		MultiError:                        true,
		RejectWhenRequestBodyNotSpecified: true,
		SkipSettingDefaults:               true,
		ExcludeRequestBody:                v.is31,
		SchemaValidationOptions:           v.schemaOpts,
	}
	v.marks = newMarks()
	var s31 *schemas31
	if v.is31 {
		s31 = newSchemas31()
	}
	var ops []*operation
	for _, o := range spec.Operations {
		op, err := v.compileOperation(o, s31)
		if err != nil {
			return nil, fmt.Errorf("compiling contract: operation %s: %w", o.ID(), err)
		}
		ops = append(ops, op)
	}
	v.router = newRouter(ops, spec.Doc.Servers)
	if opts.Operation != "" && opts.Operation != "auto" {
		i := slices.IndexFunc(ops, func(op *operation) bool { return op.op.Op.OperationID == opts.Operation })
		if i < 0 {
			return nil, fmt.Errorf("compiling contract: operation %q: no operation of %s has this operationId", opts.Operation, spec.Source)
		}
		v.fixed = ops[i]
	}
	return v, nil
}

func (v *Validator) compileOperation(o *openapi.Operation, s31 *schemas31) (*operation, error) {
	op := &operation{
		op:     o,
		tmpl:   parseTemplate(o.Path),
		params: o.Parameters(),
		route:  &routers.Route{Spec: v.routeDoc, Path: o.Path, PathItem: o.Item, Method: o.Method, Operation: o.Op},
	}
	seen := map[string]bool{"Content-Type": true, "Cookie": true}
	op.headers = []string{"Content-Type", "Cookie"}
	for _, p := range op.params {
		if p.In == openapi3.ParameterInHeader {
			if h := http.CanonicalHeaderKey(p.Name); !seen[h] {
				seen[h] = true
				op.headers = append(op.headers, h)
			}
			if a := headerAliases(p.Name); len(a) > 0 {
				if op.aliases == nil {
					op.aliases = map[string][]string{}
				}
				op.aliases[p.Name] = a
			}
		}
		if p.In == openapi3.ParameterInQuery && p.Style != openapi3.SerializationDeepObject {
			if op.query == nil {
				op.query = map[string]bool{}
			}
			op.query[p.Name] = true
		}
		if v.is31 && p.Schema != nil {
			if kw := unsupported2020(p.Schema); kw != "" {
				return nil, fmt.Errorf("parameter %s (%s): keyword %s in a parameter schema is not enforced: move the rule into the body or drop it", p.Name, p.In, kw)
			}
		}
	}
	if o.Op.RequestBody != nil {
		op.body = o.Op.RequestBody.Value
	}
	if s31 == nil {
		return op, nil
	}
	base := "/paths/" + escapePointer(o.Path) + "/" + strings.ToLower(o.Method)
	if op.body != nil {
		op.bodies = map[string]*compiled{}
		for mt, m := range op.body.Content {
			if m == nil || m.Schema == nil {
				continue
			}
			c, err := s31.compile(m.Schema, base+"/requestBody/content/"+escapePointer(mt)+"/schema")
			if err != nil {
				return nil, err
			}
			op.bodies[mt] = c
		}
	}
	if v.response != ResponseOff && o.Op.Responses != nil {
		op.responses = map[string]map[string]*compiled{}
		for code, r := range o.Op.Responses.Map() {
			if r == nil || r.Value == nil {
				continue
			}
			byType := map[string]*compiled{}
			for mt, m := range r.Value.Content {
				if m == nil || m.Schema == nil || !isJSON(mt) {
					continue
				}
				c, err := s31.compile(m.Schema, base+"/responses/"+escapePointer(code)+"/content/"+escapePointer(mt)+"/schema")
				if err != nil {
					return nil, err
				}
				byType[mt] = c
			}
			op.responses[code] = byType
		}
	}
	return op, nil
}

// maxAliasSeparators bounds headerAliases: a name with more '-' or '_'
// gets only the variant with every one swapped.
const maxAliasSeparators = 6

// headerAliases returns the canonical header names that differ from name
// only in having '_' for '-' or '-' for '_' at some positions.
func headerAliases(name string) []string {
	var at []int
	for i := 0; i < len(name); i++ {
		if name[i] == '-' || name[i] == '_' {
			at = append(at, i)
		}
	}
	if len(at) == 0 {
		return nil
	}
	own := http.CanonicalHeaderKey(name)
	var masks []int
	if len(at) <= maxAliasSeparators {
		for m := 1; m < 1<<len(at); m++ {
			masks = append(masks, m)
		}
	} else {
		masks = []int{1<<len(at) - 1}
	}
	var out []string
	b := []byte(name)
	for _, m := range masks {
		copy(b, name)
		for j, i := range at {
			if m&(1<<j) != 0 {
				if b[i] == '-' {
					b[i] = '_'
				} else {
					b[i] = '-'
				}
			}
		}
		if h := http.CanonicalHeaderKey(string(b)); h != own && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// escapePointer escapes one JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// repeated adds a problem for each query or header parameter that is not
// an array but arrives more than once: openapi3filter checks the first
// value, and an upstream may read another (PHP the last, Express an
// array, ASP.NET all of them joined).
//
// An array parameter may repeat only when it is exploded form style (the
// way such an array is sent); a cookie never. Two Content-Type fields are
// refused too: the contract reads the first.
func repeated(op *operation, r *Request, query url.Values, viol *Violation) {
	var cookies map[string]int
	for _, p := range op.params {
		if p == nil {
			continue
		}
		isArray := p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type.Includes("array")
		exploded := (p.Style == "" || p.Style == openapi3.SerializationForm) && (p.Explode == nil || *p.Explode)
		if isArray && exploded && p.In == openapi3.ParameterInQuery {
			continue
		}
		n := 0
		switch p.In {
		case openapi3.ParameterInQuery:
			n = len(query[p.Name])
		case openapi3.ParameterInHeader:
			if r.Header != nil && !isArray {
				n = len(r.Header(http.CanonicalHeaderKey(p.Name)))
			}
		case openapi3.ParameterInCookie:
			if cookies == nil {
				cookies = cookieCounts(r)
			}
			n = cookies[p.Name]
		}
		if n > 1 {
			viol.add(Problem{In: p.In, Name: capName(p.Name), Reason: "repeated"})
		}
		if p.In == openapi3.ParameterInHeader && r.Header != nil {
			for _, a := range op.aliases[p.Name] {
				if len(r.Header(a)) > 0 {
					viol.add(Problem{In: p.In, Name: capName(p.Name), Reason: "also sent as " + capName(a) + ", which many servers read as the same header"})
					break
				}
			}
		}
		// net/http drops a cookie whose value it finds malformed (a
		// backslash, an inner quote): the check would see none where
		// another server reads one.
		if p.In == openapi3.ParameterInCookie && n == 1 {
			hr := http.Request{Header: http.Header{"Cookie": r.Header("Cookie")}}
			if _, err := hr.Cookie(p.Name); err != nil {
				viol.add(Problem{In: p.In, Name: capName(p.Name), Reason: "malformed cookie value"})
			}
		}
	}
	if len(op.query) > 0 {
		var aliased []string
		for k := range query {
			if i := strings.IndexByte(k, '['); i > 0 && op.query[k[:i]] && !op.query[k] {
				aliased = append(aliased, k[:i])
			}
		}
		slices.Sort(aliased)
		for _, name := range slices.Compact(aliased) {
			viol.add(Problem{In: "query", Name: capName(name), Reason: "also sent with brackets (" + capName(name) + "[...]), which many servers read as the same parameter"})
		}
	}
	if r.Header != nil && len(r.Header("Content-Type")) > 1 {
		viol.add(Problem{In: "header", Name: "Content-Type", Reason: "repeated"})
	}
}

// cookieCounts counts the cookies of each name in every Cookie field.
func cookieCounts(r *Request) map[string]int {
	out := map[string]int{}
	if r.Header == nil {
		return out
	}
	for _, f := range r.Header("Cookie") {
		for part := range strings.SplitSeq(f, ";") {
			// By the name as sent, spaces around it trimmed as Express's
			// cookie package does: "session =x" is a session cookie to
			// it, none to net/http.
			name, _, _ := strings.Cut(part, "=")
			if name = strings.TrimSpace(name); name != "" {
				out[name]++
			}
		}
	}
	return out
}

// WantsBody reports whether a request of this method and path needs its
// body read: its operation declares a request body, or declares none (a
// body sent there is refused, which needs no reading: HasBody is enough).
// It is false when no operation matches, since the request is refused
// before the body matters.
func (v *Validator) WantsBody(method, path string) bool {
	op, _, st := v.find(method, path)
	return st == 0 && op.body != nil
}

// find returns the operation of the request, its raw path parameters, or
// the status refusing it.
func (v *Validator) find(method, path string) (*operation, map[string]string, int) {
	if v.fixed != nil {
		params, ok := v.router.matchOne(v.fixed, path)
		if !ok {
			return nil, nil, http.StatusNotFound
		}
		if v.fixed.op.Method != method {
			return nil, nil, http.StatusMethodNotAllowed
		}
		return v.fixed, params, 0
	}
	return v.router.match(method, path)
}

// ValidateRequest checks r against its operation. It returns nil, a
// *Violation, or another error when the check itself broke (a context
// cancelled). It never modifies r.
func (v *Validator) ValidateRequest(ctx context.Context, r *Request) error {
	op, params, st := v.find(r.Method, r.RawPath)
	switch st {
	case http.StatusNotFound:
		return &Violation{Status: st, Problems: []Problem{{In: "request", Reason: "no operation has this path"}}}
	case http.StatusMethodNotAllowed:
		return &Violation{Status: st, Problems: []Problem{{In: "request", Reason: "method not declared for this path"}}}
	}
	hreq, query, err := op.httpRequest(r)
	if err != nil {
		return &Violation{Status: http.StatusBadRequest, Problems: []Problem{{In: "query", Reason: "malformed query string"}}}
	}
	in := &openapi3filter.RequestValidationInput{Request: hreq, PathParams: params, QueryParams: query, Route: op.route, Options: v.opts}
	viol := &Violation{Status: http.StatusBadRequest}
	repeated(op, r, query, viol)
	sent := r.HasBody && len(r.Body) > 0
	var decoded any // a JSON body, decoded once
	haveDecoded := false
	switch {
	case op.body == nil && r.HasBody:
		// A body was sent (it need not have been read: WantsBody is
		// false here) to an operation that takes none.
		viol.add(Problem{In: "body", Reason: "no request body declared for this operation"})
	case op.body != nil && sent:
		mt, ok := bodyMediaType(op.body, r.ContentType)
		if !ok {
			return &Violation{Status: http.StatusUnsupportedMediaType, Problems: []Problem{{In: "header", Name: "Content-Type", Reason: "media type not declared for this operation"}}}
		}
		if isJSON(r.ContentType) {
			if p := v.checkShape(r.Body, "body"); p != nil {
				return &Violation{Status: http.StatusBadRequest, Problems: []Problem{*p}}
			}
			// A 3.1 body is decoded here, once (which validates it); a 3.0
			// one by openapi3filter, so only validated here.
			malformed := false
			if v.is31 {
				val, err := decodeJSON(r.Body)
				decoded, haveDecoded, malformed = val, err == nil, err != nil
			} else {
				malformed = !json.Valid(r.Body)
			}
			if malformed {
				return &Violation{Status: http.StatusBadRequest, Problems: []Problem{{In: "body", Reason: "malformed JSON"}}}
			}
			// encoding/json keeps the last of duplicate member names,
			// other parsers the first: an upstream may read a value the
			// schema never saw.
			if ptr, dup := duplicateName(r.Body); dup {
				return &Violation{Status: http.StatusBadRequest, Problems: []Problem{{In: "body", Pointer: ptr, Reason: "duplicate member name"}}}
			}
		}
		if mt == "application/x-www-form-urlencoded" {
			formUndeclared(op.body.Content[mt], r.Body, viol)
			formRepeated(op.body.Content[mt], r.Body, viol)
		}
		if v.is31 {
			v.checkBody31(op, mt, r, decoded, haveDecoded, viol)
		}
	case op.body != nil && op.body.Required && v.is31:
		// openapi3filter reports a missing required body of a 3.0 spec.
		viol.add(Problem{In: "body", Reason: "required"})
	}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("validating request: %w", ctx.Err())
		}
		translate(err, viol)
	}
	if len(viol.Problems) == 0 {
		return nil
	}
	return viol
}
