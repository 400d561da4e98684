// Package waf owns the negative security model of the gateway: the OWASP
// Core Rule Set (CRS v4, embedded from github.com/corazawaf/coraza-coreruleset)
// run by the Coraza engine (github.com/corazawaf/coraza/v3). It is the only
// package that imports either module.
//
// New compiles one WAF from Options (paranoia level, inbound anomaly
// threshold, detection-only, named profiles, exclusions by rule id and by
// target, request body limit) into SecLang text it writes itself from
// validated values only; Inspect evaluates one request and returns a
// Verdict: the inbound anomaly score, the ids of the rules that contributed
// and whether the request is blocked. Nothing in a Verdict or an error
// carries request data, and Coraza's debug and audit logs are off.
//
// The package inspects requests only (the CRS response rules are not
// loaded). It does not know the gateway's config, routes or Exchange: the
// inputs stage maps those onto Options and Request, and renders the 403.
package waf

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
	"github.com/corazawaf/coraza/v3/types"
)

// Defaults for the zero values of Options.
const (
	// DefaultInboundThreshold is the CRS default: one critical match blocks.
	DefaultInboundThreshold = 5
	// DefaultBodyLimit is the number of request body bytes inspected when
	// Options.BodyLimit is 0.
	DefaultBodyLimit = 128 << 10
	// MaxBodyLimit bounds Options.BodyLimit: Coraza buffers the body in
	// memory (up to SecRequestBodyInMemoryLimit, set to the same value),
	// and the gateway bounds what it reads long before this.
	MaxBodyLimit = 64 << 20
	// maxExclusions bounds the exclusions of one WAF (the list is written
	// into SecLang and compiled; it is config, but config can be large).
	maxExclusions = 1000
)

// Options configure one WAF. The zero value (after Paranoia is set) is the
// CRS default: blocking at paranoia level Paranoia, threshold 5, 128 KiB
// of body inspected.
type Options struct {
	// Paranoia is the CRS paranoia level, 1 to 4: both
	// tx.blocking_paranoia_level and tx.detection_paranoia_level. Higher
	// levels catch more and false-positive more. Required.
	Paranoia int
	// InboundThreshold is the inbound anomaly score at or above which a
	// request is blocked (tx.inbound_anomaly_score_threshold); 0 means
	// DefaultInboundThreshold (a critical match scores 5, an error 4, a
	// warning 3, a notice 2).
	InboundThreshold int
	// DetectOnly evaluates every rule and reports the score and the rules
	// in the Verdict, but never blocks (SecRuleEngine DetectionOnly).
	DetectOnly bool
	// Profiles names exclusion profiles, applied before Exclusions. The
	// one shipped is "json-api"; see profiles.
	Profiles []string
	// Exclusions turn rules off, entirely or for one target.
	Exclusions []Exclusion
	// BodyLimit is the number of request body bytes inspected; 0 means
	// DefaultBodyLimit, at most MaxBodyLimit. A body longer than that is
	// not inspected: the Verdict says BodyLimitExceeded and the request is
	// blocked (unless DetectOnly), as ModSecurity's and Coraza's
	// recommended SecRequestBodyLimitAction Reject does. Inspecting a prefix
	// (ProcessPartial) would let an attack hide past the limit, and a cut
	// JSON document does not parse anyway.
	BodyLimit int64
}

// Exclusion turns CRS rules off, either entirely (Target "") or for one
// target only (SecRuleUpdateTargetById ID !TARGET), which keeps the rules
// running on everything else.
type Exclusion struct {
	// Rules are the rule ids and ranges excluded; at least one, each naming
	// at least one rule of the embedded CRS (a typo is an error, not a
	// silent no-op). The CRS's
	// own setup and evaluation rules (900000-901999, 949000-949999,
	// 980000-980999) and the body-processor rules (200000-200099) cannot
	// be excluded: that would disable the WAF rather than a rule.
	Rules []RuleRange
	// Target, when not "", is a ModSecurity target (see ValidateTarget)
	// removed from those rules: "ARGS:json.comment" (a JSON body field;
	// Coraza names JSON arguments "json." followed by the keys joined with
	// dots, array elements by index: "json.items.0.note"),
	// "REQUEST_HEADERS:User-Agent", "ARGS:q", "REQUEST_COOKIES:session".
	// Coraza compares the key case-insensitively ("ARGS:json.Comment" is
	// "ARGS:json.comment"; "REQUEST_HEADERS:user-agent" is User-Agent).
	Target string
}

