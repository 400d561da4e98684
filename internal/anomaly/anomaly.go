// Package anomaly watches the stream of finished exchanges for attack
// patterns and acts on them. Its first detector counts authentication
// failures per client IP (credential stuffing, token guessing): past a
// threshold within a window it raises an alert and bans the address for a
// while through the firewall's ban list, so the next request is refused
// before any authenticator runs.
//
// Detectors are observers, which must not make a request wait: with a
// Runner, what a tripped detector does (a ban in Redis, an alert in a
// synced audit log) runs on the runner's goroutine, in order, from a
// bounded queue.
//
// It does not own the ban list (package firewall) nor where alerts are
// kept (the audit log and the operational log, through the Alert func).
package anomaly

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
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
	// run runs a tripped detector's ban and alert; nil runs them inline.
	run func(func(context.Context))

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
		if d.Stage == "authn" && d.Outcome == pipeline.Denied && d.Reason != "authn.missing_credentials" &&
			// A store or an introspection endpoint that is down refuses
			// everyone: that is an outage, not a client guessing.
			!strings.HasSuffix(d.Reason, "_unavailable") {
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
	n := w.n
	a.mu.Unlock()
	if !trip {
		return
	}
	detail := fmt.Sprintf("%d authentication failures in %v", n, a.cfg.Window.Std())
	act := func(ctx context.Context) {
		detail := detail
		if a.cfg.Ban > 0 && a.ban != nil {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
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
	if a.run != nil {
		a.run(act)
		return
	}
	act(context.Background())
}

// Enumeration detects object-id enumeration (BOLA probing): one identity
// (or, when anonymous, one client IP) asking for more than max distinct
// objects (route parameter values) that it was refused (403) or that do
// not exist (404) within a window. It alerts once per window.
type Enumeration struct {
	cfg   config.Enumeration
	alert Alert
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*distinct
}

type distinct struct {
	start   time.Time
	values  map[string]bool
	alerted bool
}

// NewEnumeration returns the detector, or nil when it is off.
func NewEnumeration(cfg config.Enumeration, alert Alert, now func() time.Time) *Enumeration {
	if cfg.MaxDistinct <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Enumeration{cfg: cfg, alert: alert, now: now, seen: map[string]*distinct{}}
}

// who names the actor of an exchange: its subject, or its address.
func who(x *pipeline.Exchange) string {
	if x.Identity != nil && x.Identity.Subject != "" {
		return "subject " + x.Identity.Subject
	}
	return "client " + x.ClientIP.Unmap().String()
}

// Observe counts the objects of refused or missing lookups.
func (e *Enumeration) Observe(x *pipeline.Exchange) {
	if (x.Response.Status != 403 && x.Response.Status != 404) || len(x.Params) == 0 || x.Route == nil {
		return
	}
	actor := who(x)
	now := e.now()
	e.mu.Lock()
	d := e.seen[actor]
	if d == nil || now.Sub(d.start) > e.cfg.Window.Std() {
		if d == nil && len(e.seen) >= maxTracked {
			clear(e.seen)
		}
		d = &distinct{start: now, values: map[string]bool{}}
		e.seen[actor] = d
	}
	if len(d.values) <= e.cfg.MaxDistinct { // bounded: no need to remember more
		d.values[x.Route.Name+"\x00"+x.Params[0].Value] = true
	}
	trip := len(d.values) > e.cfg.MaxDistinct && !d.alerted
	if trip {
		d.alerted = true
	}
	e.mu.Unlock()
	if trip && e.alert != nil {
		e.alert("anomaly.enumeration", x.ClientIP.Unmap().String(),
			fmt.Sprintf("%s was refused or missed more than %d distinct objects in %v", actor, e.cfg.MaxDistinct, e.cfg.Window.Std()))
	}
}

// Scraping alerts when an identity reaches its records threshold (the
// limits stage refused it with limits.records_exceeded), once per window.
type Scraping struct {
	window time.Duration
	alert  Alert
	now    func() time.Time

	mu   sync.Mutex
	last map[string]time.Time
}

// NewScraping returns the detector, or nil when it is off.
func NewScraping(cfg config.Scraping, alert Alert, now func() time.Time) *Scraping {
	if !cfg.Enabled {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Scraping{window: cfg.Window.Std(), alert: alert, now: now, last: map[string]time.Time{}}
}

// Observe looks for a records threshold refusal.
func (s *Scraping) Observe(x *pipeline.Exchange) {
	if x.Denial == nil || x.Denial.Reason != "limits.records_exceeded" {
		return
	}
	actor := who(x)
	now := s.now()
	s.mu.Lock()
	t, ok := s.last[actor]
	fire := !ok || now.Sub(t) > s.window
	if fire {
		if len(s.last) >= maxTracked {
			clear(s.last)
		}
		s.last[actor] = now
	}
	s.mu.Unlock()
	if fire && s.alert != nil {
		s.alert("anomaly.scraping", x.ClientIP.Unmap().String(), actor+" reached its records threshold")
	}
}

// NewNetwork alerts when a credential (an API key, a token's session) is
// used from a network it was not seen on before: a /24 for IPv4, a /48 for
// IPv6. A credential's first networks are learnt without alerts (learn),
// then each new one raises an alert.
type NewNetwork struct {
	learn int
	alert Alert

	mu   sync.Mutex
	nets map[string]map[netip.Prefix]bool
}

// NewNewNetwork returns the detector, or nil when it is off.
func NewNewNetwork(cfg config.NewNetwork, alert Alert) *NewNetwork {
	if cfg.Learn <= 0 {
		return nil
	}
	return &NewNetwork{learn: cfg.Learn, alert: alert, nets: map[string]map[netip.Prefix]bool{}}
}

// Observe records the network of an authenticated request.
func (n *NewNetwork) Observe(x *pipeline.Exchange) {
	if x.Identity == nil || x.Identity.CredentialID == "" || !x.ClientIP.IsValid() {
		return
	}
	ip := x.ClientIP.Unmap()
	bits := 24
	if ip.Is6() {
		bits = 48
	}
	p, _ := ip.Prefix(bits)
	cred := x.Identity.CredentialID
	n.mu.Lock()
	seen := n.nets[cred]
	if seen == nil {
		if len(n.nets) >= maxTracked {
			clear(n.nets)
		}
		seen = map[netip.Prefix]bool{}
		n.nets[cred] = seen
	}
	fire := false
	if !seen[p] && len(seen) < 64 { // a credential seen from 64 networks is not watched further
		fire = len(seen) >= n.learn
		seen[p] = true
	}
	n.mu.Unlock()
	if fire && n.alert != nil {
		n.alert("anomaly.new_network", ip.String(), fmt.Sprintf("credential %s of %s used from %s for the first time", cred, who(x), p))
	}
}

// Detectors runs several detectors as one observer.
type Detectors []pipeline.Observer

// Observe hands x to every detector.
func (d Detectors) Observe(x *pipeline.Exchange) {
	for _, o := range d {
		o.Observe(x)
	}
}

// FromConfig builds the detectors cfg turns on, or nil when none is.
//
// run, if not nil, runs what a tripped detector does (a ban, an alert)
// off the request goroutine (a Runner's Go): a ban in Redis and an alert
// in a synced audit log each wait for a round trip or a disk, which an
// observer must not make the request wait for.
func FromConfig(cfg config.Anomalies, ban Ban, alert Alert, run func(func(context.Context))) Detectors {
	var d Detectors
	if a := NewAuthFailures(cfg.AuthFailures, ban, alert, nil); a != nil {
		a.run = run
		d = append(d, a)
	}
	if run != nil && alert != nil {
		inline := alert
		alert = func(action, clientIP, detail string) { run(func(context.Context) { inline(action, clientIP, detail) }) }
	}
	if e := NewEnumeration(cfg.Enumeration, alert, nil); e != nil {
		d = append(d, e)
	}
	if s := NewScraping(cfg.Scraping, alert, nil); s != nil {
		d = append(d, s)
	}
	if n := NewNewNetwork(cfg.NewNetwork, alert); n != nil {
		d = append(d, n)
	}
	if r := NewRateSpike(cfg.RateSpike, alert, nil); r != nil {
		d = append(d, r)
	}
	return d
}

// RateSpike alerts when an identity's requests in the current minute pass
// factor times its own baseline (a moving average of its past minutes,
// learnt over ten of them) and at least min: a stolen credential put to
// work, or a client gone wild. Once per minute per identity.
type RateSpike struct {
	cfg   config.RateSpike
	alert Alert
	now   func() time.Time

	mu  sync.Mutex
	ids map[string]*rate
}

type rate struct {
	minute   int64   // the current minute (unix minutes)
	n        int     // requests in it
	baseline float64 // moving average of past minutes
	minutes  int     // how many minutes the baseline has seen
	alerted  bool
}

// NewRateSpike returns the detector, or nil when it is off.
func NewRateSpike(cfg config.RateSpike, alert Alert, now func() time.Time) *RateSpike {
	if cfg.Factor <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &RateSpike{cfg: cfg, alert: alert, now: now, ids: map[string]*rate{}}
}

// Observe counts an authenticated request.
func (r *RateSpike) Observe(x *pipeline.Exchange) {
	if x.Identity == nil || x.Identity.Subject == "" {
		return
	}
	actor := who(x)
	m := r.now().Unix() / 60
	r.mu.Lock()
	s := r.ids[actor]
	if s == nil {
		if len(r.ids) >= maxTracked {
			clear(r.ids)
		}
		s = &rate{minute: m}
		r.ids[actor] = s
	}
	if m != s.minute {
		// Close the minutes that passed, quiet ones (n = 0) included.
		for gap := m - s.minute; gap > 0 && s.minutes < 1<<20; gap-- {
			s.baseline = 0.9*s.baseline + 0.1*float64(s.n)
			s.n, s.minutes = 0, s.minutes+1
			if gap > 60 { // an hour of silence: start the average over
				s.baseline, s.minutes = 0, 0
				break
			}
		}
		s.minute, s.alerted = m, false
	}
	s.n++
	trip := s.minutes >= 10 && !s.alerted && s.n >= r.cfg.Min && float64(s.n) > float64(r.cfg.Factor)*max(s.baseline, 1)
	if trip {
		s.alerted = true
	}
	n, base := s.n, s.baseline
	r.mu.Unlock()
	if trip && r.alert != nil {
		r.alert("anomaly.rate_spike", x.ClientIP.Unmap().String(),
			fmt.Sprintf("%s sent %d requests this minute, %.0fx its baseline of %.1f a minute", actor, n, float64(n)/max(base, 1), base))
	}
}

// Runner runs detectors' actions one at a time, in order, on a goroutine
// of its own, from a bounded queue. When the queue is full an action is
// dropped and counted, never waited for: the request goes first. Each
// action gets a context that Close cancels, so a ban stuck on an
// unreachable Redis cannot hold up shutdown; the alerts still run.
type Runner struct {
	q       chan func(context.Context)
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	log     *slog.Logger
	dropped atomic.Int64

	mu     sync.RWMutex // guards closed against Go racing Close
	closed bool
}

// NewRunner starts a runner with a queue of size actions.
func NewRunner(size int, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{q: make(chan func(context.Context), size), done: make(chan struct{}), ctx: ctx, cancel: cancel, log: log}
	go func() {
		defer close(r.done)
		for f := range r.q {
			f(r.ctx)
		}
	}()
	return r
}

// Go queues f, or drops it (counted; logged on the first drop and every
// thousandth) when the queue is full or the runner is closed.
func (r *Runner) Go(f func(context.Context)) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if !r.closed {
		select {
		case r.q <- f:
			return
		default:
		}
	}
	if n := r.dropped.Add(1); n == 1 || n%1000 == 0 {
		r.log.Warn("anomaly: actions (bans or alerts) dropped: the queue is full or closed", "dropped", n)
	}
}

// Dropped counts the actions Go dropped.
func (r *Runner) Dropped() int64 { return r.dropped.Load() }

// Close cancels the actions' context (a pending ban gives up at once),
// runs what is queued, and stops.
func (r *Runner) Close() {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.cancel()
		close(r.q)
	}
	r.mu.Unlock()
	<-r.done
}
