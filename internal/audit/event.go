package audit

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/pipeline"
)

// EventVersion is the version of the event encoding; a change to Event's
// fields or their meaning is a new version. A new optional member that is
// absent whenever its stage found nothing (dlp, inputs) is not: every v1
// event written before it still reads the same.
const EventVersion = 1

// Event is one audit event, encoded as JSON with its fields in this order
// (the encoding is part of the log's format: never reorder them).
type Event struct {
	V          int        `json:"v"`
	Time       string     `json:"time"`
	RequestID  string     `json:"request_id"`
	ClientIP   string     `json:"client_ip"`
	Subject    string     `json:"subject,omitempty"`
	Credential string     `json:"credential,omitempty"`
	AuthMethod string     `json:"auth_method,omitempty"`
	Route      string     `json:"route,omitempty"`
	Method     string     `json:"method"`
	Path       string     `json:"path"`
	Status     int        `json:"status"`
	Decisions  []Decision `json:"decisions"`
	DurationUS int64      `json:"duration_us"`
	Bytes      int64      `json:"bytes"`
	// Kind is empty for a request, KindAdmin for an administrative action,
	// KindAlert for an anomaly; Action and Detail say what.
	Kind   string `json:"kind,omitempty"`
	Action string `json:"action,omitempty"`
	Detail string `json:"detail,omitempty"`
	// Records is how many records the response carried, on routes with
	// a records threshold.
	Records int64 `json:"records,omitempty"`
	// Query is the normalized query with the values of sensitive
	// parameters (tokens, keys, secrets, passwords, signatures, codes)
	// replaced by "redacted", and other values cut at 64 bytes.
	Query string `json:"query,omitempty"`
	// DLP is what data-loss prevention found in the response: counts by
	// kind (never the values) and what was done about them (report, mask,
	// block). Absent when nothing was found.
	DLP *DLP `json:"dlp,omitempty"`
	// Inputs is what the inputs stage found in the request: the WAF rules
	// that matched and their anomaly score, and the contract's broken
	// rules ("query limit: maximum 100", "body /name: maxLength 64"),
	// never a value sent. Absent when it found nothing.
	Inputs *Inputs `json:"inputs,omitempty"`
}

// Inputs sums up what the inputs stage found in one request.
type Inputs struct {
	WAFRules []int    `json:"waf_rules,omitempty"`
	WAFScore int      `json:"waf_score,omitempty"`
	Contract []string `json:"contract,omitempty"`
}

// DLP sums up one response's data-loss prevention findings.
type DLP struct {
	Action string `json:"action"`
	// Findings counts the values found, by kind, sorted by kind.
	Findings []DLPCount `json:"findings"`
}

// DLPCount is how many values of one kind were found.
type DLPCount struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
}

// sensitiveParams are substrings of query parameter names whose values
// never reach the log.
var sensitiveParams = []string{"token", "key", "secret", "pass", "pwd", "auth", "sig", "code", "session", "cookie", "credential", "jwt", "assertion", "otp", "ssn", "card"}

// redactQuery returns q with sensitive values replaced and the rest
// bounded.
func redactQuery(q string) string {
	if q == "" {
		return ""
	}
	var b strings.Builder
	for i, part := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		if i == 32 {
			b.WriteString("...")
			break
		}
		name, value, _ := strings.Cut(part, "=")
		lower := strings.ToLower(name)
		if len(name) > 64 {
			name = name[:64]
		}
		b.WriteString(name)
		b.WriteByte('=')
		switch {
		case slices.ContainsFunc(sensitiveParams, func(s string) bool { return strings.Contains(lower, s) }):
			b.WriteString("redacted")
		case len(value) > 64:
			b.WriteString(value[:64])
			b.WriteString("...")
		default:
			b.WriteString(value)
		}
	}
	return b.String()
}

// Kinds of the events that are not requests (Event.Kind).
const (
	KindAdmin = "admin" // an administrative action
	KindAlert = "alert" // an anomaly alert
)

// Record is an event that is not a request.
type Record struct {
	// Kind is KindAdmin or KindAlert.
	Kind string
	// Action says what happened: "apikey.create", "config.reload",
	// "anomaly.auth_failures".
	Action string
	// Subject is whom it concerns (an API key's subject, a data key's).
	Subject string
	// ClientIP is the address it concerns, for alerts.
	ClientIP string
	// Detail is free text: an id, an outcome, the evidence of an alert.
	Detail string
}

