package client

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the client stage (docs/reasons.md).
const (
	// ReasonBadForwardingHeader means a trusted proxy sent a malformed X-Forwarded-For, Forwarded or client-IP header.
	ReasonBadForwardingHeader = "client.bad_forwarding_header"
)

// Reasons documents the denial reason codes of the client stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonBadForwardingHeader, Status: 400, Meaning: "A trusted proxy sent a malformed X-Forwarded-For, Forwarded or client-IP header.", Action: "Fix the proxy in front of the gateway; clients never send these through it."},
	}
}
