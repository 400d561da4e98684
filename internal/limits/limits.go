// Package limits is the data-access-control stage: smooth rate limits
// (GCRA), calendar quotas and concurrency limits, keyed by subject, API
// key, tenant, client IP or route, with tiers of limits (plans) assigned by
// role, and a pre-authentication limit by client IP. It sends the
// RateLimit headers of the IETF httpapi draft (or the older
// RateLimit-Limit/Remaining/Reset trio) and Retry-After with every 429.
//
// Counters live in a Backend: Memory for one gateway, Redis for a cluster,
// where every gateway sees the same counts. When the back end fails or is
// too slow, each route fails open or closed as configured, and the
// failure is counted and logged.
//
// It does not own what is counted in response bodies (records per session
// belongs to the response side) nor the network firewall.
package limits

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/jsonbody"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// limit is one compiled rate, quota or concurrency rule.
type limit struct {
	id       string // unique: "plan/NAME/LIMIT", "route/NAME/LIMIT" or "pre/LIMIT"
	name     string
	quoted   string // name as a structured-field string, for headers
	kind     Kind
	key      []string
	interval time.Duration
	tau      time.Duration
	burst    int64
	count    int64 // quota or concurrency limit
	month    bool
	lease    time.Duration
	window   time.Duration // for the policy header
}

type plan struct {
	name   string
	roles  []string
	limits []*limit
}

type routeLimits struct {
	name     string
	limits   []*limit
	failOpen bool
	records  *recordsRule
	checked  []*limit // limits and the records peek, for the request stage
}

// recordsRule is a route's threshold on records viewed.
type recordsRule struct {
	lim      *limit // kind Records: interval per record, tau the allowance
	path     []string
	folds    []string // foldPath(path)
	truncate bool
}

// Deps are what a Limiter is built with besides its config section.
type Deps struct {
	// Routes is the route table the routes' limits are indexed by.
	Routes []config.Route
	// Backend holds the counters; required.
	Backend Backend
	// Logger receives back-end failures (rate-limited).
	Logger *slog.Logger
	// Now is the clock for quota periods; default time.Now.
	Now func() time.Time
	// MaxBufferedBody is server.max_response_body_bytes: records in
	// responses up to this size are counted before they are sent.
	MaxBufferedBody int64
	// OnBackendError is called for every decision the back end failed to
	// make, with whether the request was admitted anyway (a metric).
	OnBackendError func(admitted bool)
}

// Limiter decides requests against the limits of a config.
type Limiter struct {
	backend  Backend
	plans    []plan
	routes   []routeLimits
	pre      []*limit
	preOpen  bool
	loc      *time.Location
	headers  string
	policies map[[2]int]string // (plan+1, route) -> RateLimit-Policy
	opt      Deps
	lastLog  atomic.Int64 // unix ns of the last outage line
	down     atomic.Bool  // an outage line was logged, its recovery not yet
	scratch  sync.Pool
	periods  [2]atomic.Pointer[calPeriod] // the current day and month
}

// calPeriod is a calendar period in the limits' time zone, kept until it
// ends so that requests do not recompute it.
type calPeriod struct {
	id         string // "2026-11-27" or "2026-11"
	start, end time.Time
}

type scratch struct {
	checks [MaxChecks]Check
	lims   [MaxChecks]*limit
	res    [MaxChecks]Result
	buf    []byte
}

