// Package injection holds rampart scan's injection checks (API8:2023):
// SQL (error-based and boolean-based), NoSQL operator injection, OS
// command injection (time-based) and path traversal. Each is confirmed
// twice, against a control request, before it is reported: an error
// pattern must be new and come back again; a boolean difference must
// repeat while the false condition matches the control; a delay must
// scale with the delay asked for and vanish with a zero delay.
//
// Query, path and header parameters of safe operations are injected, and the
// string members of JSON write bodies where the scan may write: on
// objects it created (as their owner), in POSTs that create nothing
// (searches, exports, lookups), and in creations only with --allow-writes;
// never in bodies that carry a password (logins, sign-ups), where payloads
// would count as failed logins.
package injection

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
)

// Rules.
var (
	SQL = findings.Rule{ID: "rampart.scan.api8.sql-injection", Name: "SQL injection",
		Description: "A parameter or a JSON body member reaches an SQL query unescaped: a quote makes the database fail, or a true and a false condition change the answer.",
		Help:        "Use parameterized queries (placeholders) everywhere; never build SQL from strings.",
		OWASP:       "API8:2023", Severity: findings.Critical}
	NoSQL = findings.Rule{ID: "rampart.scan.api8.nosql-injection", Name: "NoSQL operator injection",
		Description: "A parameter written as param[$ne]=x, or a JSON body member written as {\"$ne\": x}, is read as a query operator and widens the query.",
		Help:        "Accept only scalar values for query parameters and body members that should be scalars; reject keys starting with $.",
		OWASP:       "API8:2023", Severity: findings.High}
	Command = findings.Rule{ID: "rampart.scan.api8.command-injection", Name: "OS command injection",
		Description: "A parameter or a JSON body member reaches a shell: a sleep in it delays the answer by the time asked for.",
		Help:        "Never pass input to a shell; call programs with an argument vector and validate the values.",
		OWASP:       "API8:2023", Severity: findings.Critical}
	Traversal = findings.Rule{ID: "rampart.scan.api8.path-traversal", Name: "Path traversal",
		Description: "A parameter or a JSON body member with ../ segments reads files outside the directory it is meant for (/etc/passwd here).",
		Help:        "Resolve names inside one root (os.Root, filepath.IsLocal) and refuse anything else.",
		OWASP:       "API8:2023", Severity: findings.Critical}
)

// Check runs the injection rules.
type Check struct {
	// Delay is the sleep asked for in command injection (0: 2 s).
	Delay time.Duration
}