// Record appends a non-request event to the log, stamped now.
func (o *Observer) Record(r Record) {
	ev := Event{V: EventVersion, Time: time.Now().UTC().Format(time.RFC3339Nano), Kind: r.Kind, Action: r.Action,
		Subject: r.Subject, ClientIP: r.ClientIP, Detail: r.Detail, Decisions: []Decision{}}
	b, err := json.Marshal(ev)
	if err == nil {
		err = o.write(b)
	}
	if err != nil {
		o.logger.Error("audit: an event could not be written", "kind", r.Kind, "action", r.Action, "error", err)
	}
}

// Decision is one stage's decision.
type Decision struct {
	Stage   string `json:"stage"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
}

// EventFrom builds the event of a finished exchange: the path is the
// normalized one, its query redacted (redactQuery).
func EventFrom(x *pipeline.Exchange) Event {
	ev := Event{V: EventVersion, Time: x.Start.UTC().Format(time.RFC3339Nano), RequestID: x.RequestID,
		Method: x.In.Method, Path: x.Path, Status: x.Response.Status,
		DurationUS: x.Duration.Microseconds(), Bytes: x.Response.Bytes, Records: x.Response.Records, Query: redactQuery(x.Query),
		Decisions: make([]Decision, 0, len(x.Decisions))}
	if x.ClientIP.IsValid() {
		ev.ClientIP = x.ClientIP.String()
	}
	if len(x.Response.Findings) > 0 {
		d := &DLP{Action: x.Response.FindingsAction, Findings: make([]DLPCount, len(x.Response.Findings))}
		for i, f := range x.Response.Findings {
			d.Findings[i] = DLPCount{Kind: f.Kind, Count: f.Count}
		}
		ev.DLP = d
	}
	if in := x.Inputs; len(in.WAFRules) > 0 || len(in.Contract) > 0 {
		ev.Inputs = &Inputs{WAFRules: slices.Clone(in.WAFRules), WAFScore: in.WAFScore}
		for _, e := range in.Contract {
			ev.Inputs.Contract = append(ev.Inputs.Contract, FieldErrorString(e))
		}
	}
	if ev.Path == "" {
		ev.Path = "(unrouted)" // refused before normalization: the raw path is not logged
	}
	if x.Route != nil {
		ev.Route = x.Route.Name
	}
	if id := x.Identity; id != nil {
		ev.Subject, ev.Credential, ev.AuthMethod = id.Subject, id.CredentialID, id.Method
	}
	for _, d := range x.Decisions {
		ev.Decisions = append(ev.Decisions, Decision{Stage: d.Stage, Outcome: d.Outcome.String(), Reason: d.Reason})
	}
	return ev
}

// FieldErrorString renders a contract error as "in name: detail" or "body
// /pointer: detail".
func FieldErrorString(e pipeline.FieldError) string {
	where := e.Name
	if e.In == "body" {
		where = e.Pointer
	}
	if where == "" {
		return e.In + ": " + e.Detail
	}
	return e.In + " " + where + ": " + e.Detail
}

// Observer appends every exchange's event to a Log. It blocks the
// finishing request while the log is busy rather than drop an event; with
// Options.Sync it returns once the event is on disk. It is a
// pipeline.Committer: an engine that holds the end of each response for
// its record (audit.sync) aborts the response when Commit fails.
type Observer struct {
	log    *Log
	logger *slog.Logger
	sinks  []*Sink
	mask   func(string) string
}

// Redact has every event's path and query passed through mask before it
// is written (the gateway masks what its DLP detectors find: an e-mail
// address or a card number in a path is personal data).
func (o *Observer) Redact(mask func(string) string) { o.mask = mask }

// NewObserver returns an observer writing to l and copying every event to
// sinks (which may drop under pressure; l never does).
func NewObserver(l *Log, logger *slog.Logger, sinks ...*Sink) *Observer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Observer{log: l, logger: logger, sinks: sinks}
}

func (o *Observer) write(b []byte) error {
	err := o.log.Append(b)
	for _, s := range o.sinks {
		s.Offer(b)
	}
	return err
}

// Observe appends x's event; a failure is logged.
func (o *Observer) Observe(x *pipeline.Exchange) { _ = o.Commit(x) }

// Commit appends x's event and returns the failure to write it, also
// logged; with Options.Sync it returns once the event is on disk.
func (o *Observer) Commit(x *pipeline.Exchange) error {
	ev := EventFrom(x)
	if o.mask != nil {
		ev.Path, ev.Query = o.mask(ev.Path), o.mask(ev.Query)
	}
	b, err := json.Marshal(ev)
	if err == nil {
		err = o.write(b)
	}
	if err != nil {
		o.logger.Error("audit: an event could not be written", "request_id", x.RequestID, "error", err)
		return fmt.Errorf("recording the audit event: %w", err)
	}
	return nil
}