// reserved are the rule ids no exclusion may touch.
var reserved = []RuleRange{
	{200000, 200099}, // body processors and their parse errors (this package's rules)
	{900000, 901999}, // CRS setup (this package's rules) and initialization
	{949000, 949999}, // inbound blocking evaluation
	{980000, 980999}, // correlation
}

// WAF is one compiled Core Rule Set with its options. It is immutable
// after New and safe for concurrent use; Close releases it.
type WAF struct {
	waf        coraza.WAF
	threshold  int
	paranoia   int
	detectOnly bool
	bodyLimit  int64
	stats      Stats
}

// Stats describe the cost of one compiled WAF.
type Stats struct {
	// Compile is how long New took to build the WAF.
	Compile time.Duration
	// Rules is the number of rules loaded (chained rules count once).
	Rules int
	// HeapBytes is the growth of the live heap across New (runtime.MemStats
	// HeapAlloc after a GC, before and after), an approximation: other
	// goroutines allocate meanwhile, and Coraza caches compiled regular
	// expressions process-wide, so a second WAF built while the first
	// lives reports less than the first did.
	HeapBytes uint64
}

// New validates opts and compiles the CRS with them. Errors name the option
// at fault ("exclusions[2].rules[0]: ..."). New is slow (it compiles some
// hundreds of rules and their regular expressions: see Stats), and runs two
// garbage collections to measure the heap it adds: build a WAF once per
// configuration, not per request.
func New(opts Options) (*WAF, error) {
	start := time.Now()
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	text, err := directives(&opts)
	if err != nil {
		return nil, err
	}
	cfg := coraza.NewWAFConfig().WithRootFS(coreruleset.FS).WithDirectives(text)
	cw, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("compiling the core rule set: %w", err)
	}
	w := &WAF{
		waf:        cw,
		threshold:  opts.InboundThreshold,
		paranoia:   opts.Paranoia,
		detectOnly: opts.DetectOnly,
		bodyLimit:  opts.BodyLimit,
	}
	if rc, ok := cw.(experimental.WAFWithRules); ok {
		w.stats.Rules = rc.RulesCount()
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if after.HeapAlloc > before.HeapAlloc {
		w.stats.HeapBytes = after.HeapAlloc - before.HeapAlloc
	}
	w.stats.Compile = time.Since(start)
	return w, nil
}

// Stats returns the cost of building w.
func (w *WAF) Stats() Stats { return w.stats }

// Close releases what w holds in Coraza's process-wide caches (compiled
// regular expressions not shared with another WAF). Inspect calls in
// flight finish normally; w must not be used after Close.
func (w *WAF) Close() error {
	if c, ok := w.waf.(experimental.WAFCloser); ok {
		if err := c.Close(); err != nil {
			return fmt.Errorf("closing the waf: %w", err)
		}
	}
	return nil
}

