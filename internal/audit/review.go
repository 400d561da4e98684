package audit

import (
	"sort"
	"strings"
	"time"
)

// Filter selects events for review: each set field must match.
type Filter struct {
	// Subject and Route match exactly.
	Subject, Route string
	// Decision is "allow", "deny" or "error" (see Outcome).
	Decision string
	// Since drops events older than it.
	Since time.Time
}

// Match reports whether ev passes the filter.
func (f Filter) Match(ev Event) bool {
	if (f.Subject != "" && ev.Subject != f.Subject) || (f.Route != "" && ev.Route != f.Route) {
		return false
	}
	if !f.Since.IsZero() {
		if t, err := time.Parse(time.RFC3339Nano, ev.Time); err != nil || t.Before(f.Since) {
			return false
		}
	}
	return f.Decision == "" || Outcome(ev) == f.Decision
}

// Outcome is a request event's fate from its decisions: "deny" or
// "error" from the first stage that did not allow it, "error" for a 5xx
// answer, else "allow".
func Outcome(ev Event) string {
	for _, d := range ev.Decisions {
		if d.Outcome != "allow" {
			return d.Outcome
		}
	}
	if ev.Status >= 500 {
		return "error"
	}
	return "allow"
}

// Summary is the review of a period of the log.
type Summary struct {
	Since       string  `json:"since"`
	Requests    int     `json:"requests"`
	Denied      int     `json:"denied"`
	Failed      int     `json:"failed"`
	TopSubjects []Count `json:"top_subjects"`
	Denials     []Count `json:"denials_by_reason"`
	Alerts      []Event `json:"alerts"`
	Admin       []Event `json:"admin_actions"`
	// Sensitive counts DLP findings in responses by kind and action
	// ("card mask"); Transit counts encryption API calls by operation and
	// outcome ("transit.decrypt ok"), which are too many to list.
	Sensitive []Count `json:"sensitive_data"`
	Transit   []Count `json:"encryption_api"`
}

// Count is one row of a Summary's tallies.
type Count struct {
	Key string `json:"key"`
	N   int    `json:"n"`
}

// Summarize reviews the events of dir's log since a time: requests,
// denials and failures, the top subjects (10), denials by reason (20),
// sensitive data found (50 kinds and actions), encryption API calls (10),
// every alert and every other administrative action.
func Summarize(dir string, since time.Time) (Summary, error) {
	s := Summary{Since: since.UTC().Format(time.RFC3339), Alerts: []Event{}, Admin: []Event{}}
	subjects, reasons, sensitive, transit := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	err := Each(dir, func(_ int64, ev Event, _ []byte) error {
		if t, err := time.Parse(time.RFC3339Nano, ev.Time); err != nil || t.Before(since) {
			return nil
		}
		switch ev.Kind {
		case KindAlert:
			s.Alerts = append(s.Alerts, ev)
			return nil
		case KindAdmin:
			if strings.HasPrefix(ev.Action, "transit.") {
				// The detail ends ": ok", ": refused..." or ": failed".
				result := "unknown"
				if i := strings.LastIndex(ev.Detail, ": "); i >= 0 {
					result, _, _ = strings.Cut(ev.Detail[i+2:], ":")
				}
				transit[ev.Action+" "+result]++
				return nil
			}
			s.Admin = append(s.Admin, ev)
			return nil
		}
		s.Requests++
		if ev.DLP != nil {
			for _, f := range ev.DLP.Findings {
				sensitive[f.Kind+" "+ev.DLP.Action] += f.Count
			}
		}
		if ev.Subject != "" {
			subjects[ev.Subject]++
		}
		switch Outcome(ev) {
		case "deny":
			s.Denied++
			for _, d := range ev.Decisions {
				if d.Outcome == "deny" {
					reasons[d.Reason]++
				}
			}
		case "error":
			s.Failed++
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	s.TopSubjects, s.Denials = top(subjects, 10), top(reasons, 20)
	s.Sensitive, s.Transit = top(sensitive, 50), top(transit, 10)
	return s, nil
}

// top returns the n largest counts, ties by key.
func top(m map[string]int, n int) []Count {
	out := make([]Count, 0, len(m))
	for k, v := range m {
		out = append(out, Count{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Key < out[j].Key })
	if len(out) > n {
		out = out[:n]
	}
	return out
}
