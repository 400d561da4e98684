package protect

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the protect stage (docs/reasons.md).
const (
	// ReasonKeysUnavailable means the keyring could not provide the data key (store or KMS down).
	ReasonKeysUnavailable = "protect.keys_unavailable"
	// ReasonEncodedBody means the route encrypts request fields and cannot read a compressed body.
	ReasonEncodedBody = "protect.encoded_body"
	// ReasonBodyTooLarge means the body is larger than protect.max_body_bytes, the most the route reads to encrypt it.
	ReasonBodyTooLarge = "protect.body_too_large"
	// ReasonNotJson means the route encrypts fields of a JSON body and the request's is not JSON.
	ReasonNotJson = "protect.not_json"
	// ReasonMalformedBody means the JSON body is invalid (syntax, not UTF-8, nested too deep); the message says where.
	ReasonMalformedBody = "protect.malformed_body"
	// ReasonAmbiguousField means a request member differs only in letter case from a protected field (SSN for $.ssn), which a Go upstream would read as the field while it went unencrypted.
	ReasonAmbiguousField = "protect.ambiguous_field"
	// ReasonNoSubject means the route encrypts data per subject and the request has no subject.
	ReasonNoSubject = "protect.no_subject"
	// ReasonBadSubject means the subject is too long to bind to a data key.
	ReasonBadSubject = "protect.bad_subject"
	// ReasonDlpBlocked means dLP found sensitive data (cards, SSNs, keys) in the response on a route that blocks it; withheld.
	ReasonDlpBlocked = "protect.dlp_blocked"
	// ReasonResponseEncoded means a response to inspect is compressed in a way the gateway cannot read; withheld.
	ReasonResponseEncoded = "protect.response_encoded"
	// ReasonResponseTooLarge means a response to inspect is larger than protect.max_decompressed_bytes once decompressed; withheld.
	ReasonResponseTooLarge = "protect.response_too_large"
	// ReasonResponseUnreadable means a response to inspect could not be read whole; withheld.
	ReasonResponseUnreadable = "protect.response_unreadable"
)

// Reasons documents the denial reason codes of the protect stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonKeysUnavailable, Status: 503, Meaning: "The keyring could not provide the data key (store or KMS down).", Action: "Retry later (Retry-After)."},
		{Code: ReasonEncodedBody, Status: 415, Meaning: "The route encrypts request fields and cannot read a compressed body.", Action: "Send the body without Content-Encoding."},
		{Code: ReasonBodyTooLarge, Status: 413, Meaning: "The body is larger than protect.max_body_bytes, the most the route reads to encrypt it.", Action: "Send a smaller body."},
		{Code: ReasonNotJson, Status: 415, Meaning: "The route encrypts fields of a JSON body and the request's is not JSON.", Action: "Send Content-Type: application/json."},
		{Code: ReasonMalformedBody, Status: 400, Meaning: "The JSON body is invalid (syntax, not UTF-8, nested too deep); the message says where.", Action: "Fix the JSON."},
		{Code: ReasonAmbiguousField, Status: 400, Meaning: "A request member differs only in letter case (Unicode folding) from a protected field, such as SSN for $.ssn: a Go upstream would read it as the field, unencrypted.", Action: "Spell the field as the API documents it."},
		{Code: ReasonNoSubject, Status: 403, Meaning: "The route encrypts data per subject and the request has no subject.", Action: "Authenticate: encrypted data belongs to someone."},
		{Code: ReasonBadSubject, Status: 400, Meaning: "The subject is too long to bind to a data key.", Action: "Use a shorter subject identifier."},
		{Code: ReasonDlpBlocked, Status: 502, Meaning: "DLP found sensitive data (cards, SSNs, keys) in the response on a route that blocks it; withheld.", Action: "Report it: the API leaks data this route must not return."},
		{Code: ReasonResponseEncoded, Status: 502, Meaning: "A response to inspect is compressed in a way the gateway cannot read; withheld.", Action: "Report it; operators should disable upstream compression or allow the encoding."},
		{Code: ReasonResponseTooLarge, Status: 502, Meaning: "A response to inspect is larger than protect.max_decompressed_bytes once decompressed; withheld.", Action: "Ask for less data."},
		{Code: ReasonResponseUnreadable, Status: 502, Meaning: "A response to inspect could not be read whole; withheld.", Action: "Retry."},
	}
}
