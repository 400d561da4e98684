// Package scan owns rampart scan's engine: the session a scan runs in
// (the target, the identities, a client that contacts only the target and
// the scanner's own canary, paced to a rate cap and within a request
// budget), the requests built from an OpenAPI spec, the discovery of real
// object ids and their owners, the pre-flight proof that each identity
// is authenticated, the response-similarity judge, evidence and curl
// commands for findings, and the run that executes a list of checks.
//
// The checks themselves live in one package per family (scan/authz,
// scan/authn, scan/exposure, scan/limits, ...), each behind the Check
// interface; scan/suite assembles them in a fixed order. Nothing here
// knows a particular check.
package scan

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// Check is one family of checks. Run sends its requests through the
// session and reports findings with s.Report; it returns when done or
// when ctx ends (an error from Send ends it early, and Run returns it).
type Check interface {
	// Name is a short name for progress and --dry-run.
	Name() string
	// Rules lists the rules the check can report.
	Rules() []findings.Rule
	// Run runs the check.
	Run(ctx context.Context, s *Session) error
}

// Options configure a scan.
type Options struct {
	Spec *openapi.Spec
	// Target is the API's base URL (it overrides the spec's servers).
	Target *url.URL
	// Identities are the principals, two or more for the authorization
	// checks.
	Identities []*Identity
	// Rate caps requests per second (0: 20).
	Rate float64
	// Budget caps requests (0: 5000).
	Budget int
	// AllowWrites lets checks change objects the scan did not create.
	AllowWrites bool
	// Timeout bounds each request (0: 10 s).
	Timeout time.Duration
	// Transport carries TLS settings for https targets (a CA, or none).
	Transport *http.Transport
	// AllowHosts are extra host:port pairs identities may contact.
	AllowHosts []string
	// Seeds are recorded requests (ParseSeeds) that feed discovery.
	Seeds []Seed
	// Checks run in order.
	Checks []Check
	// Only and Skip select rules by id or id prefix.
	Only, Skip []string
	// Version is rampart's version, for reports.
	Version string
	// Logger receives progress details; nil discards.
	Logger *slog.Logger
	// Progress, if set, is called after each request and phase change.
	Progress func(Progress)
}

// Progress is a snapshot of a running scan.
type Progress struct {
	Phase          string
	OpsDone, Ops   int
	Requests       int
	Budget         int
	Findings       int
	Elapsed        time.Duration
	EstimatedTotal time.Duration
}

// Session is one scan in progress, shared by the checks. It is safe for
// concurrent use.
type Session struct {
	Spec        *openapi.Spec
	Target      *url.URL
	Identities  []*Identity
	AllowWrites bool
	Ops         []*Op
	// Canary is the scanner's own loopback server (SSRF proof).
	Canary *Canary

	opts   Options
	client *client
	log    *slog.Logger
	start  time.Time

	mu       sync.Mutex // guards the fields below
	report   []findings.Finding
	notes    []string
	objects  []*Object
	views    map[string]map[string]*Exchange // op key -> identity name ("" anonymous) -> exchange
	created  []*Object
	phase    string
	opsDone  int
	listSeen map[*Object]map[*Identity]bool
	// subjectTried: op key + identity name whose subject was tried as id.
	subjectTried map[string]bool
	facts        map[string]bool
	unmatched    []Seed
	findingN     atomic.Int64
	only         func(rule string) bool
}

// Object is a real object the scan knows: the item path it is read at,
// its id, and who owns it.
type Object struct {
	// Path is the item operation's template, for example /users/{id}.
	Path string
	// Param is the template parameter holding the id.
	Param string
	// ID is the object's id.
	ID string
	// Parents are the values of the template's other parameters.
	Parents map[string]string
	// Owner is the identity that owns it, nil when unknown.
	Owner *Identity
	// Created is true when the scan created it (and may change it).
	Created bool
}

// Values returns the path parameter values that address the object.
func (o *Object) Values() map[string]string {
	v := map[string]string{o.Param: o.ID}
	for k, p := range o.Parents {
		v[k] = p
	}
	return v
}

// Writable reports whether the scan may change the object.
func (s *Session) Writable(o *Object) bool { return o.Created || s.AllowWrites }

// ErrNotAuthenticated is returned when an identity's pre-flight probe
// fails: its credentials do not authenticate it.
var ErrNotAuthenticated = errors.New("identity is not authenticated")

