// Package problem renders refusals and failures as RFC 9457 problem
// documents (application/problem+json). A document says what the client
// may know — the status, a public explanation, a stable reason code and the
// request id to quote to an operator — and never an internal cause, a
// stack trace or an upstream's error page.
package problem

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// ContentType is the media type of a problem document.
const ContentType = "application/problem+json"

// Document is an RFC 9457 problem document with Rampart's three extension
// members.
type Document struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	Reason    string `json:"reason,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Errors list, for a request that broke the API's contract, each
	// parameter or body field that failed and why (RFC 9457 section 3's
	// example member), never the value sent.
	Errors []Error `json:"errors,omitempty"`
}

// Error is one member of a Document's errors: a parameter (In and
// Parameter) or a place in the body (In "body" and Pointer, an RFC 6901
// JSON pointer), and the rule it broke.
type Error struct {
	In        string `json:"in"`
	Parameter string `json:"parameter,omitempty"`
	Pointer   string `json:"pointer,omitempty"`
	Detail    string `json:"detail"`
}

// Write sends a problem document with the given status. detail must be a
// public message; reason a stable code; extra headers (Allow, Retry-After)
// are copied. Any header the upstream had set is discarded first, so no
// upstream detail leaks into a refusal.
func Write(w http.ResponseWriter, status int, reason, detail, requestID string, extra http.Header) {
	WriteErrors(w, status, reason, detail, requestID, extra, nil)
}

// WriteErrors is Write with the errors member: which parameters or body
// fields broke the contract. Each Error must be public (no value sent).
func WriteErrors(w http.ResponseWriter, status int, reason, detail, requestID string, extra http.Header, errs []Error) {
	h := w.Header()
	for k := range h {
		delete(h, k)
	}
	for k, v := range extra {
		h[k] = v
	}
	body, err := json.Marshal(Document{
		Type:      "about:blank",
		Title:     http.StatusText(status),
		Status:    status,
		Detail:    detail,
		Reason:    reason,
		RequestID: requestID,
		Errors:    errs,
	})
	if err != nil { // strings and ints always marshal
		body = []byte(`{"type":"about:blank","status":` + strconv.Itoa(status) + `}`)
	}
	body = append(body, '\n')
	h.Set("Content-Type", ContentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
