package authn

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Login rules.
var (
	Enumeration = findings.Rule{ID: "rampart.scan.api2.user-enumeration", Name: "Login tells existing users apart",
		Description: "A failed login answers differently for an existing user than for an unknown one, so accounts can be enumerated.",
		Help:        "Answer every failed login with the same status, body and timing.",
		OWASP:       "API2:2023", Severity: findings.Medium}
	NoLockout = findings.Rule{ID: "rampart.scan.api2.no-login-limit", Name: "No lockout or rate limit on login",
		Description: "Repeated failed logins for one user name are all answered alike: passwords can be guessed without limit.",
		Help:        "Limit failed logins per user name and per client address (429 with Retry-After), and alert on bursts (Rampart: limits.pre_auth, anomaly detection).",
		OWASP:       "API2:2023", Severity: findings.Medium}
)

var loginPath = regexp.MustCompile(`(?i)(^|/)(login|log-in|signin|sign-in|authenticate|session|sessions)(/|$)`)

// LoginCheck finds the login operation and tests it with wrong passwords
// only: a nonexistent user name for the limit, so that no real account
// can be locked out.
type LoginCheck struct {
	// Attempts is the number of failed logins for the limit test (0: 12).
	Attempts int
}

// Name implements scan.Check.
func (LoginCheck) Name() string { return "login" }

// Rules implements scan.Check.
func (LoginCheck) Rules() []findings.Rule { return []findings.Rule{Enumeration, NoLockout} }

type loginOp struct {
	op         *scan.Op
	user, pass string
}

func findLogin(s *scan.Session) *loginOp {
	for _, op := range s.Ops {
		if op.Method != "POST" || !loginPath.MatchString(op.Path) || op.Op.RequestBody == nil || op.Op.RequestBody.Value == nil {
			continue
		}
		mt := op.Op.RequestBody.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			continue
		}
		l := &loginOp{op: op}
		for name := range mt.Schema.Value.Properties {
			n := strings.ToLower(name)
			switch {
			case n == "password" || n == "pass" || n == "passwd" || n == "pwd":
				l.pass = name
			case n == "username" || n == "user" || n == "email" || n == "login" || n == "user_name" || n == "name":
				if l.user == "" || n == "username" {
					l.user = name
				}
			}
		}
		if l.user != "" && l.pass != "" {
			return l
		}
	}
	return nil
}

func (l *loginOp) request(s *scan.Session, user, pass string) *scan.Request {
	r := s.Build(l.op, nil)
	var body map[string]any
	if json.Unmarshal(r.Body, &body) != nil || body == nil {
		body = map[string]any{}
	}
	body[l.user], body[l.pass] = user, pass
	r.Body, _ = json.Marshal(body)
	r.ContentType = "application/json"
	return r
}

// Run implements scan.Check.
func (c LoginCheck) Run(ctx context.Context, s *scan.Session) error {
	l := findLogin(s)
	if l == nil {
		return nil
	}
	known := ""
	for _, id := range s.Identities {
		if id.Subject != "" {
			known = id.Subject
			break
		}
	}
	wrong := "rampart-scan-wrong-" + s.Canary.Token()[:8]
	unknown := "rampart-scan-nobody-" + s.Canary.Token()[:8]
	if s.Enabled(Enumeration.ID) && known != "" {
		var a, b [2]*scan.Exchange
		for i := 0; i < 2; i++ {
			var err error
			if a[i], err = s.Send(ctx, l.request(s, known, wrong), nil); err != nil {
				return err
			}
			if b[i], err = s.Send(ctx, l.request(s, unknown, wrong), nil); err != nil {
				return err
			}
		}
		stable := same(a[0], a[1]) && same(b[0], b[1])
		if stable && !same(a[0], b[0]) && !limited(a[1]) && !limited(b[1]) {
			f := scan.Finding(Enumeration, l.op, findings.Firm, "Login tells existing users apart",
				fmt.Sprintf("A wrong password for the existing user %q answered %d, for an unknown user %d, each twice alike: the answers tell them apart.", known, a[0].Resp.Status, b[0].Resp.Status))
			f.Evidence = []findings.Exchange{scan.Evidence("existing user, wrong password", a[0]), scan.Evidence("unknown user, wrong password", b[0])}
			f.Curl = scan.Curl(b[0])
			s.Report(f)
		}
	}
	if s.Enabled(NoLockout.ID) {
		n := c.Attempts
		if n == 0 {
			n = 12
		}
		var first, last *scan.Exchange
		for i := 0; i < n; i++ {
			ex, err := s.Send(ctx, l.request(s, unknown, fmt.Sprintf("%s-%d", wrong, i)), nil)
			if err != nil {
				return err
			}
			if limited(ex) || scan.Success(ex) {
				return nil
			}
			if first == nil {
				first = ex
			}
			last = ex
			if !same(first, ex) {
				return nil // the answer changed: some defence kicked in
			}
		}
		f := scan.Finding(NoLockout, l.op, findings.Firm, "No limit on failed logins",
			fmt.Sprintf("%d failed logins for one user name in a row were all answered %d alike; no 429, no lockout.", n, last.Resp.Status))
		f.Evidence = []findings.Exchange{scan.Evidence("the first failed login", first), scan.Evidence(fmt.Sprintf("failed login %d", n), last)}
		f.Curl = fmt.Sprintf("for i in $(seq %d); do %s; done", n, scan.Curl(last))
		s.Report(f)
	}
	return nil
}

func limited(ex *scan.Exchange) bool {
	return ex.Resp.Status == http.StatusTooManyRequests || ex.Resp.Status == http.StatusLocked
}

// same compares two answers by status and by body, ignoring values that
// change on every request (ids, times).
func same(a, b *scan.Exchange) bool {
	if a.Resp.Status != b.Resp.Status {
		return false
	}
	return scan.Compare(volatile.ReplaceAll(a.Resp.Body, nil), volatile.ReplaceAll(b.Resp.Body, nil)).Values >= 0.9
}

var volatile = regexp.MustCompile(`"(request_id|requestId|trace_id|traceId|timestamp|time|id)"\s*:\s*("[^"]*"|\d+)`)