// New compiles the limits section of a validated config and the limits of
// opt.Routes, counted in opt.Backend.
func New(cfg config.Limits, opt Deps) (*Limiter, error) {
	routes, backend := opt.Routes, opt.Backend
	if backend == nil {
		return nil, errors.New("limits: no counter back end")
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("limits.time_zone: %w", err)
	}
	l := &Limiter{backend: backend, loc: loc, headers: cfg.Headers, opt: opt,
		preOpen: cfg.OnBackendError == "open", policies: map[[2]int]string{}}
	l.scratch.New = func() any { return &scratch{} }
	for _, r := range cfg.PreAuth {
		l.pre = append(l.pre, rateLimit("pre/"+r.Name, r))
	}
	defer func() { // every limit, once compiled, gets its header form
		for _, ls := range l.allLimits() {
			ls.quoted = strconv.Quote(ls.name)
		}
	}()
	for _, p := range cfg.Plans {
		l.plans = append(l.plans, plan{name: p.Name, roles: p.Roles,
			limits: compile("plan/"+p.Name+"/", p.Rates, p.Quotas, p.Concurrency)})
	}
	l.routes = make([]routeLimits, len(routes))
	for i, r := range routes {
		rl := routeLimits{name: r.Name, failOpen: cfg.OnBackendError == "open"}
		if r.Limits != nil {
			rl.limits = compile("route/"+r.Name+"/", r.Limits.Rates, r.Limits.Quotas, r.Limits.Concurrency)
			rl.failOpen = r.Limits.OnBackendError == "open"
			if rec := r.Limits.Records; rec != nil {
				path, err := config.RecordsPath(rec.Path)
				if err != nil {
					return nil, fmt.Errorf("routes %s: limits.records.path: %w", r.Name, err)
				}
				interval := (rec.Window.Std() / time.Duration(rec.Max)).Round(time.Microsecond)
				rl.records = &recordsRule{path: path, folds: foldPath(path), truncate: rec.Action == "truncate", lim: &limit{
					// records/ROUTE, not route/ROUTE/records: a rate may be named records.
					id: "records/" + r.Name, name: "records", kind: Records, key: rec.Key,
					interval: interval, tau: interval * time.Duration(rec.Max), count: rec.Max, window: rec.Window.Std()}}
				rl.checked = append(slices.Clip(rl.limits), rl.records.lim)
			}
		}
		l.routes[i] = rl
	}
	for p := -1; p < len(l.plans); p++ {
		for r := range l.routes {
			var ls []*limit
			if p >= 0 {
				ls = append(ls, l.plans[p].limits...)
			}
			ls = append(ls, l.routes[r].limits...)
			if rec := l.routes[r].records; rec != nil {
				ls = append(ls, rec.lim)
			}
			if s := policy(ls); s != "" {
				l.policies[[2]int{p + 1, r}] = s
			}
		}
	}
	if s := policy(l.pre); s != "" {
		l.policies[[2]int{-1, -1}] = s
	}
	return l, nil
}

// allLimits returns every compiled limit.
func (l *Limiter) allLimits() []*limit {
	out := slices.Clone(l.pre)
	for _, p := range l.plans {
		out = append(out, p.limits...)
	}
	for _, r := range l.routes {
		out = append(out, r.limits...)
		if r.records != nil {
			out = append(out, r.records.lim)
		}
	}
	return out
}

func rateLimit(id string, r config.Rate) *limit {
	// Counters keep microseconds; validation keeps the rounding under 1%.
	interval := (r.Per.Std() / time.Duration(r.Requests)).Round(time.Microsecond)
	return &limit{id: id, name: r.Name, kind: Rate, key: r.Key, interval: interval,
		tau: interval * time.Duration(r.Burst), burst: int64(r.Burst), window: interval * time.Duration(r.Burst)}
}

func compile(prefix string, rates []config.Rate, quotas []config.Quota, conc []config.Concurrency) []*limit {
	var out []*limit
	for _, r := range rates {
		out = append(out, rateLimit(prefix+r.Name, r))
	}
	for _, q := range quotas {
		w := 24 * time.Hour
		if q.Period == "month" {
			w = 30 * 24 * time.Hour
		}
		out = append(out, &limit{id: prefix + q.Name, name: q.Name, kind: Quota, key: q.Key,
			count: q.Requests, month: q.Period == "month", window: w})
	}
	for _, c := range conc {
		out = append(out, &limit{id: prefix + c.Name, name: c.Name, kind: Concurrency, key: c.Key,
			count: int64(c.Max), lease: c.Lease.Std()})
	}
	return out
}

// policy renders the RateLimit-Policy field for limits (rates and quotas).
func policy(ls []*limit) string {
	var items []string
	for _, l := range ls {
		switch l.kind {
		case Rate:
			items = append(items, fmt.Sprintf("%q;q=%d;w=%d", l.name, l.burst, ceilSeconds(l.window)))
		case Quota:
			items = append(items, fmt.Sprintf("%q;q=%d;w=%d", l.name, l.count, ceilSeconds(l.window)))
		case Records:
			items = append(items, fmt.Sprintf("%q;q=%d;w=%d;qu=\"records\"", l.name, l.count, ceilSeconds(l.window)))
		}
	}
	return strings.Join(items, ", ")
}

func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// Stage returns the stage that applies plans and route limits; it runs
// after authorization, so only requests that would be served are counted.
func (l *Limiter) Stage() pipeline.RequestStage { return stage{l} }

