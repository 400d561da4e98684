// Package misconfig holds rampart scan's security-misconfiguration checks
// (API8:2023) other than injection: TLS protocols and cipher suites
// probed with real handshakes (crypto/tls for what it still speaks, and
// scan/tlsprobe's raw hellos for SSL 2.0/3.0 and the suites it dropped), HSTS and other security headers, version
// disclosure, permissive CORS (a reflected origin with credentials),
// verbose errors and stack traces, and TRACE.
//
// Each rule compares against a control: a header is missing only if the
// target's ordinary answer lacks it; an error is verbose only if the
// ordinary answer did not already hold the same text.
package misconfig

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/tlsprobe"
)

// Rules.
var (
	TLS = findings.Rule{ID: "rampart.scan.api8.tls", Name: "Weak TLS",
		Description: "The target accepts TLS 1.0 or 1.1, or cipher suites without forward secrecy or AEAD (CBC, RSA key exchange, 3DES), or no TLS at all on a non-loopback address; high severity when it accepts SSL 2.0 or 3.0, or a NULL, anonymous, EXPORT, single-DES or RC4 suite.",
		Help:        "Accept TLS 1.2 and 1.3 only, with ECDHE and AEAD suites (Rampart's listener policy does this by default).",
		OWASP:       "API8:2023", Severity: findings.Medium}
	Headers = findings.Rule{ID: "rampart.scan.api8.security-headers", Name: "Missing security headers",
		Description: "Responses lack Strict-Transport-Security (on HTTPS), X-Content-Type-Options: nosniff, or Cache-Control: no-store on authenticated answers.",
		Help:        "Set the headers on every response (Rampart's headers section sets HSTS, nosniff and Cache-Control).",
		OWASP:       "API8:2023", Severity: findings.Low}
	Disclosure = findings.Rule{ID: "rampart.scan.api8.version-disclosure", Name: "Server software disclosed",
		Description: "Server or X-Powered-By headers name the software (and often its version), which helps an attacker pick exploits.",
		Help:        "Remove Server versions and X-Powered-By (Rampart strips them from upstream answers).",
		OWASP:       "API8:2023", Severity: findings.Low}
	CORS = findings.Rule{ID: "rampart.scan.api8.cors", Name: "Permissive CORS",
		Description: "The target reflects any Origin in Access-Control-Allow-Origin together with Access-Control-Allow-Credentials: true, so any web page can read answers with its visitors' credentials.",
		Help:        "Allow a fixed list of origins; never reflect the Origin header with credentials.",
		OWASP:       "API8:2023", Severity: findings.High}
	Verbose = findings.Rule{ID: "rampart.scan.api8.verbose-errors", Name: "Verbose errors",
		Description: "A malformed parameter makes the target answer with a stack trace, a file path or a database error.",
		Help:        "Answer errors with a generic problem document (RFC 9457) and log the details server-side (Rampart normalizes upstream errors).",
		OWASP:       "API8:2023", Severity: findings.Medium}
	Trace = findings.Rule{ID: "rampart.scan.api8.trace", Name: "TRACE enabled",
		Description: "The target answers TRACE by echoing the request, headers included (cross-site tracing).",
		Help:        "Refuse TRACE (405); Rampart routes only the methods a route names.",
		OWASP:       "API8:2023", Severity: findings.Low}
)

// Check runs the rules.
type Check struct{}

// Name implements scan.Check.
func (Check) Name() string { return "misconfiguration" }

// Rules implements scan.Check.
func (Check) Rules() []findings.Rule {
	return []findings.Rule{TLS, Headers, Disclosure, CORS, Verbose, Trace}
}

