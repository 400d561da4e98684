// Package limits holds rampart scan's unrestricted-resource-consumption
// checks (API4:2023): no rate limit (a bounded burst gets no 429), no
// bound on page sizes, no bound on request body sizes.
//
// The burst is the only traffic the scan sends above --rate: Burst
// requests, four at a time, counted against the budget.
package limits

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Rules.
var (
	RateLimit = findings.Rule{ID: "rampart.scan.api4.no-rate-limit", Name: "No rate limit",
		Description: "A burst of requests from one identity is answered in full, with no 429 Too Many Requests.",
		Help:        "Limit requests per identity and per client address, and answer 429 with Retry-After (Rampart: limits.plans, limits.pre_auth).",
		OWASP:       "API4:2023", Severity: findings.Medium}
	PageSize = findings.Rule{ID: "rampart.scan.api4.unbounded-page-size", Name: "Page size not bounded",
		Description: "A list operation returns as many items as the caller asks for.",
		Help:        "Cap page sizes on the server (and declare maximum on the parameter in the spec); count records per session (Rampart: limits.records).",
		OWASP:       "API4:2023", Severity: findings.Medium}
	BodySize = findings.Rule{ID: "rampart.scan.api4.unbounded-body", Name: "Request body size not bounded",
		Description: "A write operation reads a request body of several megabytes instead of refusing it with 413.",
		Help:        "Bound request bodies (Rampart: listener limits.max_body_bytes answers 413).",
		OWASP:       "API4:2023", Severity: findings.Medium}
)

// ReDoS is the slow-pattern rule.
var ReDoS = findings.Rule{ID: "rampart.scan.api4.redos", Name: "Input that takes seconds to process (ReDoS)",
	Description: "A short input shaped to make a backtracking regular expression explode keeps the target busy for seconds, while the same input a few characters long is answered at once.",
	Help:        "Validate input with a linear-time engine (Go's regexp, RE2) or bound the input's length before matching; cap request time.",
	OWASP:       "API4:2023", Severity: findings.Medium}

// FactRateLimited is set on the session when the burst met a limit.
const FactRateLimited = "rate-limited"

// Check runs the resource-consumption rules.
type Check struct {
	// Burst is the number of requests in the rate-limit burst (0: 60).
	Burst int
}

// Name implements scan.Check.
func (Check) Name() string { return "resource-limits" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{RateLimit, PageSize, BodySize, ReDoS} }