// PreAuth returns the stage that applies limits.pre_auth by client IP
// before authentication, or nil when there are none.
func (l *Limiter) PreAuth() pipeline.RequestStage {
	if len(l.pre) == 0 {
		return nil
	}
	return preStage{l}
}

type stage struct{ l *Limiter }

func (stage) Name() string { return "limits" }

func (s stage) Request(ctx context.Context, x *pipeline.Exchange) error {
	l := s.l
	if x.Route == nil {
		return nil
	}
	rl := &l.routes[x.Route.Index]
	p := -1
	if x.Identity != nil {
		p = l.planFor(x.Identity)
	}
	if p < 0 && len(rl.limits) == 0 && rl.records == nil {
		return nil // nothing to count: no cost
	}
	var planLimits []*limit
	if p >= 0 {
		planLimits = l.plans[p].limits
	}
	routeLimits := rl.limits
	if rl.records != nil {
		// A body the gateway can count: whole (no ranges) and not
		// compressed. An explicit identity also stops the transport from
		// asking for gzip itself and streaming the decoded body without a
		// length, which would dodge counting before sending.
		x.SetUpstreamHeader("Accept-Encoding", "identity")
		x.DelUpstreamHeader("Range")
		x.DelUpstreamHeader("If-Range")
		routeLimits = rl.checked
	}
	return l.decide(ctx, x, planLimits, routeLimits, rl.failOpen, [2]int{p + 1, x.Route.Index})
}

type preStage struct{ l *Limiter }

func (preStage) Name() string { return "limits.pre_auth" }

func (s preStage) Request(ctx context.Context, x *pipeline.Exchange) error {
	return s.l.decide(ctx, x, s.l.pre, nil, s.l.preOpen, [2]int{-1, -1})
}

// planFor returns the index of the first plan that matches id, or -1.
func (l *Limiter) planFor(id *pipeline.Identity) int {
	for i, p := range l.plans {
		if len(p.roles) == 0 {
			return i
		}
		for _, r := range p.roles {
			if slices.Contains(id.Roles, r) {
				return i
			}
		}
	}
	return -1
}

func (l *Limiter) decide(ctx context.Context, x *pipeline.Exchange, a, b []*limit, failOpen bool, pol [2]int) error {
	sc := l.scratch.Get().(*scratch)
	defer l.scratch.Put(sc)
	now := l.opt.Now()
	n := 0
	var conc bool
	if len(a)+len(b) > MaxChecks {
		return l.failed(x, errTooManyChecks, false) // validation prevents it
	}
	for _, ls := range [2][]*limit{a, b} {
		for _, lim := range ls {
			sc.lims[n] = lim
			sc.checks[n] = l.check(sc, x, lim, now)
			conc = conc || lim.kind == Concurrency
			n++
		}
	}
	checks, res := sc.checks[:n], sc.res[:n]
	ok, err := l.backend.Take(ctx, checks, res)
	if err != nil {
		return l.failed(x, err, failOpen)
	}
	l.answered()
	for i := range res { // quotas end with their calendar period
		if checks[i].Kind == Quota {
			res[i].Reset = checks[i].Expires.Sub(now)
			if !res[i].Allowed {
				res[i].RetryAfter = res[i].Reset
			}
		}
	}
	l.setHeaders(x, sc, n, pol)
	if !ok {
		return l.refuse(sc, n)
	}
	if conc {
		held := make([]Check, 0, 2)
		for _, c := range checks {
			if c.Kind == Concurrency {
				held = append(held, c)
			}
		}
		be := l.backend
		x.Defer(func() { be.Release(held) })
	}
	return nil
}

// check builds the counter of lim for the request.
func (l *Limiter) check(sc *scratch, x *pipeline.Exchange, lim *limit, now time.Time) Check {
	b := append(sc.buf[:0], lim.id...)
	var ts, te int // the first key part's value: the tag
	for i, k := range lim.key {
		b = append(b, 0)
		if i == 0 {
			ts = len(b)
		}
		b = appendKeyPart(b, x, k)
		if i == 0 {
			te = len(b)
		}
	}
	if lim.kind == Records && x.Identity != nil && x.Identity.Session != "" {
		b = append(append(b, "\x00sid="...), x.Identity.Session...)
	}
	c := Check{Kind: lim.kind, Interval: lim.interval, Tau: lim.tau, Limit: lim.count, Lease: lim.lease, Mode: Peek}
	if lim.kind == Quota {
		p := l.period(now, lim.month)
		c.Expires = p.end
		b = append(append(b, 0), p.id...)
	}
	c.Key = string(b)
	c.Tag = c.Key[ts:te]
	if lim.kind == Concurrency {
		c.Token = x.RequestID + "/" + strconv.FormatInt(now.UnixNano(), 36)
	}
	sc.buf = b
	return c
}

