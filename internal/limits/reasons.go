package limits

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the limits stage (docs/reasons.md).
const (
	// ReasonRateExceeded means too many requests in the rate window (by client, identity or route).
	ReasonRateExceeded = "limits.rate_exceeded"
	// ReasonQuotaExceeded means the identity's quota for the period is used up.
	ReasonQuotaExceeded = "limits.quota_exceeded"
	// ReasonRecordsExceeded means the session read more records than the route allows (anti-scraping).
	ReasonRecordsExceeded = "limits.records_exceeded"
	// ReasonTooManyConcurrent means too many requests from this key are in flight at once.
	ReasonTooManyConcurrent = "limits.too_many_concurrent"
	// ReasonUnavailable means the counter back end (Redis) did not answer and the route fails closed.
	ReasonUnavailable = "limits.unavailable"
	// ReasonRecordsUncountable means a route that counts records got a response it cannot count; withheld.
	ReasonRecordsUncountable = "limits.records_uncountable"
)

// Reasons documents the denial reason codes of the limits stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonRateExceeded, Status: 429, Meaning: "Too many requests in the rate window (by client, identity or route).", Action: "Wait for Retry-After; RateLimit headers say the policy."},
		{Code: ReasonQuotaExceeded, Status: 429, Meaning: "The identity's quota for the period is used up.", Action: "Wait for the period to reset (Retry-After) or upgrade the plan."},
		{Code: ReasonRecordsExceeded, Status: 429, Meaning: "The session read more records than the route allows (anti-scraping).", Action: "Slow down; wait for Retry-After."},
		{Code: ReasonTooManyConcurrent, Status: 429, Meaning: "Too many requests from this key are in flight at once.", Action: "Send fewer requests in parallel."},
		{Code: ReasonUnavailable, Status: 503, Meaning: "The counter back end (Redis) did not answer and the route fails closed.", Action: "Retry later (Retry-After)."},
		{Code: ReasonRecordsUncountable, Status: 502, Meaning: "A route that counts records got a response it cannot count; withheld.", Action: "Report it; the API's response shape does not match the route's record path."},
	}
}