// Name implements scan.Check.
func (Check) Name() string { return "injection" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule { return []findings.Rule{SQL, NoSQL, Command, Traversal} }

// slot is one parameter of one operation, with the request it came from.
type slot struct {
	op   *scan.Op
	base *scan.Exchange
	name string
	in   string // query, path, or body (a top-level member of a JSON body)
}

func (sl slot) with(s *scan.Session, value string) *scan.Request {
	switch sl.in {
	case "header":
		r := sl.base.Req.Clone()
		if r.Header == nil {
			r.Header = http.Header{}
		}
		r.Header.Set(sl.name, value)
		return r
	case "query":
		r := sl.base.Req.Clone()
		r.Query.Set(sl.name, value)
		return r
	case "body":
		return sl.withMember(value)
	}
	values := s.PathValues(sl.op, sl.base)
	values[sl.name] = value
	return s.Build(sl.op, values)
}

// withMember is the base request with the body member set to v, or left
// out when v is nil.
func (sl slot) withMember(v any) *scan.Request {
	r := sl.base.Req.Clone()
	m := map[string]any{}
	_ = json.Unmarshal(r.Body, &m) // the base body is an object: bodySlots checked
	if v == nil {
		delete(m, sl.name)
	} else {
		m[sl.name] = v
	}
	r.Body, _ = json.Marshal(m) // JSON values: never fails
	return r
}

func (sl slot) current(s *scan.Session) string {
	switch sl.in {
	case "header":
		return sl.base.Req.Header.Get(sl.name)
	case "query":
		return sl.base.Req.Query.Get(sl.name)
	case "body":
		m := map[string]any{}
		_ = json.Unmarshal(sl.base.Req.Body, &m)
		v, _ := m[sl.name].(string)
		return v
	}
	return s.PathValues(sl.op, sl.base)[sl.name]
}

// key names the slot in a finding's key: the parameter, or body:member.
func (sl slot) key() string {
	switch sl.in {
	case "body", "header":
		return sl.in + ":" + sl.name
	}
	return sl.name
}

// slots lists the string parameters of safe operations that answered,
// then the string members of write bodies (bodySlots).
func slots(s *scan.Session) []slot {
	var out []slot
	for _, op := range s.Ops {
		if op.Method != "GET" {
			continue
		}
		base := s.FirstView(op)
		if base == nil {
			if v := s.View(op, ""); scan.Success(v) {
				base = v
			} else if !op.RequiresAuth {
				base = &scan.Exchange{Req: s.Build(op, nil)}
			}
		}
		if base == nil {
			continue
		}
		for _, p := range op.Parameters() {
			if p.In != "query" && p.In != "path" && (p.In != "header" || reservedHeader(p.Name)) {
				continue
			}
			if p.Schema != nil && p.Schema.Value != nil && p.Schema.Value.Type != nil && scan.TypeOf(p.Schema.Value) != "string" {
				continue
			}
			out = append(out, slot{op: op, base: base, name: p.Name, in: p.In})
		}
	}
	return append(out, bodySlots(s)...)
}

// reservedHeader reports headers a header slot never takes: the
// identity's credentials and what the transport itself sets.
func reservedHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Cookie", "Host", "Content-Type", "Content-Length", "Transfer-Encoding", "Connection", "Proxy-Authorization":
		return true
	}
	return false
}

// maxBodyMembers bounds the members tried per write operation.
const maxBodyMembers = 6

// bodySlots lists the string members of the JSON bodies of writes the
// scan may send: PUT/PATCH/POST on an object the scan created (as its
// owner), or a POST that names no object and creates none (a search, an
// export, a lookup). Creations are tried only with --allow-writes, since
// each payload may leave an object behind.
func bodySlots(s *scan.Session) []slot {
	var out []slot
	for _, op := range s.Ops {
		if op.Method != "POST" && op.Method != "PUT" && op.Method != "PATCH" {
			continue
		}
		var values map[string]string
		var as *scan.Identity
		if len(op.Params) > 0 {
			o := createdObject(s, op)
			if o == nil {
				continue
			}
			values, as = o.Values(), o.Owner
		} else {
			// Without an object to address, only a POST: a PUT or PATCH
			// on /me or /settings would write payloads into a real
			// account that nothing restores.
			if op.Method != "POST" || s.IsCreation(op) && !s.AllowWrites {
				continue
			}
			if op.RequiresAuth {
				if len(s.Identities) == 0 {
					continue
				}
				as = s.Identities[0]
			}
		}
		base := &scan.Exchange{Req: s.Build(op, values), As: as}
		if base.Req.ContentType != "application/json" {
			continue
		}
		var m map[string]any
		if json.Unmarshal(base.Req.Body, &m) != nil || takesCredentials(m) {
			continue
		}
		names := slices.Sorted(maps.Keys(m))
		n := 0
		for _, name := range names {
			if _, ok := m[name].(string); !ok || n == maxBodyMembers {
				continue
			}
			n++
			out = append(out, slot{op: op, base: base, name: name, in: "body"})
		}
	}
	return out
}

// takesCredentials reports a body with a password-like member: a login,
// a sign-up or a password change. Payloads there count as failed logins
// and can lock out the account named in the sample; the login check
// probes them with care instead.
func takesCredentials(body map[string]any) bool {
	for name := range body {
		if nameHas(name, "password", "passwd", "pass", "pwd", "pin", "otp", "passcode") {
			return true
		}
	}
	return false
}