// appendKeyPart appends the value of one key part, prefixed by its kind so
// that a subject never collides with an address.
func appendKeyPart(b []byte, x *pipeline.Exchange, part string) []byte {
	id := x.Identity
	switch part {
	case "apikey":
		if id != nil && id.CredentialID != "" {
			return append(append(b, "k="...), id.CredentialID...)
		}
		return appendKeyPart(b, x, "subject")
	case "tenant":
		if id != nil && id.Tenant != "" {
			return append(append(b, "t="...), id.Tenant...)
		}
		return appendKeyPart(b, x, "subject")
	case "subject":
		if id != nil && id.Subject != "" {
			return append(append(b, "s="...), id.Subject...)
		}
		return appendKeyPart(b, x, "ip")
	case "ip":
		a := x.ClientIP.Unmap().WithZone("")
		if a.Is6() {
			// One IPv6 client usually holds a whole /64: counting each
			// address apart would let it reset its limits at will.
			p, _ := a.Prefix(64)
			return p.AppendTo(append(b, "i="...))
		}
		return a.AppendTo(append(b, "i="...))
	case "route":
		if x.Route != nil {
			return append(append(b, "r="...), x.Route.Name...)
		}
		return append(b, "r="...)
	default: // global
		return append(b, '*')
	}
}

// period returns the current calendar day or month, computed once per
// period.
func (l *Limiter) period(now time.Time, month bool) *calPeriod {
	i := 0
	if month {
		i = 1
	}
	p := l.periods[i].Load()
	if p != nil && now.Before(p.end) && !now.Before(p.start) {
		return p
	}
	start, end := period(now.In(l.loc), month)
	layout := "2006-01-02"
	if month {
		layout = "2006-01"
	}
	p = &calPeriod{id: start.Format(layout), start: start, end: end}
	l.periods[i].Store(p)
	return p
}

// period returns the calendar day or month containing t, in t's location.
func period(t time.Time, month bool) (start, end time.Time) {
	y, m, d := t.Date()
	if month {
		start = time.Date(y, m, 1, 0, 0, 0, 0, t.Location())
		return start, time.Date(y, m+1, 1, 0, 0, 0, 0, t.Location())
	}
	start = time.Date(y, m, d, 0, 0, 0, 0, t.Location())
	return start, time.Date(y, m, d+1, 0, 0, 0, 0, t.Location())
}

// tightest returns the index of the rate or quota result with the fewest
// requests left (for a refusal: the refused one that frees up last), or
// -1.
func tightest(sc *scratch, n int) int {
	best := -1
	for i := 0; i < n; i++ {
		if sc.checks[i].Kind == Concurrency {
			continue
		}
		r, b := sc.res[i], Result{}
		if best >= 0 {
			b = sc.res[best]
		}
		switch {
		case best < 0:
			best = i
		case !r.Allowed && (b.Allowed || r.RetryAfter > b.RetryAfter):
			best = i
		case r.Allowed && b.Allowed && r.Remaining < b.Remaining:
			best = i
		}
	}
	return best
}

func (l *Limiter) setHeaders(x *pipeline.Exchange, sc *scratch, n int, pol [2]int) {
	if l.headers == "none" {
		return
	}
	i := tightest(sc, n)
	if i < 0 {
		return
	}
	r, lim := sc.res[i], sc.lims[i]
	t := ceilSeconds(r.Reset)
	if !r.Allowed {
		t = ceilSeconds(r.RetryAfter)
	}
	if l.headers == "legacy" {
		q := lim.count
		if lim.kind == Rate {
			q = lim.burst
		}
		x.SetResponseHeader("RateLimit-Limit", strconv.FormatInt(q, 10))
		x.SetResponseHeader("RateLimit-Remaining", strconv.FormatInt(r.Remaining, 10))
		x.SetResponseHeader("RateLimit-Reset", strconv.FormatInt(t, 10))
		return
	}
	x.SetResponseHeader("RateLimit-Policy", l.policies[pol])
	b := append(make([]byte, 0, 48), lim.quoted...)
	b = strconv.AppendInt(append(b, ";r="...), r.Remaining, 10)
	b = strconv.AppendInt(append(b, ";t="...), t, 10)
	x.SetResponseHeader("RateLimit", string(b))
}

