package limits

import (
	"context"
	"errors"
	"time"
)

// Kind is what a counter counts.
type Kind uint8

// The kinds of counters.
const (
	// Rate is a GCRA rate limit: Interval is the emission interval and Tau
	// the burst tolerance (Interval × burst).
	Rate Kind = iota + 1
	// Quota counts requests until Expires, the end of the calendar period;
	// Limit is the number admitted.
	Quota
	// Concurrency counts requests in flight; Limit is the number admitted,
	// Lease bounds how long a slot is held, Token names the slot.
	Concurrency
	// Records is a GCRA counter of records viewed (Interval per record,
	// Tau the whole allowance) charged Cost records at once, as Mode says.
	Records
)

// Mode says how a Records check is charged.
type Mode uint8

// The modes of a Records check.
const (
	// Peek admits when at least one record is left and charges nothing.
	Peek Mode = iota
	// Exact charges Cost records if that many are left, else nothing.
	Exact
	// UpTo charges as many of Cost as are left (Result.Taken).
	UpTo
	// Force charges Cost whatever is left, going into debt: the records
	// were already delivered.
	Force
)

// MaxChecks is the most counters one request is tested against: the
// limits of a plan and of a route, at most eight each (config validation
// enforces it).
const MaxChecks = 16

var errTooManyChecks = errors.New("limits: more than 16 counters for one request")

// Check is one counter a request is tested against.
type Check struct {
	Kind Kind
	// Key names the counter; it holds the limit and the key values.
	Key string
	// Tag groups counters that a back end must update together (a Redis
	// Cluster hash slot): all of one identity's counters share a tag.
	Tag      string
	Interval time.Duration
	Tau      time.Duration
	Limit    int64
	Expires  time.Time
	Lease    time.Duration
	Token    string
	Cost     int64
	Mode     Mode
}

// Result is the outcome of one Check.
type Result struct {
	Allowed bool
	// Remaining is how many more requests the counter admits now.
	Remaining int64
	// Reset is how long until the counter is back to its full allowance
	// (rates; quotas fill it in from the period).
	Reset time.Duration
	// RetryAfter is, for a refused check, how long until a request would
	// be admitted.
	RetryAfter time.Duration
	// Taken is how many records a Records check charged.
	Taken int64
}

// commits reports whether a check lets its group be counted even when it
// is not Allowed: partial and forced record charges always are.
func (c *Check) commits() bool {
	return c.Kind == Records && (c.Mode == UpTo || c.Mode == Force)
}

// Backend holds the counters. Take is atomic for checks that share a tag:
// it admits the request only if every check passes, and then counts it in
// each; a refused request counts nowhere in that group (UpTo and Force
// record charges never hold a group back).
type Backend interface {
	// Take decides checks; res has one entry per check.
	Take(ctx context.Context, checks []Check, res []Result) (bool, error)
	// Release frees the concurrency slots of checks that Take admitted.
	Release(checks []Check)
	// Close stops background work.
	Close() error
}