// createdObject is an object the scan created (and deletes at the end)
// that op addresses: payloads written to it harm no one's data, so no
// value needs restoring.
func createdObject(s *scan.Session, op *scan.Op) *scan.Object {
	for _, o := range s.Objects(op.Path) {
		if o.Owner != nil && o.Created {
			return o
		}
	}
	return nil
}

// Run implements scan.Check.
func (c Check) Run(ctx context.Context, s *scan.Session) error {
	for _, sl := range slots(s) {
		for _, step := range []struct {
			rule string
			run  func(context.Context, *scan.Session, slot) error
		}{{SQL.ID, sqli}, {NoSQL.ID, nosqli}, {Traversal.ID, traversal}, {Command.ID, c.command}} {
			if !s.Enabled(step.rule) {
				continue
			}
			if err := step.run(ctx, s, sl); err != nil {
				return err
			}
		}
	}
	return nil
}

func send(ctx context.Context, s *scan.Session, sl slot, value string) (*scan.Exchange, error) {
	return s.Send(ctx, sl.with(s, value), sl.base.As)
}

var sqlErrors = regexp.MustCompile(`(?i)(SQL syntax|SQLSTATE|syntax error at or near|unterminated quoted string|unrecognized token|near ".*": syntax error|sqlite3?[._ ]|ORA-\d{5}|quoted string not properly terminated|PG::SyntaxError|psycopg2|com\.mysql\.jdbc|System\.Data\.SqlClient|Unclosed quotation mark|SQLITE_ERROR)`)

func sqli(ctx context.Context, s *scan.Session, sl slot) error {
	cur := sl.current(s)
	control, err := send(ctx, s, sl, cur)
	if err != nil {
		return err
	}
	if sqlErrors.Match(control.Resp.Body) {
		return nil
	}
	// Error-based: a lone quote breaks the query twice; two quotes (an
	// escaped quote) do not.
	quote, err := send(ctx, s, sl, cur+"'")
	if err != nil {
		return err
	}
	if m := sqlErrors.Find(quote.Resp.Body); m != nil {
		again, err := send(ctx, s, sl, cur+"'")
		if err != nil {
			return err
		}
		escaped, err := send(ctx, s, sl, cur+"''")
		if err != nil {
			return err
		}
		if sqlErrors.Match(again.Resp.Body) && !sqlErrors.Match(escaped.Resp.Body) {
			f := scan.Finding(SQL, sl.op, findings.Certain, "SQL injection (error-based)",
				fmt.Sprintf("%s=%q' made the database fail twice (%q); with the quote escaped ('') it did not.", sl.name, cur, string(m)))
			f.Key = sl.key()
			f.Evidence = []findings.Exchange{scan.Evidence("the ordinary value (control)", control), scan.Evidence("a lone quote", quote), scan.Evidence("an escaped quote (control)", escaped)}
			f.Curl = scan.Curl(quote)
			s.Report(f)
			return nil
		}
	}
	// Boolean-based: the false condition answers like a value that matches
	// nothing; the true one differs; twice.
	const none = "rampartzq"
	for _, p := range []struct{ t, f string }{{"' OR '1'='1", "' AND '1'='2"}, {" OR 1=1", " AND 1=2"}} {
		base, err := send(ctx, s, sl, none)
		if err != nil {
			return err
		}
		var tr, fa *scan.Exchange
		confirmed := true
		for round := 0; round < 2 && confirmed; round++ {
			if tr, err = send(ctx, s, sl, none+p.t); err != nil {
				return err
			}
			if fa, err = send(ctx, s, sl, none+p.f); err != nil {
				return err
			}
			confirmed = scan.Success(tr) && scan.Success(fa) && scan.Success(base) &&
				scan.Compare(base.Resp.Body, fa.Resp.Body).Values >= 0.95 && scan.Compare(base.Resp.Body, tr.Resp.Body).Values < 0.8
		}
		if confirmed {
			f := scan.Finding(SQL, sl.op, findings.Certain, "SQL injection (boolean-based)",
				fmt.Sprintf("%s=%q answers like a value that matches nothing, %s=%q answers something else (%d bytes), twice: the condition runs in the query.", sl.name, none+p.f, sl.name, none+p.t, len(tr.Resp.Body)))
			f.Key = sl.key()
			f.Evidence = []findings.Exchange{scan.Evidence("a value that matches nothing (control)", base), scan.Evidence("the false condition", fa), scan.Evidence("the true condition", tr)}
			f.Curl = scan.Curl(tr)
			s.Report(f)
			return nil
		}
	}
	return nil
}