// directives validates opts, fills in its defaults and returns the SecLang
// text. Every value written into the text is a number, a validated target
// or a constant of this package.
func directives(opts *Options) (string, error) {
	var errs []error
	if opts.Paranoia < 1 || opts.Paranoia > 4 {
		errs = append(errs, fmt.Errorf("paranoia: %d is not a paranoia level (1 to 4)", opts.Paranoia))
	}
	switch {
	case opts.InboundThreshold == 0:
		opts.InboundThreshold = DefaultInboundThreshold
	case opts.InboundThreshold < 0 || opts.InboundThreshold > 10000:
		errs = append(errs, fmt.Errorf("inbound_threshold: %d is out of range (1 to 10000)", opts.InboundThreshold))
	}
	switch {
	case opts.BodyLimit == 0:
		opts.BodyLimit = DefaultBodyLimit
	case opts.BodyLimit < 0 || opts.BodyLimit > MaxBodyLimit:
		errs = append(errs, fmt.Errorf("body_limit: %d is out of range (1 to %d bytes)", opts.BodyLimit, MaxBodyLimit))
	}
	var settings profile
	var excl []Exclusion
	for i, name := range opts.Profiles {
		p, ok := profiles[name]
		if !ok {
			errs = append(errs, fmt.Errorf("profiles[%d]: unknown profile %q (known: %s)", i, name, strings.Join(ProfileNames(), ", ")))
			continue
		}
		if p.methods != "" {
			settings.methods = p.methods
		}
		if p.contentTypes != "" {
			settings.contentTypes = p.contentTypes
		}
		excl = append(excl, p.exclusions...)
	}
	if len(opts.Exclusions) > maxExclusions {
		errs = append(errs, fmt.Errorf("exclusions: %d exclusions, at most %d", len(opts.Exclusions), maxExclusions))
	} else {
		ids, err := crsRuleIDs()
		if err != nil {
			return "", err
		}
		for i, e := range opts.Exclusions {
			path := fmt.Sprintf("exclusions[%d]", i)
			ev := validateExclusion(path, e)
			if len(ev) == 0 {
				for j, r := range e.Rules {
					if !anyRule(ids, r) {
						ev = append(ev, fmt.Errorf("%s.rules[%d]: no rule %s in the core rule set", path, j, r))
					}
				}
			}
			errs = append(errs, ev...)
		}
		excl = append(excl, opts.Exclusions...)
	}
	if err := errors.Join(errs...); err != nil {
		return "", fmt.Errorf("waf options: %w", err)
	}

	var b strings.Builder
	engine := "On"
	if opts.DetectOnly {
		engine = "DetectionOnly"
	}
	limit := strconv.FormatInt(opts.BodyLimit+1, 10) // Coraza rejects at >= limit; inspect up to BodyLimit
	fmt.Fprintf(&b, "SecRuleEngine %s\n", engine)
	b.WriteString(engineBase)
	fmt.Fprintf(&b, "SecRequestBodyLimit %s\nSecRequestBodyInMemoryLimit %s\n", limit, limit)
	fmt.Fprintf(&b, "SecAction \"id:900000,phase:1,pass,t:none,nolog,setvar:tx.blocking_paranoia_level=%d,setvar:tx.detection_paranoia_level=%d\"\n", opts.Paranoia, opts.Paranoia)
	fmt.Fprintf(&b, "SecAction \"id:900110,phase:1,pass,t:none,nolog,setvar:tx.inbound_anomaly_score_threshold=%d,setvar:tx.outbound_anomaly_score_threshold=4\"\n", opts.InboundThreshold)
	if settings.methods != "" {
		fmt.Fprintf(&b, "SecAction \"id:900200,phase:1,pass,t:none,nolog,setvar:'tx.allowed_methods=%s'\"\n", settings.methods)
	}
	if settings.contentTypes != "" {
		fmt.Fprintf(&b, "SecAction \"id:900220,phase:1,pass,t:none,nolog,setvar:'tx.allowed_request_content_type=%s'\"\n", settings.contentTypes)
	}
	b.WriteString("SecAction \"id:900990,phase:1,pass,t:none,nolog,setvar:tx.crs_setup_version=4250\"\n")
	b.WriteString("Include @owasp_crs/REQUEST-*.conf\n")
	for _, e := range excl {
		for _, r := range e.Rules {
			if e.Target == "" {
				fmt.Fprintf(&b, "SecRuleRemoveById %s\n", r)
			} else {
				fmt.Fprintf(&b, "SecRuleUpdateTargetById %s !%s\n", r, e.Target)
			}
		}
	}
	return b.String(), nil
}

// validateExclusion checks one exclusion; each error starts with path, the
// exclusion's place in Options ("exclusions[2].rules[0]: ...").
func validateExclusion(path string, e Exclusion) []error {
	var errs []error
	if len(e.Rules) == 0 {
		errs = append(errs, fmt.Errorf("%s.rules: at least one rule id or range", path))
	}
	for j, r := range e.Rules {
		if r.First < 1 || r.Last > maxRuleID || r.First > r.Last {
			errs = append(errs, fmt.Errorf("%s.rules[%d]: %d-%d is not a rule range (1 to %d, first not above last)", path, j, r.First, r.Last, maxRuleID))
			continue
		}
		for _, res := range reserved {
			if r.overlaps(res) {
				errs = append(errs, fmt.Errorf("%s.rules[%d]: %s overlaps %s, the CRS's setup, body-processor or evaluation rules, which cannot be excluded", path, j, r, res))
			}
		}
	}
	if e.Target != "" {
		if err := ValidateTarget(e.Target); err != nil {
			errs = append(errs, fmt.Errorf("%s.target: %w", path, err))
		}
	}
	return errs
}