// refuse builds the 429 for the refused check that frees up last.
func (l *Limiter) refuse(sc *scratch, n int) error {
	worst := -1
	for i := 0; i < n; i++ {
		if !sc.res[i].Allowed && (worst < 0 || sc.res[i].RetryAfter > sc.res[worst].RetryAfter) {
			worst = i
		}
	}
	lim, r := sc.lims[worst], sc.res[worst]
	var d *pipeline.Denial
	switch lim.kind {
	case Rate:
		d = pipeline.Deny(http.StatusTooManyRequests, ReasonRateExceeded,
			fmt.Sprintf("Rate limit %q exceeded; retry later.", lim.name))
	case Quota:
		d = pipeline.Deny(http.StatusTooManyRequests, ReasonQuotaExceeded,
			fmt.Sprintf("Quota %q exhausted for this period.", lim.name))
	case Records:
		d = pipeline.Deny(http.StatusTooManyRequests, ReasonRecordsExceeded,
			"This session has viewed all the records it may; retry later.")
	default:
		d = pipeline.Deny(http.StatusTooManyRequests, ReasonTooManyConcurrent,
			fmt.Sprintf("Too many requests in flight (limit %q).", lim.name))
	}
	d.Header = http.Header{"Retry-After": {strconv.FormatInt(max(ceilSeconds(r.RetryAfter), 1), 10)}}
	return d
}

// failed applies the route's failure mode to a back-end error.
func (l *Limiter) failed(x *pipeline.Exchange, err error, open bool) error {
	if l.opt.OnBackendError != nil {
		l.opt.OnBackendError(open)
	}
	// One line when an outage starts (and one when it ends, in
	// answered), at most one per 10s for a back end that flaps.
	now := time.Now().UnixNano()
	if last := l.lastLog.Load(); !l.down.Load() && now-last > int64(10*time.Second) && l.lastLog.CompareAndSwap(last, now) {
		l.down.Store(true)
		l.opt.Logger.Error("limits back end failed; requests are admitted or refused by on_backend_error until it recovers",
			"request_id", x.RequestID, "admitted", open, "error", err)
	}
	if open {
		return nil
	}
	d := pipeline.Deny(http.StatusServiceUnavailable, ReasonUnavailable,
		"The gateway cannot check its limits right now; retry shortly.")
	// No Cause: the line above already logs the outage, once rather
	// than once per request.
	d.Header = http.Header{"Retry-After": {"1"}}
	return d
}

// answered notes a decision the back end made, logging the end of a
// logged outage: one atomic load when all is well.
func (l *Limiter) answered() {
	if l.down.Load() && l.down.CompareAndSwap(true, false) {
		l.opt.Logger.Info("limits back end answering again")
	}
}

// Response returns the response stage that counts records, or nil when no
// route has a records threshold.
func (l *Limiter) Response() pipeline.ResponseStage {
	for i := range l.routes {
		if l.routes[i].records != nil {
			return respStage{l}
		}
	}
	return nil
}

type respStage struct{ l *Limiter }

func (respStage) Name() string { return "limits" }

// rule returns the records rule that applies to x's response, or nil, and
// whether the response can be counted. A success on a records route that
// cannot be counted (compressed although identity was asked for, a range,
// not JSON by jsonbody.IsJSON) is refused rather than passed: it would
// carry records past the threshold.
func (s respStage) rule(x *pipeline.Exchange) (*recordsRule, bool) {
	if x.Route == nil || x.Denial != nil || x.Response.Status < 200 || x.Response.Status > 299 ||
		x.In.Method == http.MethodHead || x.Response.Status == http.StatusNoContent {
		return nil, true
	}
	rule := s.l.routes[x.Route.Index].records
	if rule == nil || x.Response.Header == nil {
		return nil, true
	}
	h := x.Response.Header
	if h.Get("Content-Length") == "0" {
		return nil, true
	}
	if ce := h.Get("Content-Encoding"); (ce != "" && ce != "identity") || x.Response.Status == http.StatusPartialContent {
		return rule, false
	}
	return rule, jsonbody.IsJSON(h.Get("Content-Type"))
}

// WantsResponseBody asks for the body of a counted response whose length
// is known and small enough to hold, so that the threshold applies to it
// before it is sent.
func (s respStage) WantsResponseBody(x *pipeline.Exchange) bool {
	if rule, ok := s.rule(x); rule == nil || !ok {
		return false
	}
	n, err := strconv.ParseInt(x.Response.Header.Get("Content-Length"), 10, 64)
	return err == nil && n >= 0 && n <= s.l.opt.MaxBufferedBody
}

