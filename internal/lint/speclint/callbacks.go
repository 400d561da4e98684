package speclint

import (
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// Callbacks (an operation's callbacks) and webhooks (OpenAPI 3.1) are
// requests the API sends, to a URL its client gave or registered, and
// the answers it gets back. The API is the client there, so the rules
// about the API's own endpoints do not apply to them: security
// requirements (write-unauthenticated, read-unauthenticated,
// weaker-sibling: the receiver decides what it asks for), declared
// response codes and headers (response-400/401/429/500,
// rate-limit-headers, retry-after, cors-origin, bola-surface),
// deprecation, servers, and the parameter rules about the API's attack
// surface (numeric-id, url-parameter, pagination-limit). What they carry
// is checked like any other schema and value: string, array and integer
// bounds, formats, open objects, secrets in examples, credentials in a
// query or path parameter (they leak in the receiver's logs just as
// well), and sensitive properties in the payload the API sends
// (sensitive-response: data leaving the API). The payload is not a
// request the API accepts, so mass-assignment, url-property and
// upload-bounds do not apply; the receiver's answer is read by the API
// and gets the schema rules only.

// webhooks walks the document's webhooks.
func (r *run) webhooks() {
	for _, name := range sortedKeys(r.doc.Webhooks) {
		r.callbackItem(r.doc.Webhooks[name], ptrJoin("/webhooks", name), about{callback: true})
	}
}

// callbacks walks an operation's (or a callback operation's) callbacks
// written at base.
func (r *run) callbacks(cs openapi3.Callbacks, base string, a about) {
	for _, name := range sortedKeys(cs) {
		r.callback(cs[name], ptrJoin(base, name), a)
	}
}

// callback walks one callback: a path item per runtime expression.
func (r *run) callback(ref *openapi3.CallbackRef, here string, a about) {
	if ref == nil || ref.Value == nil {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	r.ignore(ptr, ref.Value.Extensions)
	m := ref.Value.Map()
	for _, expr := range sortedKeys(m) {
		r.callbackItem(m[expr], ptrJoin(ptr, expr), a)
	}
}

// callbackItem walks a callback's or webhook's path item and its
// operations, once per path item.
func (r *run) callbackItem(item *openapi3.PathItem, here string, a about) {
	if item == nil || r.items[item] {
		return
	}
	r.items[item] = true
	if local(item.Ref) {
		a = a.shared()
	}
	ptr := refAt(item.Ref, here)
	r.ignore(ptr, item.Extensions)
	r.parameters(item.Parameters, ptr+"/parameters", a)
	ops := item.Operations()
	for _, m := range opMethods {
		op := ops[m]
		if op == nil {
			continue
		}
		oa := a
		if oa.method == "" && oa.opID == "" {
			// A webhook, or a callback component: its own operation id.
			oa.opID = op.OperationID
		}
		r.callbackOperation(op, ptrJoin(ptr, strings.ToLower(m)), oa)
	}
}

// opMethods are the methods of a path item, in the order they are walked.
var opMethods = []string{"GET", "HEAD", "OPTIONS", "TRACE", "POST", "PUT", "PATCH", "DELETE", "CONNECT"}

// callbackOperation runs the rules that apply to a request the API sends.
func (r *run) callbackOperation(op *openapi3.Operation, ptr string, a about) {
	r.ignore(ptr, op.Extensions)
	r.parameters(op.Parameters, ptr+"/parameters", a)
	if op.RequestBody != nil {
		r.requestBody(op.RequestBody, ptr+"/requestBody", a, inResponse)
	}
	if op.Responses != nil {
		r.ignore(ptr+"/responses", op.Responses.Extensions)
		codes := op.Responses.Map()
		for _, code := range sortedKeys(codes) {
			r.response(codes[code], ptrJoin(ptr, "responses", code), a, code)
		}
	}
	r.callbacks(op.Callbacks, ptr+"/callbacks", a)
}