func nosqli(ctx context.Context, s *scan.Session, sl slot) error {
	if sl.in == "path" || sl.in == "header" {
		return nil
	}
	const none = "rampart-scan-no-match"
	// The operator goes in as the parameter's bracketed form in a query
	// (name[$ne]=x), as an object in a JSON body ({"name": {"$ne": x}}).
	shown := sl.name + "[$ne]=" + none
	variants := func() (absent, withOp *scan.Request) {
		if sl.in == "body" {
			shown = fmt.Sprintf(`{"%s": {"$ne": %q}}`, sl.name, none)
			return sl.withMember(nil), sl.withMember(map[string]any{"$ne": none})
		}
		r := sl.base.Req.Clone()
		r.Query.Del(sl.name)
		withOp = r.Clone()
		withOp.Query.Set(sl.name+"[$ne]", none)
		return r, withOp
	}
	var plain, absent, op *scan.Exchange
	for round := 0; round < 2; round++ {
		var err error
		if plain, err = send(ctx, s, sl, none); err != nil {
			return err
		}
		// The parameter left out is the second control: an API that
		// ignores the unknown key answers like this.
		ra, ro := variants()
		if absent, err = s.Send(ctx, ra, sl.base.As); err != nil {
			return err
		}
		if op, err = s.Send(ctx, ro, sl.base.As); err != nil {
			return err
		}
		if !scan.Success(op) || !scan.Success(plain) || scan.Compare(plain.Resp.Body, op.Resp.Body).Values >= 0.8 ||
			len(op.Resp.Body) <= len(plain.Resp.Body) || scan.Compare(absent.Resp.Body, op.Resp.Body).Values >= 0.8 {
			return nil
		}
	}
	f := scan.Finding(NoSQL, sl.op, findings.Firm, "NoSQL operator injection",
		fmt.Sprintf("%s=%s matches nothing, %s answers %d bytes more, twice: the %s is read as a query operator.", sl.name, none, shown, len(op.Resp.Body)-len(plain.Resp.Body), sl.what()))
	f.Key = sl.key()
	f.Evidence = []findings.Exchange{scan.Evidence("a value that matches nothing (control)", plain), scan.Evidence("the "+sl.what()+" left out (control)", absent), scan.Evidence("the same with $ne", op)}
	f.Curl = scan.Curl(op)
	s.Report(f)
	return nil
}

// what names the slot's kind for messages.
func (sl slot) what() string {
	switch sl.in {
	case "body":
		return "body member"
	case "header":
		return "header"
	}
	return "parameter"
}

