package route

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the route stage (docs/reasons.md).
const (
	// ReasonBadPath means the path cannot be normalized safely (encoded slashes or dots, NUL, invalid percent-encoding, too long).
	ReasonBadPath = "route.bad_path"
	// ReasonMethodNotAllowed means a route matches the path but not the method; Allow lists the methods it takes.
	ReasonMethodNotAllowed = "route.method_not_allowed"
	// ReasonNotFound means no route matches the host and path: Rampart forwards only what the config names (deny by default).
	ReasonNotFound = "route.not_found"
)

// Reasons documents the denial reason codes of the route stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonBadPath, Status: 400, Meaning: "The path cannot be normalized safely (encoded slashes or dots, NUL, invalid percent-encoding, too long).", Action: "Send a plain, canonical path."},
		{Code: ReasonMethodNotAllowed, Status: 405, Meaning: "A route matches the path but not the method; Allow lists the methods it takes.", Action: "Use one of the methods in the Allow header."},
		{Code: ReasonNotFound, Status: 404, Meaning: "No route matches the host and path: Rampart forwards only what the config names (deny by default).", Action: "Check the URL; the API does not expose this path through the gateway."},
	}
}
