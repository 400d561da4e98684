package inputs

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes (docs/reasons.md).
const (
	// ReasonInvalid means the request breaks the API's contract: a parameter or body field fails its schema.
	ReasonInvalid = "inputs.invalid"
	// ReasonNoOperation means no operation of the API's spec has the request's path.
	ReasonNoOperation = "inputs.no_operation"
	// ReasonMethod means the spec's path has no operation for the request's method.
	ReasonMethod = "inputs.method_not_declared"
	// ReasonMediaType means the spec declares no request body of the request's media type.
	ReasonMediaType = "inputs.media_type"
	// ReasonEncoded means an inspected body was sent with a Content-Encoding.
	ReasonEncoded = "inputs.encoded_body"
	// ReasonWAFBlocked means the WAF's anomaly score reached the route's threshold.
	ReasonWAFBlocked = "waf.blocked"
	// ReasonWAFBadRequest means the WAF could not inspect the request: its body or URI does not parse.
	ReasonWAFBadRequest = "waf.bad_request"
	// ReasonWAFBodyTooLarge means the body is larger than the WAF inspects.
	ReasonWAFBodyTooLarge = "waf.body_too_large"
	// ReasonResponseInvalid means the upstream's response breaks the API's contract.
	ReasonResponseInvalid = "inputs.response_invalid"
)

// Reasons documents the stage's denial reason codes.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonInvalid, Status: 400, Meaning: "The request breaks the API's contract: the errors member names each parameter or JSON pointer and the rule it breaks.", Action: "Fix the named parameters or fields; see the API's OpenAPI document."},
		{Code: ReasonNoOperation, Status: 404, Meaning: "The API's OpenAPI document has no operation at this path.", Action: "Use a path the API documents."},
		{Code: ReasonMethod, Status: 405, Meaning: "The API's OpenAPI document has no operation for this method at this path.", Action: "Use a method the API documents for the path."},
		{Code: ReasonMediaType, Status: 415, Meaning: "The API's OpenAPI document declares no request body of this media type for the operation.", Action: "Send the body as a declared media type (usually application/json)."},
		{Code: ReasonEncoded, Status: 415, Meaning: "The route inspects request bodies, and this one was sent compressed (Content-Encoding).", Action: "Send the body without Content-Encoding."},
		{Code: ReasonWAFBlocked, Status: 403, Meaning: "The web application firewall found an attack pattern (the rule ids are in the audit event).", Action: "If the request is legitimate, ask the operator to review the rule ids for this request id."},
		{Code: ReasonWAFBadRequest, Status: 400, Meaning: "The web application firewall could not inspect the request: its body or URI does not parse, or it has too many arguments.", Action: "Send a well-formed body of the declared Content-Type."},
		{Code: ReasonWAFBodyTooLarge, Status: 413, Meaning: "The body is larger than the web application firewall inspects on this route (waf.body_limit).", Action: "Send a smaller body."},
		{Code: ReasonResponseInvalid, Status: 502, Meaning: "The upstream's response breaks the API's contract (openapi.response: block).", Action: "Report the request id to the API's operator."},
	}
}