// nameHas reports whether a parameter name has one of the words, split at
// punctuation and camelCase (targetHost, target_host: target, host).
func nameHas(name string, words ...string) bool {
	var parts []string
	cur := []rune{}
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range name {
		switch {
		case !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
			flush()
		case r >= 'A' && r <= 'Z' && i > 0:
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
	}
	flush()
	for _, p := range parts {
		for _, w := range words {
			if p == w {
				return true
			}
		}
	}
	return false
}

var fileWords = []string{"file", "filename", "path", "name", "doc", "document", "template", "page", "include", "download", "attachment", "dir", "folder", "image", "report"}

var commandWords = []string{"host", "hostname", "ip", "addr", "address", "domain", "cmd", "command", "exec", "run", "ping", "target", "server", "file", "filename", "path", "dir"}

func traversal(ctx context.Context, s *scan.Session, sl slot) error {
	if !nameHas(sl.name, fileWords...) {
		return nil
	}
	for _, payload := range []string{"../../../../../../../../etc/passwd", "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/etc/passwd"} {
		v := payload
		if strings.Contains(v, "%2f") {
			v, _ = url.PathUnescape(v)
		}
		ex, err := send(ctx, s, sl, v)
		if err != nil {
			return err
		}
		if !passwd.Match(ex.Resp.Body) {
			continue
		}
		again, err := send(ctx, s, sl, v)
		if err != nil {
			return err
		}
		if !passwd.Match(again.Resp.Body) || (sl.base.Resp != nil && passwd.Match(sl.base.Resp.Body)) {
			continue
		}
		f := scan.Finding(Traversal, sl.op, findings.Certain, "Path traversal",
			fmt.Sprintf("%s=%q returned /etc/passwd (root:x:0:0:...), twice.", sl.name, v))
		f.Key = sl.key()
		f.Evidence = []findings.Exchange{scan.Evidence("the traversal", ex)}
		f.Curl = scan.Curl(ex)
		s.Report(f)
		return nil
	}
	return nil
}

var passwd = regexp.MustCompile(`root:[x*!]?:0:0:`)

// command injects shell sleeps into command-shaped parameters: the answer
// must be late by about the delay asked for, twice the delay for twice
// the sleep, and on time for a zero sleep.
func (c Check) command(ctx context.Context, s *scan.Session, sl slot) error {
	if !nameHas(sl.name, commandWords...) {
		return nil
	}
	d := c.Delay
	if d == 0 {
		d = 2 * time.Second
	}
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	cur := sl.current(s)
	base, err := send(ctx, s, sl, cur)
	if err != nil {
		return err
	}
	t0 := base.Resp.Duration
	for _, form := range []string{";sleep %d;", "$(sleep %d)", "`sleep %d`", "|sleep %d|", "&&sleep %d&&"} {
		one, err := send(ctx, s, sl, cur+fmt.Sprintf(form, secs))
		if err != nil {
			return err
		}
		if one.Resp.Duration < t0+d*9/10 {
			continue
		}
		zero, err := send(ctx, s, sl, cur+fmt.Sprintf(form, 0))
		if err != nil {
			return err
		}
		two, err := send(ctx, s, sl, cur+fmt.Sprintf(form, 2*secs))
		if err != nil {
			return err
		}
		if zero.Resp.Duration >= t0+d/2 || two.Resp.Duration < t0+2*d*9/10 {
			continue
		}
		f := scan.Finding(Command, sl.op, findings.Certain, "OS command injection (time-based)",
			fmt.Sprintf("%s with %q answered after %s, with sleep %d after %s, with sleep 0 after %s (ordinary: %s): the value runs in a shell.",
				sl.name, fmt.Sprintf(form, secs), one.Resp.Duration.Round(time.Millisecond), 2*secs, two.Resp.Duration.Round(time.Millisecond), zero.Resp.Duration.Round(time.Millisecond), t0.Round(time.Millisecond)))
		f.Key = sl.key()
		f.Evidence = []findings.Exchange{scan.Evidence("the ordinary value (control)", base), scan.Evidence("sleep 0 (control)", zero), scan.Evidence(fmt.Sprintf("sleep %d", secs), one), scan.Evidence(fmt.Sprintf("sleep %d", 2*secs), two)}
		f.Curl = scan.Curl(one)
		s.Report(f)
		return nil
	}
	return nil
}