// Run implements scan.Check.
func (Check) Run(ctx context.Context, s *scan.Session) error {
	for _, step := range []struct {
		rule string
		run  func(context.Context, *scan.Session) error
	}{{TLS.ID, tlsCheck}, {Headers.ID, headers}, {Disclosure.ID, disclosure}, {CORS.ID, cors}, {Verbose.ID, verbose}, {Trace.ID, trace}} {
		if !s.Enabled(step.rule) {
			continue
		}
		if err := step.run(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// sample returns one successful authenticated view and its operation, the
// ordinary answer the header rules look at.
func sample(s *scan.Session) (*scan.Op, *scan.Exchange) {
	var fallback *scan.Exchange
	var fop *scan.Op
	for _, op := range s.Ops {
		if op.Method != "GET" {
			continue
		}
		for _, id := range s.Identities {
			if v := s.View(op, id.Name); scan.Success(v) {
				if strings.Contains(v.Resp.Header.Get("Content-Type"), "json") {
					return op, v
				}
				if fallback == nil {
					fallback, fop = v, op
				}
			}
		}
	}
	return fop, fallback
}

func headers(_ context.Context, s *scan.Session) error {
	op, v := sample(s)
	if v == nil {
		return nil
	}
	var missing []string
	h := v.Resp.Header
	if s.Target.Scheme == "https" && h.Get("Strict-Transport-Security") == "" {
		missing = append(missing, "Strict-Transport-Security")
	}
	if !strings.EqualFold(h.Get("X-Content-Type-Options"), "nosniff") {
		missing = append(missing, "X-Content-Type-Options: nosniff")
	}
	if v.As != nil && !strings.Contains(strings.ToLower(h.Get("Cache-Control")), "no-store") && !strings.Contains(strings.ToLower(h.Get("Cache-Control")), "private") {
		missing = append(missing, "Cache-Control: no-store (on an authenticated answer)")
	}
	if len(missing) == 0 {
		return nil
	}
	f := scan.Finding(Headers, op, findings.Certain, "Missing security headers",
		fmt.Sprintf("%s %s answered without %s.", op.Method, op.Path, strings.Join(missing, ", ")))
	f.Evidence = []findings.Exchange{scan.Evidence("an ordinary answer", v)}
	f.Curl = scan.Curl(v)
	s.Report(f)
	return nil
}

var versionLike = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.-]*/\d`)

func disclosure(_ context.Context, s *scan.Session) error {
	op, v := sample(s)
	if v == nil {
		return nil
	}
	var what []string
	if sv := v.Resp.Header.Get("Server"); versionLike.MatchString(sv) {
		what = append(what, "Server: "+sv)
	}
	if p := v.Resp.Header.Get("X-Powered-By"); p != "" {
		what = append(what, "X-Powered-By: "+p)
	}
	if len(what) == 0 {
		return nil
	}
	f := scan.Finding(Disclosure, op, findings.Certain, "Server software disclosed", "The target announces "+strings.Join(what, "; ")+".")
	f.Evidence = []findings.Exchange{scan.Evidence("an ordinary answer", v)}
	f.Curl = scan.Curl(v)
	s.Report(f)
	return nil
}

const evilOrigin = "https://rampart-scan.invalid"

func cors(ctx context.Context, s *scan.Session) error {
	op, v := sample(s)
	if v == nil {
		return nil
	}
	r := v.Req.Clone()
	if r.Header == nil {
		r.Header = http.Header{}
	}
	r.Header.Set("Origin", evilOrigin)
	ex, err := s.Send(ctx, r, v.As)
	if err != nil {
		return err
	}
	acao := ex.Resp.Header.Get("Access-Control-Allow-Origin")
	creds := strings.EqualFold(ex.Resp.Header.Get("Access-Control-Allow-Credentials"), "true")
	if acao != evilOrigin || !creds {
		return nil
	}
	f := scan.Finding(CORS, op, findings.Certain, "Any origin may read answers with credentials",
		fmt.Sprintf("With Origin: %s, %s %s answered Access-Control-Allow-Origin: %s and Access-Control-Allow-Credentials: true.", evilOrigin, op.Method, op.Path, acao))
	f.Evidence = []findings.Exchange{scan.Evidence("a request from a foreign origin", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
	return nil
}

// verbosePatterns are stack traces, source paths and database errors.
var verbosePatterns = regexp.MustCompile(`(?i)(goroutine \d+ \[|panic: |traceback \(most recent call last\)|\bat [a-z0-9_.$]+\([a-z0-9_]+\.java:\d+\)|exception in thread|\.go:\d+\b|\.py", line \d+|\.php on line \d+|\.rb:\d+:in |System\.[A-Za-z.]+Exception|SQLSTATE\[|ORA-\d{5}|PG::[A-Za-z]+Error|sqlite3?\.|SQL syntax.*MySQL|/home/[a-z0-9_-]+/|/usr/src/app|node_modules/)`)

// malformed is what goes into typed parameters: wrong type, quotes,
// brackets and a long run, the inputs careless parsers choke on.
const malformed = "rampart'\"<[{%}]>"

func verbose(ctx context.Context, s *scan.Session) error {
	tried := 0
	for _, op := range s.Ops {
		if op.Method != "GET" || tried >= 12 {
			continue
		}
		base := s.FirstView(op)
		if base == nil {
			continue
		}
		for _, p := range op.Parameters() {
			if p.In != "query" && p.In != "path" {
				continue
			}
			if tried >= 12 {
				break
			}
			tried++
			var r *scan.Request
			if p.In == "query" {
				r = base.Req.Clone()
				r.Query.Set(p.Name, malformed)
			} else {
				r = s.Build(op, map[string]string{p.Name: malformed})
			}
			ex, err := s.Send(ctx, r, base.As)
			if err != nil {
				return err
			}
			m := verbosePatterns.Find(ex.Resp.Body)
			if m == nil || verbosePatterns.Match(base.Resp.Body) {
				continue
			}
			f := scan.Finding(Verbose, op, findings.Certain, "Verbose error",
				fmt.Sprintf("%s=%q made %s %s answer %d with internals (%q).", p.Name, malformed, op.Method, op.Path, ex.Resp.Status, string(m)))
			f.Key = p.Name
			f.Evidence = []findings.Exchange{scan.Evidence("the ordinary answer (control)", base), scan.Evidence("a malformed "+p.Name, ex)}
			f.Curl = scan.Curl(ex)
			s.Report(f)
			break
		}
	}
	return nil
}

func trace(ctx context.Context, s *scan.Session) error {
	marker := "rampart-trace-" + s.Canary.Token()[:8]
	r := &scan.Request{Method: "TRACE", Path: "/", Header: http.Header{"X-Rampart-Trace": {marker}}}
	ex, err := s.Send(ctx, r, nil)
	if err != nil {
		return err
	}
	if !scan.Success(ex) || !strings.Contains(string(ex.Resp.Body), marker) {
		return nil
	}
	f := scan.Finding(Trace, nil, findings.Certain, "TRACE echoes requests", fmt.Sprintf("TRACE / answered %d and echoed the request's headers.", ex.Resp.Status))
	f.Method, f.PathTemplate = "TRACE", "/"
	f.Evidence = []findings.Exchange{scan.Evidence("TRACE /", ex)}
	f.Curl = scan.Curl(ex)
	s.Report(f)
	return nil
}

// weakSuites are the suites a careful server refuses: CBC (Lucky13,
// padding oracles), RSA key exchange (no forward secrecy), 3DES (Sweet32).
func weakSuites() []uint16 {
	var out []uint16
	for _, cs := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
		// RC4 is left to the raw probes, which report it as broken.
		if !strings.Contains(cs.Name, "RC4") && (strings.Contains(cs.Name, "_CBC_") || strings.HasPrefix(cs.Name, "TLS_RSA_") || strings.Contains(cs.Name, "3DES")) {
			if len(cs.SupportedVersions) > 0 && cs.SupportedVersions[0] <= tls.VersionTLS12 {
				out = append(out, cs.ID)
			}
		}
	}
	return out
}

func tlsCheck(ctx context.Context, s *scan.Session) error {
	if s.Target.Scheme != "https" {
		host := s.Target.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			s.Note("TLS not checked: the target is plain HTTP on a loopback address")
			return nil
		}
		f := scan.Finding(TLS, nil, findings.Certain, "No TLS", fmt.Sprintf("The target %s is plain HTTP: credentials and data cross the network in clear.", s.Target.Redacted()))
		f.Key = "plaintext"
		f.Curl = "curl -i " + s.Target.Redacted()
		f.Evidence = []findings.Exchange{{Label: "the target URL", Request: s.Target.Redacted()}}
		s.Report(f)
		return nil
	}
	var weak []string
	for _, v := range []struct {
		name string
		ver  uint16
	}{{"TLS 1.0", tls.VersionTLS10}, {"TLS 1.1", tls.VersionTLS11}} {
		cfg := s.TLSConfig()
		cfg.MinVersion, cfg.MaxVersion = v.ver, v.ver
		cfg.InsecureSkipVerify = true // #nosec G402 -- a probe of what the server accepts, not a connection we trust
		cfg.CipherSuites = nil
		c, err := s.DialTLS(ctx, cfg)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		_ = c.Close()
		weak = append(weak, v.name+" accepted")
	}
	cfg := s.TLSConfig()
	cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS12 // #nosec G402 -- a probe of what the server accepts
	cfg.InsecureSkipVerify = true                                       // #nosec G402 -- a probe
	cfg.CipherSuites = weakSuites()
	if c, err := s.DialTLS(ctx, cfg); err == nil {
		st := c.ConnectionState()
		_ = c.Close()
		weak = append(weak, fmt.Sprintf("weak cipher suite %s accepted over %s", tls.CipherSuiteName(st.CipherSuite), tls.VersionName(st.Version)))
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	broken, err := rawProbes(ctx, s)
	if err != nil {
		return err
	}
	weak = append(broken, weak...)
	if len(weak) == 0 {
		return nil
	}
	f := scan.Finding(TLS, nil, findings.Certain, "Weak TLS", fmt.Sprintf("Handshakes with %s: %s.", s.Target.Host, strings.Join(weak, "; ")))
	if len(broken) > 0 {
		f.Title, f.Severity = "Broken TLS", findings.High
	}
	f.Key = "handshake"
	f.Evidence = []findings.Exchange{{Label: "TLS handshakes", Request: strings.Join(weak, "\n")}}
	f.Curl = fmt.Sprintf("sslscan %s; openssl s_client -connect %s -tls1 </dev/null", s.Target.Host, s.Target.Host)
	s.Report(f)
	return nil
}

// maxLegacyProbes bounds the handshakes that list accepted legacy suites.
const maxLegacyProbes = 8

// rawProbes asks, with handshakes crypto/tls can no longer send, whether
// the target accepts SSL 2.0, SSL 3.0, or a NULL, anonymous, EXPORT,
// single-DES or RC4 suite in TLS 1.0-1.2. Each is broken outright, so
// each is reported at high severity. A probe the target answers with
// nonsense is noted, not reported.
func rawProbes(ctx context.Context, s *scan.Session) ([]string, error) {
	var broken []string
	probe := func(what string, run func(net.Conn) (tlsprobe.Answer, error)) (tlsprobe.Answer, bool, error) {
		c, err := s.Dial(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, scan.ErrBudget) {
				return tlsprobe.Answer{}, false, err
			}
			s.Note("TLS probe %s: %v", what, err)
			return tlsprobe.Answer{}, false, nil
		}
		defer c.Close()
		a, err := run(c)
		if err != nil {
			if ctx.Err() != nil {
				return a, false, ctx.Err()
			}
			s.Note("TLS probe %s: the target's answer was malformed: %v", what, err)
			return a, false, nil
		}
		return a, a.Accepted, nil
	}
	a, ok, err := probe("SSL 2.0", func(c net.Conn) (tlsprobe.Answer, error) { return tlsprobe.ProbeSSLv2(ctx, c) })
	if err != nil {
		return nil, err
	}
	if ok {
		broken = append(broken, fmt.Sprintf("SSL 2.0 accepted (with %s)", tlsprobe.SSLv2SpecName(a.Suite)))
	}
	name := s.Target.Hostname()
	a, ok, err = probe("SSL 3.0", func(c net.Conn) (tlsprobe.Answer, error) {
		return tlsprobe.Probe(ctx, c, tlsprobe.Hello{Version: tlsprobe.SSL30, Suites: tlsprobe.SSL3Suites()})
	})
	if err != nil {
		return nil, err
	}
	if ok && a.Version == tlsprobe.SSL30 {
		broken = append(broken, fmt.Sprintf("SSL 3.0 accepted (with %s)", suiteName(uint16(a.Suite)))) // #nosec G115 -- a TLS suite is 16 bits
	}
	var offered []uint16
	for _, cs := range tlsprobe.Legacy() {
		offered = append(offered, cs.ID)
	}
	for range maxLegacyProbes {
		a, ok, err = probe("legacy suites", func(c net.Conn) (tlsprobe.Answer, error) {
			return tlsprobe.Probe(ctx, c, tlsprobe.Hello{Version: tlsprobe.TLS12, Suites: offered, ServerName: name})
		})
		if err != nil {
			return nil, err
		}
		cs, known := tlsprobe.Lookup(uint16(a.Suite)) // #nosec G115 -- a TLS suite is 16 bits
		if !ok || !known || !slices.Contains(offered, cs.ID) {
			break
		}
		broken = append(broken, fmt.Sprintf("%s accepted over %s: %s", cs.Name, tlsprobe.VersionName(a.Version), cs.Weakness))
		offered = slices.DeleteFunc(offered, func(id uint16) bool { return id == cs.ID })
	}
	return broken, nil
}

// suiteName names a suite from crypto/tls's list or the legacy catalogue.
func suiteName(id uint16) string {
	if _, known := tlsprobe.Lookup(id); known {
		return tlsprobe.SuiteName(id)
	}
	return tls.CipherSuiteName(id)
}