// Run implements scan.Check.
func (c Check) Run(ctx context.Context, s *scan.Session) error {
	if s.Enabled(RateLimit.ID) {
		if err := c.burst(ctx, s); err != nil {
			return err
		}
	}
	if s.Enabled(PageSize.ID) {
		if err := pageSize(ctx, s); err != nil {
			return err
		}
	}
	if s.Enabled(BodySize.ID) {
		if err := bodySize(ctx, s); err != nil {
			return err
		}
	}
	if s.Enabled(ReDoS.ID) {
		if err := redos(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

var redosWords = []string{"email", "mail", "regex", "pattern", "search", "filter", "q", "query", "match", "expr", "name", "username", "url"}

// redos sends an evil input (a long run that nearly matches, then a
// character that does not) to string parameters of safe operations that
// validate text: the spec gives them a pattern or a format, or their name
// says so. It counts when the long input takes over a second and ten
// times the short one, twice.
func redos(ctx context.Context, s *scan.Session) error {
	tried := 0
	for _, op := range s.Ops {
		if op.Method != "GET" || tried >= 8 {
			continue
		}
		base := s.FirstView(op)
		if base == nil {
			continue
		}
		for _, p := range op.Parameters() {
			if p.In != "query" || tried >= 8 {
				continue
			}
			var sc = p.Schema
			validated := sc != nil && sc.Value != nil && (sc.Value.Pattern != "" || sc.Value.Format == "email")
			if !validated && !wordIn(strings.ToLower(p.Name), redosWords) {
				continue
			}
			tried++
			evil := func(n int) string {
				if sc != nil && sc.Value != nil && sc.Value.Format == "email" || strings.Contains(strings.ToLower(p.Name), "mail") {
					return strings.Repeat("a", n) + "@" + strings.Repeat("a", n) + "!"
				}
				return strings.Repeat("a", n) + "!"
			}
			send := func(v string) (*scan.Exchange, error) {
				r := base.Req.Clone()
				r.Query.Set(p.Name, v)
				return s.Send(ctx, r, base.As)
			}
			short, err := send(evil(6))
			if err != nil {
				return err
			}
			var long [2]*scan.Exchange
			slow := true
			for i := 0; i < 2 && slow; i++ {
				if long[i], err = send(evil(28)); err != nil {
					return err
				}
				d := long[i].Resp.Duration
				slow = d > time.Second && d > 10*short.Resp.Duration
			}
			if !slow {
				continue
			}
			f := scan.Finding(ReDoS, op, findings.Firm, "Slow input (ReDoS)",
				fmt.Sprintf("%s with a 29-character evil input took %s and %s; with 7 characters %s.", p.Name,
					long[0].Resp.Duration.Round(time.Millisecond), long[1].Resp.Duration.Round(time.Millisecond), short.Resp.Duration.Round(time.Millisecond)))
			f.Key = p.Name
			f.Evidence = []findings.Exchange{scan.Evidence("the short input (control)", short), scan.Evidence("the evil input", long[0])}
			f.Curl = scan.Curl(long[0])
			s.Report(f)
		}
	}
	return nil
}

func wordIn(w string, list []string) bool {
	for _, x := range list {
		if w == x {
			return true
		}
	}
	return false
}

// burst sends Burst requests to one cheap operation as the least
// privileged identity (or anonymously to a public operation).
func (c Check) burst(ctx context.Context, s *scan.Session) error {
	n := c.Burst
	if n == 0 {
		n = 60
	}
	// The least privileged identity first: its limits are the tightest,
	// and a privileged identity's higher limit is no proof of none. An
	// operation that needs credentials first: the identity's own limits
	// apply to it, where a public one may share a looser per-address one.
	var target *scan.Exchange
	var op *scan.Op
	for _, authed := range []bool{true, false} {
		for _, id := range append(s.Unprivileged(), s.Privileged()...) {
			for _, o := range s.Ops {
				if o.Method != "GET" || o.RequiresAuth != authed {
					continue
				}
				if v := s.View(o, id.Name); scan.Success(v) && (target == nil || len(v.Resp.Body) < len(target.Resp.Body)) {
					target, op = v, o
				}
			}
			if target != nil {
				break
			}
		}
		if target != nil {
			break
		}
	}
	if target == nil {
		s.Note("rate limit: no operation answered an identity; skipped")
		return nil
	}
	var mu sync.Mutex
	statuses := map[int]int{}
	var first429 *scan.Exchange
	var errOnce error
	start := time.Now()
	work := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				ex, err := s.SendUnpaced(ctx, target.Req.Clone(), target.As)
				mu.Lock()
				if err != nil {
					if errOnce == nil {
						errOnce = err
					}
				} else {
					statuses[ex.Resp.Status]++
					if limited(ex) && first429 == nil {
						first429 = ex
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		mu.Lock()
		stop := errOnce != nil || first429 != nil
		mu.Unlock()
		if stop {
			break
		}
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	if first429 != nil {
		s.SetFact(FactRateLimited)
		return nil
	}
	if errOnce != nil {
		return errOnce
	}
	elapsed := time.Since(start)
	total, ok := 0, 0
	for code, k := range statuses {
		total += k
		if code >= 200 && code <= 299 {
			ok += k
		}
	}
	if ok < total {
		// Refusals that are not 429 (a ban, errors) are no proof either way.
		s.Note("rate limit: the burst to %s %s got %s; not judged", op.Method, op.Path, statusList(statuses))
		return nil
	}
	f := scan.Finding(RateLimit, op, findings.Firm, "No rate limit",
		fmt.Sprintf("%d requests as %s in %s (%.0f/s) were all answered without a 429 (statuses: %s).",
			total, target.As.Name, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), statusList(statuses)))
	f.Evidence = []findings.Exchange{scan.Evidence("one request of the burst", target)}
	f.Curl = fmt.Sprintf("for i in $(seq %d); do %s -s -o /dev/null -w '%%{http_code} ' & done; wait", total, scan.Curl(target))
	s.Report(f)
	return nil
}

func limited(ex *scan.Exchange) bool {
	return ex.Resp.Status == http.StatusTooManyRequests ||
		(ex.Resp.Status == http.StatusServiceUnavailable && ex.Resp.Header.Get("Retry-After") != "")
}

func statusList(m map[int]int) string {
	var parts []string
	for code := 100; code < 600; code++ {
		if m[code] > 0 {
			parts = append(parts, fmt.Sprintf("%d x%d", code, m[code]))
		}
	}
	if m[0] > 0 {
		parts = append(parts, fmt.Sprintf("no answer x%d", m[0]))
	}
	return strings.Join(parts, ", ")
}

var pageParams = []string{"limit", "size", "per_page", "perPage", "page_size", "pageSize", "count", "max", "top", "$top", "first"}

// pageSize asks list operations for 5,000 items; more than 1,000 (or more
// than the parameter's declared maximum) back is a finding.
func pageSize(ctx context.Context, s *scan.Session) error {
	const ask = 5000
	for _, op := range s.Ops {
		if op.Method != "GET" {
			continue
		}
		param := ""
		var maxDeclared float64
		for _, p := range op.Parameters() {
			if p.In != "query" {
				continue
			}
			for _, n := range pageParams {
				if p.Name == n {
					param = n
					if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Max != nil {
						maxDeclared = *p.Schema.Value.Max
					}
				}
			}
		}
		if param == "" {
			continue
		}
		base := s.FirstView(op, append(s.Unprivileged(), s.Privileged()...)...)
		if base == nil {
			continue
		}
		r := base.Req.Clone()
		r.Query.Set(param, strconv.Itoa(ask))
		ex, err := s.Send(ctx, r, base.As)
		if err != nil {
			return err
		}
		if !scan.Success(ex) {
			continue
		}
		n := countItems(ex.Resp.Body)
		bound := 1000.0
		if maxDeclared > 0 {
			bound = maxDeclared
		}
		if float64(n) <= bound && !ex.Resp.Truncated {
			continue
		}
		f := scan.Finding(PageSize, op, findings.Firm, "Page size not bounded",
			fmt.Sprintf("%s=%d returned %d items (bound: %.0f)%s.", param, ask, n, bound, truncNote(ex)))
		f.Key = param
		f.Evidence = []findings.Exchange{scan.Evidence("a page of 5,000", ex)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
	}
	return nil
}

func truncNote(ex *scan.Exchange) string {
	if ex.Resp.Truncated {
		return fmt.Sprintf("; the response passed the scanner's %d MiB read limit", scan.MaxBodyBytes>>20)
	}
	return ""
}

func countItems(b []byte) int {
	var doc any
	if json.Unmarshal(b, &doc) != nil {
		return bytes.Count(b, []byte("},{")) + 1
	}
	switch x := doc.(type) {
	case []any:
		return len(x)
	case map[string]any:
		best := 0
		for _, v := range x {
			if a, ok := v.([]any); ok && len(a) > best {
				best = len(a)
			}
		}
		return best
	}
	return 0
}

// bodySize sends an 8 MiB JSON body to write operations on objects the
// scan may change (created ones first), up to three: a 2xx answer means
// nothing bounded it; 413 means something did. It never sends to objects
// it may not write.
func bodySize(ctx context.Context, s *scan.Session) error {
	type target struct {
		op     *scan.Op
		values map[string]string
		as     *scan.Identity
	}
	var created, other []target
	for _, op := range s.Ops {
		if op.Safe() || op.Method == "DELETE" || op.Op.RequestBody == nil || len(op.Params) == 0 {
			continue
		}
		for _, o := range s.Objects(op.Path) {
			if o.Owner == nil || !s.Writable(o) {
				continue
			}
			if o.Created {
				created = append(created, target{op, o.Values(), o.Owner})
			} else {
				other = append(other, target{op, o.Values(), o.Owner})
			}
			break
		}
	}
	tries := append(created, other...)
	if len(tries) > 3 {
		tries = tries[:3]
	}
	pad := strings.Repeat("a", 8<<20)
	for _, t := range tries {
		r := s.Build(t.op, t.values)
		r.Body = []byte(`{"rampart_scan_padding":"` + pad + `"}`)
		r.ContentType = "application/json"
		ex, err := s.Send(ctx, r, t.as)
		if err != nil {
			return err
		}
		if ex.Resp.Status == http.StatusRequestEntityTooLarge {
			return nil
		}
		if !scan.Success(ex) {
			continue
		}
		f := scan.Finding(BodySize, t.op, findings.Firm, "Request body size not bounded",
			fmt.Sprintf("An 8 MiB body to %s %s was read and answered %d; nothing refused it with 413.", t.op.Method, t.op.Path, ex.Resp.Status))
		ex.Req = ex.Req.Clone()
		ex.Req.Body = []byte(`{"rampart_scan_padding":"<8 MiB of a>"}`)
		f.Evidence = []findings.Exchange{scan.Evidence("an 8 MiB body (shortened here)", ex)}
		ex.Req.Body = []byte("@body.json")
		f.Curl = `python3 -c 'print("{\"p\":\"" + "a"*8388608 + "\"}")' > body.json; ` + strings.Replace(scan.Curl(ex), "'@body.json'", "@body.json", 1)
		s.Report(f)
		return nil
	}
	return nil
}
