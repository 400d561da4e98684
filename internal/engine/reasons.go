package engine

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the HTTP engine (listener limits, upstream responses, broken stages) (docs/reasons.md).
const (
	// ReasonListenerHeadersTooLarge means the request line and headers are larger than server.max_header_bytes.
	ReasonListenerHeadersTooLarge = "listener.headers_too_large"
	// ReasonUpstreamAborted means the upstream stopped in the middle of a response that a response stage was reading.
	ReasonUpstreamAborted = "upstream.aborted"
	// ReasonUpstreamResponseTooLarge means the upstream's response is larger than server.max_response_body_bytes, which a response stage must read whole.
	ReasonUpstreamResponseTooLarge = "upstream.response_too_large"
	// ReasonInternal means a stage failed (a bug or a broken dependency), not a decision about the request; the cause is logged with the request id.
	ReasonInternal = "internal"
)

// Reasons documents the denial reason codes of the HTTP engine (listener limits, upstream responses, broken stages): each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonListenerHeadersTooLarge, Status: 431, Meaning: "The request line and headers are larger than server.max_header_bytes.", Action: "Send fewer or shorter headers (large cookies are the usual cause)."},
		{Code: ReasonUpstreamAborted, Status: 502, Meaning: "The upstream stopped in the middle of a response that a response stage was reading.", Action: "Retry; if it persists, the API behind the gateway is failing."},
		{Code: ReasonUpstreamResponseTooLarge, Status: 502, Meaning: "The upstream's response is larger than server.max_response_body_bytes, which a response stage must read whole.", Action: "Ask for less (pagination, filters); operators can raise the limit."},
		{Code: ReasonInternal, Status: 500, Meaning: "A stage failed (a bug or a broken dependency), not a decision about the request; the cause is logged with the request id.", Action: "Retry later and report the request id if it persists."},
	}
}