// New prepares a session: it builds the operations and the client but
// sends nothing.
func New(o Options) (*Session, error) {
	if o.Spec == nil || o.Target == nil {
		return nil, errors.New("scan: a spec and a target are required")
	}
	if o.Target.Scheme != "http" && o.Target.Scheme != "https" || o.Target.Host == "" {
		return nil, fmt.Errorf("target %q: must be an http(s) URL", o.Target.Redacted())
	}
	if o.Rate == 0 {
		o.Rate = 20
	}
	if o.Budget == 0 {
		o.Budget = 5000
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	seen := map[string]bool{}
	for _, id := range o.Identities {
		if seen[id.Name] {
			return nil, fmt.Errorf("identity %s is given twice", id.Name)
		}
		seen[id.Name] = true
	}
	s := &Session{Spec: o.Spec, Target: o.Target, Identities: o.Identities, AllowWrites: o.AllowWrites,
		opts: o, log: o.Logger, views: map[string]map[string]*Exchange{}}
	canary, err := newCanary()
	if err != nil {
		return nil, err
	}
	s.Canary = canary
	s.client = newClient(o.Target, o.Rate, o.Budget, o.Timeout, o.Transport, append([]string{canary.Addr()}, o.AllowHosts...)...)
	s.client.onSend = func() { s.progress() }
	for _, id := range o.Identities {
		id.bind(s.client)
	}
	for _, op := range o.Spec.Operations {
		s.Ops = append(s.Ops, &Op{Operation: op, Params: pathParams(op.Path), RequiresAuth: o.Spec.RequiresAuth(op), Privileged: isPrivileged(op)})
	}
	s.only = func(rule string) bool {
		match := func(list []string) bool {
			return slices.ContainsFunc(list, func(p string) bool {
				return rule == p || strings.HasPrefix(rule, p+".") || strings.HasPrefix(rule, p) && strings.HasSuffix(p, ".")
			})
		}
		if len(o.Only) > 0 && !match(o.Only) {
			return false
		}
		return !match(o.Skip)
	}
	return s, nil
}

// Close stops the canary.
func (s *Session) Close() { s.Canary.Close() }

// Enabled reports whether a rule is selected by --checks and --skip.
func (s *Session) Enabled(rule string) bool { return s.only(rule) }

// Send sends r as id (nil: anonymous), paced and counted.
func (s *Session) Send(ctx context.Context, r *Request, id *Identity) (*Exchange, error) {
	return s.client.do(ctx, r, id, true)
}

// SendUnpaced sends r without the rate cap (bounded bursts only); it
// still counts against the budget.
func (s *Session) SendUnpaced(ctx context.Context, r *Request, id *Identity) (*Exchange, error) {
	return s.client.do(ctx, r, id, false)
}

// DialTLS opens a TLS connection to the target with cfg, for the TLS
// probes; it counts against the budget like a request. The caller closes
// the connection.
func (s *Session) DialTLS(ctx context.Context, cfg *tls.Config) (*tls.Conn, error) {
	c, err := s.Dial(ctx)
	if err != nil {
		return nil, err
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = s.Target.Hostname()
	}
	tc := tls.Client(c, cfg)
	hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		_ = c.Close()
		return nil, err
	}
	return tc, nil
}

// Dial opens a TCP connection to the target (and only to it), for probes
// that speak below HTTP, such as raw TLS handshakes; it counts against
// the budget and the rate like a request. The caller closes it.
func (s *Session) Dial(ctx context.Context) (net.Conn, error) {
	if err := s.client.take(); err != nil {
		return nil, err
	}
	if err := s.client.wait(ctx); err != nil {
		return nil, err
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	return d.DialContext(ctx, "tcp", hostPort(s.Target))
}

// TLSConfig returns the TLS settings requests use (the --cacert roots),
// for probes that start from them.
func (s *Session) TLSConfig() *tls.Config {
	if s.opts.Transport != nil && s.opts.Transport.TLSClientConfig != nil {
		return s.opts.Transport.TLSClientConfig.Clone()
	}
	return &tls.Config{}
}

// SetFact records something one check learned for a later one (for
// example "rate-limited": a burst met a 429).
func (s *Session) SetFact(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.facts == nil {
		s.facts = map[string]bool{}
	}
	s.facts[name] = true
}

// Fact reports whether a fact was recorded.
func (s *Session) Fact(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts[name]
}

// URL returns the absolute URL a request goes to.
func (s *Session) URL(r *Request) string { return s.client.url(r) }

// Requests returns how many requests were sent.
func (s *Session) Requests() int { return int(s.client.sent.Load()) }

// Note records something the user should know that is not a finding.
func (s *Session) Note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// Report records a finding unless its rule is deselected.
func (s *Session) Report(f findings.Finding) {
	if !s.only(f.RuleID) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.report {
		if old.RuleID == f.RuleID && old.Method == f.Method && old.PathTemplate == f.PathTemplate && old.Key == f.Key {
			return
		}
	}
	s.report = append(s.report, f)
	s.findingN.Add(1)
}

// View returns the recorded exchange of identity name ("" anonymous) on
// the operation, from discovery.
func (s *Session) View(op *Op, name string) *Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.views[op.Key()][name]
}

