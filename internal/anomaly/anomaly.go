// Package anomaly watches the stream of finished exchanges for attack
// patterns and acts on them. Its first detector counts authentication
// failures per client IP (credential stuffing, token guessing): past a
// threshold within a window it raises an alert and bans the address for a
// while through the firewall's ban list, so the next request is refused
// before any authenticator runs.
//
// It does not own the ban list (package firewall) nor where alerts are
// kept (the audit log and the operational log, through the Alert func).
package anomaly

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// Ban bans an address for ttl.
type Ban func(ctx context.Context, addr netip.Addr, ttl time.Duration, reason string) error

// Alert reports an anomaly: what was seen (action), from where, and how.
type Alert func(action, clientIP, detail string)

// maxTracked bounds the addresses counted at once; when full, the counts
// start over (an attacker spreading over more addresses than this is not
// the pattern this detector is for).
const maxTracked = 100000

// AuthFailures is the credential-stuffing detector; it is a
// pipeline.Observer and safe for concurrent use.
type AuthFailures struct {
	cfg   config.AuthFailures
	ban   Ban
	alert Alert
	now   func() time.Time

	mu     sync.Mutex
	counts map[netip.Addr]*window
}

type window struct {
	start  time.Time
	n      int
	banned bool
}

// NewAuthFailures returns the detector, or nil when it is off.
func NewAuthFailures(cfg config.AuthFailures, ban Ban, alert Alert, now func() time.Time) *AuthFailures {
	if cfg.Max <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &AuthFailures{cfg: cfg, ban: ban, alert: alert, now: now, counts: map[netip.Addr]*window{}}
}

// failed reports whether the exchange was refused by authentication with
// a credential (a request that sent none is not guessing).
func failed(x *pipeline.Exchange) bool {
	for _, d := range x.Decisions {
		if d.Stage == "authn" && d.Outcome == pipeline.Denied && d.Reason != "authn.missing_credentials" {
			return true
		}
	}
	return false
}

// Observe counts the exchange if it failed authentication.
func (a *AuthFailures) Observe(x *pipeline.Exchange) {
	if !failed(x) || !x.ClientIP.IsValid() {
		return
	}
	ip := x.ClientIP.Unmap()
	now := a.now()
	a.mu.Lock()
	w := a.counts[ip]
	if w == nil || now.Sub(w.start) > a.cfg.Window.Std() {
		if w == nil && len(a.counts) >= maxTracked {
			clear(a.counts)
		}
		w = &window{start: now}
		a.counts[ip] = w
	}
	w.n++
	trip := w.n >= a.cfg.Max && !w.banned
	if trip {
		w.banned = true
	}
	a.mu.Unlock()
	if !trip {
		return
	}
	detail := fmt.Sprintf("%d authentication failures in %v", w.n, a.cfg.Window.Std())
	if a.cfg.Ban > 0 && a.ban != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := a.ban(ctx, ip, a.cfg.Ban.Std(), "anomaly: "+detail)
		cancel()
		if err != nil {
			detail += "; the ban failed: " + err.Error()
		} else {
			detail += fmt.Sprintf("; banned for %v", a.cfg.Ban.Std())
		}
	}
	if a.alert != nil {
		a.alert("anomaly.auth_failures", ip.String(), detail)
	}
}