// uncountable refuses a response on a records route that cannot be
// counted.
func uncountable() *pipeline.Denial {
	return pipeline.Deny(http.StatusBadGateway, ReasonRecordsUncountable,
		"The upstream response cannot be counted against the records threshold.")
}

// Response counts the records of a buffered body and charges them: in
// refuse mode all or nothing (a 429 instead of the data), in truncate mode
// as many as are left (the array is cut to those). A body that repeats a
// name on the records path is refused as uncountable.
func (s respStage) Response(ctx context.Context, x *pipeline.Exchange) error {
	rule, countable := s.rule(x)
	switch {
	case rule == nil:
		return nil
	case !countable:
		return uncountable()
	case !x.Response.Buffered:
		return nil // streamed: TapResponseBody counts it
	}
	body := x.Response.Body
	scan := newRecordScanner(rule.path, rule.folds, 0)
	_, _ = scan.Write(body)
	if scan.dup {
		// A name on the path twice (by jsonbody.Fold): clients disagree
		// on which array they read, so no count is the one they see.
		return uncountable()
	}
	if !scan.found() || scan.count == 0 {
		return nil
	}
	mode := Exact
	if rule.truncate {
		mode = UpTo
	}
	res, counted, err := s.l.charge(ctx, x, rule, scan.count, mode, s.l.routes[x.Route.Index].failOpen)
	if !counted {
		return err // nil when the route fails open
	}
	s.l.recordsHeader(x, rule, res)
	switch {
	case res.Taken == scan.count:
		x.Response.Records = scan.count
		return nil
	case rule.truncate:
		cut := newRecordScanner(rule.path, rule.folds, res.Taken)
		_, _ = cut.Write(body)
		x.Response.Body = cut.truncate(body)
		x.Response.Records = res.Taken
		return nil
	default:
		d := pipeline.Deny(http.StatusTooManyRequests, ReasonRecordsExceeded,
			"This response has more records than this session may still view.")
		d.Header = http.Header{"Retry-After": {strconv.FormatInt(max(ceilSeconds(res.RetryAfter), 1), 10)}}
		return d
	}
}

// TapResponseBody counts the records of a streamed body as it passes and
// charges them, all of them, when it ends: they were delivered.
func (s respStage) TapResponseBody(x *pipeline.Exchange) io.Writer {
	rule, countable := s.rule(x)
	if rule == nil || !countable {
		return nil
	}
	scan := newRecordScanner(rule.path, rule.folds, 0)
	l := s.l
	x.Defer(func() {
		// Whatever reached the client counts, even when the body ended
		// early (a client that hangs up mid-array saw those records).
		if scan.count > 0 {
			x.Response.Records = scan.count
			_, _, _ = l.charge(context.Background(), x, rule, scan.count, Force, true)
		}
	})
	return scan
}

// charge takes n records from the identity's allowance. On a back-end
// error it reports counted false, after failed counted and logged it, and
// the refusal to send when the route fails closed.
func (l *Limiter) charge(ctx context.Context, x *pipeline.Exchange, rule *recordsRule, n int64, mode Mode, failOpen bool) (Result, bool, error) {
	sc := l.scratch.Get().(*scratch)
	defer l.scratch.Put(sc)
	c := l.check(sc, x, rule.lim, l.opt.Now())
	c.Cost, c.Mode = n, mode
	sc.checks[0] = c
	if _, err := l.backend.Take(ctx, sc.checks[:1], sc.res[:1]); err != nil {
		return Result{}, false, l.failed(x, err, failOpen)
	}
	l.answered()
	return sc.res[0], true, nil
}

// recordsHeader adds the session's records left to the RateLimit field.
func (l *Limiter) recordsHeader(x *pipeline.Exchange, rule *recordsRule, r Result) {
	if l.headers != "draft" {
		return
	}
	t := ceilSeconds(r.Reset)
	if r.Remaining == 0 {
		t = ceilSeconds(r.RetryAfter)
	}
	item := fmt.Sprintf("%q;r=%d;t=%d", rule.lim.name, r.Remaining, t)
	h := x.Response.Header
	if v := h.Get("RateLimit"); v != "" && !strings.Contains(v, `"records"`) {
		item = v + ", " + item
	}
	h.Set("RateLimit", item)
}