func (s *Session) setView(op *Op, name string, ex *Exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.views[op.Key()]
	if m == nil {
		m = map[string]*Exchange{}
		s.views[op.Key()] = m
	}
	m[name] = ex
}

// FirstView returns the first successful discovery exchange on op among
// ids (all identities when none are given), or nil.
func (s *Session) FirstView(op *Op, ids ...*Identity) *Exchange {
	if len(ids) == 0 {
		ids = s.Identities
	}
	for _, id := range ids {
		if v := s.View(op, id.Name); Success(v) {
			return v
		}
	}
	return nil
}

// Views returns every recorded exchange, for checks that look at all
// responses (exposure).
func (s *Session) Views() []*Exchange {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Exchange
	for _, op := range s.Ops {
		m := s.views[op.Key()]
		names := make([]string, 0, len(m))
		for n := range m {
			names = append(names, n)
		}
		slices.Sort(names)
		for _, n := range names {
			out = append(out, m[n])
		}
	}
	return out
}

// AllObjects returns every known object.
func (s *Session) AllObjects() []*Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.objects)
}

// Objects returns the known objects read at the item template path.
func (s *Session) Objects(path string) []*Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*Object
	for _, o := range s.objects {
		if o.Path == path {
			out = append(out, o)
		}
	}
	return out
}

// OwnObject returns an object at path owned by id, if the scan knows one.
func (s *Session) OwnObject(path string, id *Identity) *Object {
	for _, o := range s.Objects(path) {
		if o.Owner == id {
			return o
		}
	}
	return nil
}

// AddObject records an object (deduplicated by path and id). It returns
// the recorded object.
func (s *Session) AddObject(o *Object) *Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.objects {
		if old.Path == o.Path && old.ID == o.ID && maps.Equal(old.Parents, o.Parents) {
			if old.Owner == nil && o.Owner != nil {
				old.Owner = o.Owner
			}
			old.Created = old.Created || o.Created
			return old
		}
	}
	s.objects = append(s.objects, o)
	if o.Created {
		s.created = append(s.created, o)
	}
	return o
}

// Privileged returns the identities marked privileged.
func (s *Session) Privileged() []*Identity {
	var out []*Identity
	for _, id := range s.Identities {
		if id.Privileged {
			out = append(out, id)
		}
	}
	return out
}

// Unprivileged returns the identities not marked privileged.
func (s *Session) Unprivileged() []*Identity {
	var out []*Identity
	for _, id := range s.Identities {
		if !id.Privileged {
			out = append(out, id)
		}
	}
	return out
}

// OpDone counts an operation as done, for the progress bar.
func (s *Session) setPhase(p string, opsDone int) {
	s.mu.Lock()
	s.phase, s.opsDone = p, opsDone
	s.mu.Unlock()
	s.progress()
}

func (s *Session) progress() {
	if s.opts.Progress == nil {
		return
	}
	s.mu.Lock()
	p := Progress{Phase: s.phase, OpsDone: s.opsDone, Ops: len(s.opts.Checks) + 1}
	s.mu.Unlock()
	p.Requests, p.Budget, p.Findings = s.Requests(), s.opts.Budget, int(s.findingN.Load())
	p.Elapsed = time.Since(s.start)
	if p.OpsDone > 0 {
		p.EstimatedTotal = time.Duration(float64(p.Elapsed) * float64(p.Ops) / float64(p.OpsDone))
	}
	s.opts.Progress(p)
}

// Success reports a 2xx status.
func Success(ex *Exchange) bool { return ex != nil && ex.Resp.Status >= 200 && ex.Resp.Status <= 299 }

// Denied reports a 401 or 403.
func Denied(ex *Exchange) bool {
	return ex != nil && (ex.Resp.Status == http.StatusUnauthorized || ex.Resp.Status == http.StatusForbidden)
}

