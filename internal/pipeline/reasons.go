package pipeline

// ReasonInfo documents one denial reason code: what a stage refuses with
// (Denial.Reason), the status it is sent with, what it means, and what
// the client should do. Each stage's package lists its own codes in a
// Reasons function; docs/reasons.md is generated from them.
type ReasonInfo struct {
	Code    string
	Status  int
	Meaning string
	Action  string
}

// Denial reason codes shared by every stage (docs/reasons.md).
const (
	// ReasonListenerBodyTooLarge means the request body is larger than the listener's or the route's limit.
	ReasonListenerBodyTooLarge = "listener.body_too_large"
)

// Reasons documents the denial reason codes shared by every stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []ReasonInfo {
	return []ReasonInfo{
		{Code: ReasonListenerBodyTooLarge, Status: 413, Meaning: "The request body is larger than the listener's or the route's limit.", Action: "Send a smaller body; the limit is server.max_body_bytes."},
	}
}
