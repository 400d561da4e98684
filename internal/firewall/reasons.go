package firewall

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the firewall stage (docs/reasons.md).
const (
	// ReasonDenied means the client's address is on a deny list (global or the route's).
	ReasonDenied = "firewall.denied"
	// ReasonNotAllowed means the route (or the gateway) takes only addresses on its allow list, and the client's is not on it.
	ReasonNotAllowed = "firewall.not_allowed"
	// ReasonBanned means the client's address is banned for a while (by an operator or by anomaly detection).
	ReasonBanned = "firewall.banned"
)

// Reasons documents the denial reason codes of the firewall stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonDenied, Status: 403, Meaning: "The client's address is on a deny list (global or the route's).", Action: "Nothing to retry: ask the API's operators if the block is a mistake."},
		{Code: ReasonNotAllowed, Status: 403, Meaning: "The route (or the gateway) takes only addresses on its allow list, and the client's is not on it.", Action: "Call from an allowed network (VPN, office), or ask to be added."},
		{Code: ReasonBanned, Status: 403, Meaning: "The client's address is banned for a while (by an operator or by anomaly detection).", Action: "Wait for the ban to expire (Retry-After when sent); stop the behaviour that caused it."},
	}
}