// Run runs the scan: pre-flight, discovery, then every check in order.
// On ctx's end or a spent budget it stops and returns what it found so
// far, with Complete false. Only a failed pre-flight is an error.
func (s *Session) Run(ctx context.Context) (*findings.Report, error) {
	s.start = time.Now()
	r := &findings.Report{Tool: "scan", Version: s.opts.Version, Target: s.Target.Redacted(), Started: s.start, Complete: true}
	for _, c := range s.opts.Checks {
		for _, ru := range c.Rules() {
			if s.only(ru.ID) {
				r.Rules = append(r.Rules, ru)
			}
		}
	}
	stop := func(err error) {
		r.Complete = false
		switch {
		case errors.Is(err, ErrBudget):
			r.StopReason = fmt.Sprintf("the request budget (%d) was spent", s.opts.Budget)
		case ctx.Err() != nil:
			r.StopReason = "interrupted"
		default:
			r.StopReason = err.Error()
		}
	}
	s.setPhase("pre-flight", 0)
	if err := s.preflight(ctx); err != nil {
		if errors.Is(err, ErrNotAuthenticated) {
			return nil, err
		}
		stop(err)
	}
	if r.Complete {
		s.setPhase("discovery", 0)
		if err := s.discover(ctx); err != nil {
			stop(err)
		}
	}
	for i, c := range s.opts.Checks {
		if !r.Complete {
			break
		}
		s.setPhase(c.Name(), i+1)
		s.log.Debug("running check", "check", c.Name())
		if err := c.Run(ctx, s); err != nil {
			if errors.Is(err, ErrOffTarget) {
				return nil, fmt.Errorf("check %s: %w", c.Name(), err)
			}
			stop(err)
		}
	}
	if r.Complete {
		s.checkStillWelcome(ctx)
	}
	s.cleanup(context.WithoutCancel(ctx))
	s.setPhase("done", len(s.opts.Checks)+1)
	s.mu.Lock()
	r.Findings = append(r.Findings, s.report...)
	r.Notes = append(r.Notes, s.notes...)
	s.mu.Unlock()
	r.Finished = time.Now()
	r.Stats = map[string]int{"requests": s.Requests(), "operations": len(s.Ops), "identities": len(s.Identities)}
	r.Finalize()
	return r, nil
}

// checkStillWelcome repeats one request that succeeded in discovery: if
// the target now refuses it, it probably banned or locked out the scanner
// along the way, and the checks after that point saw refusals, not the
// API. The user is told; nothing is reported as found or not found.
func (s *Session) checkStillWelcome(ctx context.Context) {
	for _, op := range s.Ops {
		if op.Method != "GET" {
			continue
		}
		for _, id := range s.Identities {
			v := s.View(op, id.Name)
			if !Success(v) {
				continue
			}
			ex, err := s.Send(ctx, v.Req.Clone(), id)
			if err != nil || Success(ex) {
				return
			}
			s.Note("the target refused at the end (%d) a request it answered %d during discovery (%s %s as %s): it may have banned or rate-limited the scanner along the way, so later checks may have missed weaknesses; scan again after its ban expires, or at a lower --rate",
				ex.Resp.Status, v.Resp.Status, op.Method, op.Path, id.Name)
			return
		}
	}
}

// cleanup deletes the objects the scan created, where the spec has a
// DELETE for them; bounded to 10 s.
func (s *Session) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	s.mu.Lock()
	created := slices.Clone(s.created)
	s.mu.Unlock()
	for _, o := range created {
		op := s.FindOp("DELETE", o.Path)
		if op == nil {
			continue
		}
		if _, err := s.Send(ctx, s.Build(op, o.Values()), o.Owner); err != nil {
			return
		}
	}
}

// FindOp returns the operation with the method and path template.
func (s *Session) FindOp(method, path string) *Op {
	for _, op := range s.Ops {
		if op.Method == method && op.Path == path {
			return op
		}
	}
	return nil
}

// Plan lists, without sending anything, the requests discovery would send
// first and the checks that would run: --dry-run.
func (s *Session) Plan() []string {
	var out []string
	for _, op := range s.Ops {
		if op.Method == "POST" && len(op.Params) == 0 && (len(s.itemPaths(op.Path)) > 0 || hasLinks(op)) {
			r := s.Build(op, nil)
			out = append(out, fmt.Sprintf("%-7s %s  as each identity: creates an object the write checks may change, deleted at the end where a DELETE exists (%s)",
				op.Method, s.client.url(r), describe(r)))
			continue
		}
		if !op.Safe() {
			out = append(out, fmt.Sprintf("%-7s %s  (not sent by discovery: writes only on objects the scan creates, or with --allow-writes)", op.Method, op.Path))
			continue
		}
		who := []string{"anonymous"}
		for _, id := range s.Identities {
			who = append(who, id.Name)
		}
		out = append(out, fmt.Sprintf("%-7s %s  as %s", op.Method, s.client.url(s.Build(op, nil)), strings.Join(who, ", ")))
	}
	for _, c := range s.opts.Checks {
		var ids []string
		for _, ru := range c.Rules() {
			if s.only(ru.ID) {
				ids = append(ids, ru.ID)
			}
		}
		if len(ids) > 0 {
			out = append(out, fmt.Sprintf("check %s: %s", c.Name(), strings.Join(ids, ", ")))
		}
	}
	return out
}
