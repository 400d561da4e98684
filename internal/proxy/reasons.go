package proxy

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the upstream stage (docs/reasons.md).
const (
	// ReasonUpstreamTimeout means the upstream did not answer within its response_header_timeout.
	ReasonUpstreamTimeout = "upstream.timeout"
	// ReasonUpstreamUnavailable means the upstream could not be reached or broke the connection.
	ReasonUpstreamUnavailable = "upstream.unavailable"
	// ReasonRequestBodyInvalid means the request body could not be read while it was forwarded: a malformed chunk, or a client that stopped sending.
	ReasonRequestBodyInvalid = "request.body_invalid"
	// ReasonClientClosed means the client closed the connection before the upstream answered (logged only: nobody receives it).
	ReasonClientClosed = "client.closed"
)

// Reasons documents the denial reason codes of the upstream stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonUpstreamTimeout, Status: 504, Meaning: "The upstream did not answer within its response_header_timeout.", Action: "Retry later; the API is slow."},
		{Code: ReasonUpstreamUnavailable, Status: 502, Meaning: "The upstream could not be reached or broke the connection.", Action: "Retry later; the API is down."},
		{Code: ReasonRequestBodyInvalid, Status: 400, Meaning: "The request body could not be read while it was forwarded: a malformed chunk, or a client that stopped sending.", Action: "Send a well-formed body (chunked framing as RFC 9112 7.1 has it)."},
		{Code: ReasonClientClosed, Status: 499, Meaning: "The client closed the connection before the upstream answered (logged only: nobody receives it).", Action: "Nothing: the client went away."},
	}
}