// engineBase is the engine configuration after SecRuleEngine: request
// bodies on, response bodies off (the gateway inspects requests only), logs
// off, and the body-processor rules of Coraza's coraza.conf-recommended
// (same ids): JSON and XML bodies to their processors, and a refusal when a
// body does not parse, a multipart body is ambiguous, the URI does not
// parse or there are more arguments than Coraza keeps (an attack past the
// argument limit would go unseen). SecRxPreFilter (experimental: skip a
// regular expression when its required literals are absent) stays off: it
// made the 1 KiB JSON inspection about 1.5 times faster but failed CRS
// regression test 942220-2 that passes without it, a false negative.
const engineBase = `SecRequestBodyAccess On
SecRequestBodyLimitAction Reject
SecRequestBodyJsonDepthLimit 1024
SecArgumentsLimit 1000
SecResponseBodyAccess Off
SecAuditEngine Off
SecDebugLogLevel 0
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" "id:200000,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" "id:200001,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" "id:200006,phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule URI_PARSE_ERROR "@eq 1" "id:200009,phase:1,t:none,log,deny,status:400,severity:2,msg:'URI failed to parse.'"
SecRule REQBODY_ERROR "!@eq 0" "id:200002,phase:2,t:none,log,deny,status:400,severity:2,msg:'Failed to parse request body.'"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" "id:200003,phase:2,t:none,log,deny,status:400,severity:2,msg:'Multipart request body failed strict validation.'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:200004,phase:1,t:none,log,deny,status:400,severity:2,msg:'Argument limit reached.'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" "id:200005,phase:2,t:none,log,deny,status:400,severity:2,msg:'Argument limit reached.'"
`

// Request is what Inspect needs of one HTTP request. The WAF reads it and
// keeps nothing.
type Request struct {
	// Method, Proto ("HTTP/1.1", "HTTP/2.0"; "" means HTTP/1.1) and Host
	// (the request's authority, added as a Host header when Headers has
	// none, as net/http moves it out of the header map). A Content-Length
	// header with len(Body) is added likewise when Headers has neither it
	// nor Transfer-Encoding.
	Method, Proto, Host string
	// RawPath and RawQuery are the path and query as sent, still
	// percent-encoded (without the "?").
	RawPath, RawQuery string
	// Headers yields every header field, one pair per value, in order.
	// Nil means none.
	Headers iter.Seq2[string, string]
	// ClientIP, ClientPort and ServerPort describe the connection; a zero
	// ClientIP is sent to Coraza as "".
	ClientIP   netip.Addr
	ClientPort int
	ServerPort int
	// Body is the whole request body when the caller read it (HasBody);
	// the caller bounds the read (a body longer than the WAF's body limit
	// is not inspected and is reported, see Options.BodyLimit).
	Body    []byte
	HasBody bool
}

// Verdict is the outcome of one inspection. It never holds request data:
// rule ids and a score only.
type Verdict struct {
	// Blocked: the request must be refused (Exceeded and not DetectOnly).
	Blocked bool
	// Exceeded: the inbound anomaly score reached the threshold, or a rule
	// that refuses on its own matched (a body that does not parse, too
	// many arguments), or the body is over the limit; true in DetectOnly
	// mode too, where nothing is blocked.
	Exceeded bool
	// Score is the inbound anomaly score at the blocking paranoia level
	// (tx.blocking_inbound_anomaly_score, the sum of the per-level scores).
	Score int
	// Threshold is the WAF's inbound anomaly threshold, for the audit event.
	Threshold int
	// Rules are the ids of the matched rules that contributed (rules with
	// a severity, not the CRS's bookkeeping rules), sorted, deduplicated.
	// With the engine On, evaluation stops at the interruption (the CRS
	// blocks at the end of phase 2, so those are all the request rules
	// but after a phase-1 refusal); DetectOnly evaluates every rule.
	Rules []int
	// Interrupted: Coraza interrupted the transaction (engine On only).
	Interrupted bool
	// BadRequest: the refusal is the request's form, not an attack (the
	// body did not parse, the URI did not parse, too many arguments): a
	// gateway may answer 400 instead of 403.
	BadRequest bool
	// BodyLimitExceeded: the body is longer than the body limit and was not
	// inspected.
	BodyLimitExceeded bool
}

// badRequestRules are the refusals that are about the request's form.
var badRequestRules = map[int]bool{200002: true, 200003: true, 200004: true, 200005: true, 200009: true}

// Inspect runs the request's phases (headers, then body) through the CRS
// and returns the verdict. The error is for a broken WAF or a cancelled
// ctx (checked between phases, as Coraza does not take a context), never
// for an attack, and carries no request data. The CRS parses JSON, XML,
// URL-encoded and multipart bodies (and one without a Content-Type as
// URL-encoded); it refuses other content types unless a profile allows
// them. Coraza writes the file parts of a multipart body to temporary
// files in os.TempDir, removed when Inspect returns (bounded by the body
// limit).
func (w *WAF) Inspect(ctx context.Context, r *Request) (Verdict, error) {
	v := Verdict{Threshold: w.threshold}
	if err := ctx.Err(); err != nil {
		return v, fmt.Errorf("inspecting request: %w", err)
	}
	tx := w.waf.NewTransactionWithID("rampart")
	defer func() { _ = tx.Close() }()

	it := requestHead(tx, r)
	if it == nil {
		if err := ctx.Err(); err != nil {
			return v, fmt.Errorf("inspecting request: %w", err)
		}
		var err error
		if it, err = w.requestBody(tx, r, &v); err != nil {
			return v, err
		}
	}
	v.Interrupted = it != nil
	v.Score = w.score(tx)
	matchedRules(tx, &v)
	v.Exceeded = v.Score >= w.threshold || v.Interrupted || v.BadRequest || v.BodyLimitExceeded
	v.Blocked = v.Exceeded && !w.detectOnly
	return v, nil
}

// requestHead runs the connection, the request line and the headers
// through tx (phase 1).
func requestHead(tx types.Transaction, r *Request) *types.Interruption {
	client := ""
	if r.ClientIP.IsValid() {
		client = r.ClientIP.Unmap().String()
	}
	tx.ProcessConnection(client, r.ClientPort, "", r.ServerPort)
	uri := r.RawPath
	if r.RawQuery != "" {
		uri += "?" + r.RawQuery
	}
	proto := r.Proto
	if proto == "" {
		proto = "HTTP/1.1"
	}
	tx.ProcessURI(uri, r.Method, proto)
	hasHost, hasLength := false, false
	if r.Headers != nil {
		for k, val := range r.Headers {
			switch {
			case strings.EqualFold(k, "Host"):
				hasHost = true
			case strings.EqualFold(k, "Content-Length"), strings.EqualFold(k, "Transfer-Encoding"):
				hasLength = true
			}
			tx.AddRequestHeader(k, val)
		}
	}
	if !hasHost && r.Host != "" {
		tx.AddRequestHeader("Host", r.Host)
	}
	if !hasLength && r.HasBody && len(r.Body) > 0 {
		// net/http moves Transfer-Encoding out of the header map and HTTP/2
		// need not send Content-Length; the body was read, so its length
		// is known (CRS 920180 refuses a POST with neither).
		tx.AddRequestHeader("Content-Length", strconv.Itoa(len(r.Body)))
	}
	if r.Host != "" {
		tx.SetServerName(hostOnly(r.Host))
	}
	return tx.ProcessRequestHeaders()
}

// requestBody runs the body through tx (phase 2), or marks v when it is
// over the body limit and so not inspected.
func (w *WAF) requestBody(tx types.Transaction, r *Request, v *Verdict) (*types.Interruption, error) {
	var it *types.Interruption
	if r.HasBody && len(r.Body) > 0 {
		if int64(len(r.Body)) > w.bodyLimit {
			v.BodyLimitExceeded = true
		} else {
			var err error
			if it, _, err = tx.WriteRequestBody(r.Body); err != nil {
				return nil, fmt.Errorf("inspecting request: buffering the body: %w", err)
			}
		}
	}
	if it != nil {
		return it, nil
	}
	it, err := tx.ProcessRequestBody()
	if err != nil {
		return nil, fmt.Errorf("inspecting request: processing the body: %w", err)
	}
	return it, nil
}

// matchedRules fills v's rule ids (sorted, once each) from the rules that
// matched with a severity, leaving out the CRS's own evaluation rules.
func matchedRules(tx types.Transaction, v *Verdict) {
	for _, mr := range tx.MatchedRules() {
		md := mr.Rule()
		id := md.ID()
		if md.Severity() == types.RuleSeverityUnset || id >= 949000 && id <= 949999 || id >= 980000 && id <= 980999 {
			continue
		}
		v.Rules = append(v.Rules, id)
		if badRequestRules[id] {
			v.BadRequest = true
		}
	}
	slices.Sort(v.Rules)
	v.Rules = slices.Compact(v.Rules)
}

// score sums the per-level inbound anomaly scores up to the paranoia
// level: what REQUEST-949 computes, read directly so that it is right even
// when an earlier rule interrupted the transaction before 949 ran.
func (w *WAF) score(tx types.Transaction) int {
	ts, ok := tx.(plugintypes.TransactionState)
	if !ok {
		return 0
	}
	txv := ts.Variables().TX()
	total := 0
	for pl := 1; pl <= w.paranoia; pl++ {
		if vals := txv.Get(plKeys[pl]); len(vals) > 0 {
			if n, err := strconv.Atoi(vals[0]); err == nil && n > 0 {
				total += n
			}
		}
	}
	return total
}

var plKeys = [...]string{1: "inbound_anomaly_score_pl1", 2: "inbound_anomaly_score_pl2", 3: "inbound_anomaly_score_pl3", 4: "inbound_anomaly_score_pl4"}

// hostOnly strips a port from an authority.
func hostOnly(h string) string {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") && strings.Count(h, ":") == 1 {
		return h[:i]
	}
	return h
}
