package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validator collects problems; each method checks one part of the config.
type validator struct {
	problems   []Problem
	middleware bool // ValidateMode(Middleware)
}

func (v *validator) errorf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) warnf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...), Warning: true})
}

// Validate checks a config whose defaults are set and returns every problem
// it finds, errors and warnings, each with its path. It is pure: it reads no
// file and opens no socket.
func Validate(c *Config) []Problem { return ValidateMode(c, Gateway) }

// Mode is what runs a config.
type Mode int

const (
	// Gateway is the rampart binary: listeners in front, upstreams behind.
	Gateway Mode = iota
	// Middleware is Rampart inside a Go service (package rampart): the
	// application's server listens and the wrapped handler answers every
	// route, so listeners, upstreams and routes[].upstream are refused,
	// and the admin section is not served.
	Middleware
)

// ValidateMode is Validate for a mode.
func ValidateMode(c *Config, mode Mode) []Problem {
	v := &validator{middleware: mode == Middleware}
	if c.Version != 1 {
		v.errorf("version", "must be 1, got %d", c.Version)
	}
	if v.middleware {
		if len(c.Listeners) > 0 {
			v.errorf("listeners", "middleware mode has no listeners: the application's server listens; remove the section")
		}
		if len(c.Upstreams) > 0 {
			v.errorf("upstreams", "middleware mode has no upstreams: the wrapped handler answers every route; remove the section")
		}
		if c.Audit.Enabled && c.Audit.Origin == "" {
			v.errorf("audit.origin", "required in middleware mode: the name of this service's log in its checkpoints (each service, and each replica with its own log, needs its own)")
		}
	} else {
		v.listeners(c)
		v.admin(&c.Admin)
	}
	v.server(&c.Server)
	v.client(&c.Client)
	v.headers(&c.Headers)
	if c.AccessLog.Output == "" {
		v.errorf("access_log.output", "must be stdout, stderr or a file path")
	}
	v.upstreams(c.Upstreams)
	v.authn(&c.Authn)
	v.store(&c.Store)
	v.routes(c)
	v.redis(c.Redis)
	v.identityToken(&c.IdentityToken)
	v.tokenServer(c)
	v.audit(&c.Audit)
	v.firewall(c)
	v.limits(c)
	v.protect(c)
	v.inputs(c)
	return v.problems
}

func validAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("port %q must be a number from 0 to 65535", port)
	}
	if host != "" && !validHost(host) {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

var hostLabel = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$`)

func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 || h == "" {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if !hostLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func (v *validator) listeners(c *Config) {
	if len(c.Listeners) == 0 {
		v.errorf("listeners", "at least one listener is required")
	}
	names := map[string]bool{}
	addrs := map[string]string{}
	hasTLS := false
	for i, l := range c.Listeners {
		p := fmt.Sprintf("listeners[%d]", i)
		if names[l.Name] {
			v.errorf(p+".name", "duplicate listener name %q", l.Name)
		}
		names[l.Name] = true
		if l.Address == "" {
			v.errorf(p+".address", "required")
		} else if err := validAddress(l.Address); err != nil {
			v.errorf(p+".address", "%v", err)
		} else if prev, dup := addrs[l.Address]; dup {
			v.errorf(p+".address", "%s is also the address of %s", l.Address, prev)
		} else {
			addrs[l.Address] = p
		}
		modes := 0
		if l.TLS != nil {
			modes++
			hasTLS = true
			v.tls(p+".tls", l.TLS)
			if l.TLS.CertFile == "" && l.TLS.ACME == nil {
				v.warnf(p+".tls", "no cert_file: a certificate from the self-signed development CA will be served")
			}
		}
		if l.Plaintext {
			modes++
			v.warnf(p+".plaintext", "serves HTTP without TLS; only safe behind a load balancer that terminates TLS")
		}
		if l.RedirectToHTTPS {
			modes++
		}
		if modes != 1 {
			v.errorf(p, "set exactly one of tls, plaintext or redirect_to_https")
		}
		if l.HTTPSPort < 0 || l.HTTPSPort > 65535 {
			v.errorf(p+".https_port", "must be a port from 1 to 65535")
		}
		if l.HTTPSPort != 0 && !l.RedirectToHTTPS {
			v.errorf(p+".https_port", "only applies with redirect_to_https")
		}
		if l.DisableHTTP2 && l.TLS == nil {
			v.errorf(p+".disable_http2", "only applies to a tls listener")
		}
	}
	for i, l := range c.Listeners {
		if l.RedirectToHTTPS && l.HTTPSPort == 0 && !hasTLS {
			v.errorf(fmt.Sprintf("listeners[%d].https_port", i), "required: no tls listener to redirect to")
		}
	}
}

func (v *validator) tls(p string, t *TLS) {
	if (t.CertFile == "") != (t.KeyFile == "") {
		v.errorf(p, "cert_file and key_file go together")
	}
	if t.ACME != nil {
		v.acme(p+".acme", t)
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		v.errorf(p+".min_version", "must be \"1.2\" or \"1.3\", got %q", t.MinVersion)
	}
	if t.CertFile != "" && len(t.Hosts) > 0 {
		v.errorf(p+".hosts", "only applies to development certificates, not with cert_file")
	}
	for i, h := range t.Hosts {
		if !validHost(h) {
			v.errorf(fmt.Sprintf("%s.hosts[%d]", p, i), "%q is neither an IP address nor a host name", h)
		}
	}
	if t.ReloadInterval.Std() < time.Second {
		v.errorf(p+".reload_interval", "must be at least 1s")
	}
	if ca := t.ClientAuth; ca != nil {
		if ca.CAFile == "" {
			v.errorf(p+".client_auth.ca_file", "required: the CAs that sign client certificates")
		}
		if ca.Mode != "optional" && ca.Mode != "required" {
			v.errorf(p+".client_auth.mode", "must be optional or required, got %q", ca.Mode)
		}
	}
}

func (v *validator) acme(p string, t *TLS) {
	a := t.ACME
	if t.CertFile != "" {
		v.errorf(p, "set either cert_file or acme, not both")
	}
	if len(t.Hosts) > 0 && !slices.Equal(t.Hosts, defaultDevHosts) {
		v.errorf(p, "hosts only applies to development certificates; list acme.domains instead")
	}
	if a.Directory != "" {
		if u, err := url.Parse(a.Directory); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".directory", "must be an https URL, got %q", a.Directory)
		}
	}
	if a.Email == "" || !strings.Contains(a.Email, "@") {
		v.errorf(p+".email", "required: a contact address such as ops@example.com")
	}
	if len(a.Domains) == 0 {
		v.errorf(p+".domains", "required: at least one host name")
	}
	for i, d := range a.Domains {
		if !validHost(d) {
			v.errorf(fmt.Sprintf("%s.domains[%d]", p, i), "%q is not a host name", d)
		}
	}
	if !a.AcceptTerms {
		v.errorf(p+".accept_terms", "must be true: the CA requires agreeing to its subscriber agreement")
	}
	if a.AltTLSALPNPort < 0 || a.AltTLSALPNPort > 65535 {
		v.errorf(p+".alt_tls_alpn_port", "must be a port from 1 to 65535")
	}
}

func (v *validator) admin(a *Admin) {
	if a.Disabled {
		return
	}
	if err := validAddress(a.Address); err != nil {
		v.errorf("admin.address", "%v", err)
	} else if host, _, _ := net.SplitHostPort(a.Address); !a.AllowRemote {
		ip, err := netip.ParseAddr(host)
		if host != "localhost" && (err != nil || !ip.IsLoopback()) {
			v.errorf("admin.address", "%s is not a loopback address; set allow_remote: true to expose the admin API", a.Address)
		}
	}
	if a.TLS != nil {
		v.tls("admin.tls", a.TLS)
		if a.TLS.ACME != nil {
			v.errorf("admin.tls.acme", "not supported on the admin listener; use cert_file or the development CA")
		}
	}
}

func (v *validator) server(s *Server) {
	if s.MaxHeaderBytes < 1<<10 || s.MaxHeaderBytes > 1<<20 {
		v.errorf("server.max_header_bytes", "must be from 1KiB to 1MiB, got %d", s.MaxHeaderBytes)
	}
	if s.MaxBodyBytes < 1 {
		v.errorf("server.max_body_bytes", "must be at least 1 byte")
	}
	if s.MaxResponseBodyBytes < 1 || s.MaxResponseBodyBytes > 1<<30 {
		v.errorf("server.max_response_body_bytes", "must be from 1 byte to 1GiB")
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{
		{"read_header_timeout", s.ReadHeaderTimeout}, {"read_timeout", s.ReadTimeout},
		{"write_timeout", s.WriteTimeout}, {"idle_timeout", s.IdleTimeout},
	} {
		if d.d.Std() < 100*time.Millisecond {
			v.errorf("server."+d.name, "must be at least 100ms, got %s", d.d.Std())
		}
	}
	if s.ReadHeaderTimeout > s.ReadTimeout {
		v.errorf("server.read_header_timeout", "must not exceed read_timeout (%s)", s.ReadTimeout.Std())
	}
}

// ParsePrefix parses a CIDR or a bare IP address (as a single-address
// prefix), masked to its network.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR such as 10.0.0.0/8 or 2001:db8::/32", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or a CIDR", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// reservedHeaders may not carry the request id: HTTP framing, routing,
// credentials and the forwarding headers Rampart rebuilds.
var reservedHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true, "keep-alive": true,
	"te": true, "trailer": true, "upgrade": true, "proxy-connection": true, "content-type": true,
	"authorization": true, "proxy-authorization": true, "cookie": true, "set-cookie": true,
	"forwarded": true, "x-real-ip": true, "expect": true,
}

var headerToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

func (v *validator) client(c *Client) {
	for i, s := range c.TrustedProxies {
		if _, err := ParsePrefix(s); err != nil {
			v.errorf(fmt.Sprintf("client.trusted_proxies[%d]", i), "%v", err)
		}
	}
	switch strings.ToLower(c.IPHeader) {
	case "x-forwarded-for", "x-real-ip":
	default:
		v.errorf("client.ip_header", "must be X-Forwarded-For or X-Real-IP, got %q", c.IPHeader)
	}
	switch rid := strings.ToLower(c.RequestIDHeader); {
	case !headerToken.MatchString(c.RequestIDHeader):
		v.errorf("client.request_id_header", "%q is not a valid header name", c.RequestIDHeader)
	case reservedHeaders[rid] || strings.HasPrefix(rid, "x-forwarded-") || strings.HasPrefix(rid, "x-rampart-") || strings.Contains(rid, "_"):
		v.errorf("client.request_id_header", "%q is a header Rampart or HTTP itself controls; use a name such as X-Request-Id", c.RequestIDHeader)
	}
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; (b < 0x20 && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

func (v *validator) headers(h *Headers) {
	if h.HSTS.Preload && (!h.HSTS.IncludeSubdomains || h.HSTS.MaxAge.Std() < 365*24*time.Hour) {
		v.errorf("headers.hsts.preload", "needs include_subdomains: true and a max_age of at least 8760h")
	}
	if h.HSTS.MaxAge.Std() < time.Second && !h.HSTS.Disabled {
		v.errorf("headers.hsts.max_age", "must be at least 1s")
	}
	if !validHeaderValue(h.CacheControl) {
		v.errorf("headers.cache_control", "contains control characters")
	}
	for i, name := range h.Remove {
		if !headerToken.MatchString(name) {
			v.errorf(fmt.Sprintf("headers.remove[%d]", i), "%q is not a valid header name", name)
		}
	}
	for _, name := range sortedKeys(h.Set) {
		if !headerToken.MatchString(name) {
			v.errorf("headers.set."+name, "not a valid header name")
		}
		if !validHeaderValue(h.Set[name]) {
			v.errorf("headers.set."+name, "value contains control characters")
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (v *validator) upstreams(ups map[string]Upstream) {
	for _, name := range sortedKeys(ups) {
		u, p := ups[name], "upstreams."+name
		if !headerToken.MatchString(name) {
			v.errorf(p, "upstream names may hold only letters, digits and -._~")
		}
		if u.URL == "" {
			v.errorf(p+".url", "required")
			continue
		}
		pu, err := url.Parse(u.URL)
		switch {
		case err != nil:
			v.errorf(p+".url", "not a URL: %q", u.URL)
			continue
		case pu.Scheme != "http" && pu.Scheme != "https":
			v.errorf(p+".url", "scheme must be http or https, got %q", pu.Scheme)
		case pu.Host == "":
			v.errorf(p+".url", "needs a host")
		case pu.User != nil:
			v.errorf(p+".url", "must not hold credentials")
		case pu.RawQuery != "" || pu.Fragment != "":
			v.errorf(p+".url", "must not have a query or fragment")
		}
		t := u.TLS
		if (t.CertFile == "") != (t.KeyFile == "") {
			v.errorf(p+".tls", "cert_file and key_file go together")
		}
		if pu.Scheme == "http" && (t.CAFile != "" || t.CertFile != "" || t.ServerName != "") {
			v.errorf(p+".tls", "only applies to an https url")
		}
		if u.MaxIdleConns < 1 {
			v.errorf(p+".max_idle_conns", "must be at least 1")
		}
		for _, d := range []struct {
			name string
			d    Duration
		}{
			{"connect_timeout", u.ConnectTimeout}, {"response_header_timeout", u.ResponseHeaderTimeout},
			{"idle_conn_timeout", u.IdleConnTimeout},
		} {
			if d.d.Std() < 10*time.Millisecond {
				v.errorf(p+"."+d.name, "must be at least 10ms")
			}
		}
	}
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckPathPattern reports what is wrong with a route path pattern, or nil.
func CheckPathPattern(pattern string) error {
	if !strings.HasPrefix(pattern, "/") {
		return fmt.Errorf("must start with /")
	}
	if len(pattern) > 1 && strings.HasSuffix(pattern, "/") {
		return fmt.Errorf("must not end with / (paths are matched without a trailing slash)")
	}
	if pattern == "/" {
		return nil
	}
	segs := strings.Split(pattern[1:], "/")
	params := map[string]bool{}
	for i, s := range segs {
		switch {
		case s == "":
			return fmt.Errorf("empty segment (//)")
		case s == "." || s == "..":
			return fmt.Errorf("dot segments are not allowed")
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if rest, ok := strings.CutSuffix(name, "..."); ok {
				if i != len(segs)-1 {
					return fmt.Errorf("catch-all {%s} must be the last segment", name)
				}
				name = rest
			}
			if !paramName.MatchString(name) {
				return fmt.Errorf("parameter name %q must be letters, digits and _", name)
			}
			if params[name] {
				return fmt.Errorf("parameter {%s} appears twice", name)
			}
			params[name] = true
		case strings.ContainsAny(s, "{}"):
			return fmt.Errorf("segment %q: a parameter must be a whole segment such as {id}", s)
		case strings.ContainsAny(s, "%?#;\\ "):
			return fmt.Errorf("segment %q: literal segments are matched decoded; write them without %%, ?, #, ; or spaces", s)
		}
	}
	return nil
}

var methodToken = regexp.MustCompile(`^[A-Z]+$`)

func (v *validator) routes(c *Config) {
	if len(c.Routes) == 0 {
		v.errorf("routes", "at least one route is required")
	}
	names := map[string]bool{}
	for i := range c.Routes {
		r := &c.Routes[i]
		p := fmt.Sprintf("routes[%d]", i)
		if names[r.Name] {
			v.errorf(p+".name", "duplicate route name %q", r.Name)
		}
		names[r.Name] = true
		v.route(p, r, c)
	}
}

// route checks one route, at path p: what it matches, where it goes and
// who may use it.
func (v *validator) route(p string, r *Route, c *Config) {
	if r.Host != "" {
		h := strings.TrimPrefix(r.Host, "*.")
		if !validHost(h) || strings.Contains(h, "*") {
			v.errorf(p+".host", "%q must be a host name or *.domain", r.Host)
		}
	}
	if r.Path == "" {
		v.errorf(p+".path", "required")
	} else if err := CheckPathPattern(r.Path); err != nil {
		v.errorf(p+".path", "%v", err)
	}
	v.methods(p, r.Methods)
	v.routeUpstream(p, r.Upstream, c)
	v.routeAccess(p, r, c)
	if !validHeaderValue(r.CacheControl) {
		v.errorf(p+".cache_control", "contains control characters")
	}
}

// methods checks the methods a route, at path p, accepts.
func (v *validator) methods(p string, methods []string) {
	if len(methods) == 0 {
		v.errorf(p+".methods", "required: list the methods the route accepts, such as [GET]")
	}
	seen := map[string]bool{}
	for j, m := range methods {
		mp := fmt.Sprintf("%s.methods[%d]", p, j)
		switch {
		case !methodToken.MatchString(m):
			v.errorf(mp, "%q must be an upper-case method such as GET", m)
		case seen[m]:
			v.errorf(mp, "duplicate method %s", m)
		case m == "CONNECT" || m == "TRACE":
			v.errorf(mp, "%s is never proxied", m)
		}
		seen[m] = true
	}
}

// routeUpstream checks a route's upstream: required in a gateway, refused
// in middleware mode.
func (v *validator) routeUpstream(p, upstream string, c *Config) {
	switch {
	case v.middleware && upstream != "":
		v.errorf(p+".upstream", "middleware mode has no upstreams: the wrapped handler answers; remove it")
	case v.middleware:
	case upstream == "":
		v.errorf(p+".upstream", "required")
	default:
		if _, ok := c.Upstreams[upstream]; !ok {
			v.errorf(p+".upstream", "no upstream named %q", upstream)
		}
	}
}

// routeAccess checks who may use a route: it is public, or it lists its
// authenticators and states an authz rule (deny by default).
func (v *validator) routeAccess(p string, r *Route, c *Config) {
	switch {
	case r.Public && len(r.Auth) > 0:
		v.errorf(p+".public", "a public route takes no auth; remove one of them")
	case r.Public:
		v.warnf(p+".public", "route %q is open to anyone", r.Name)
	case len(r.Auth) == 0:
		v.errorf(p, "route %q needs auth (a list of authenticators) or public: true (deny by default)", r.Name)
	}
	switch {
	case r.Public && r.Authz != nil:
		v.errorf(p+".authz", "a public route takes no authz")
	case !r.Public && r.Authz == nil:
		v.errorf(p+".authz", "required: say who may use route %q, such as authz: {authenticated: true} or {roles: [admin]} (deny by default)", r.Name)
	case r.Authz != nil:
		v.authz(p+".authz", r.Authz, *r, true)
		v.permissionsGranted(p+".authz", r.Authz, &c.Authz)
	}
	seenAuth := map[string]bool{}
	for j, a := range r.Auth {
		ap := fmt.Sprintf("%s.auth[%d]", p, j)
		switch {
		case !authNames(c)[a]:
			v.errorf(ap, "no authenticator named %q", a)
		case seenAuth[a]:
			v.errorf(ap, "%q is listed twice", a)
		}
		seenAuth[a] = true
	}
}

func (v *validator) store(s *Store) {
	switch s.Driver {
	case "sqlite":
		if s.DSN != "" || s.DSNFile != "" {
			v.errorf("store", "dsn and dsn_file only apply to driver postgres")
		}
	case "postgres":
		if (s.DSN == "") == (s.DSNFile == "") {
			v.errorf("store", "driver postgres needs exactly one of dsn or dsn_file")
		}
		if s.Path != "" {
			v.errorf("store.path", "only applies to driver sqlite")
		}
	default:
		v.errorf("store.driver", "must be sqlite or postgres, got %q", s.Driver)
	}
	if s.Timeout.Std() < 100*time.Millisecond || s.Timeout.Std() > time.Minute {
		v.errorf("store.timeout", "must be from 100ms to 1m, got %s", s.Timeout.Std())
	}
}

// authz checks a route's (or, below top, a method's) authorization rule.
func (v *validator) authz(p string, a *Authz, r Route, top bool) {
	v.authzCondition(p, a, r, top)
	for i, s := range append(append([]string{}, a.Roles...), a.Scopes...) {
		if s == "" || strings.ContainsAny(s, " ,") {
			v.errorf(p, "role or scope %d %q must be non-empty without spaces or commas", i, s)
		}
	}
	if o := a.Owner; o != nil {
		v.owner(p+".owner", o, r.Path)
	}
	v.authzFields(p, a)
	if len(a.Methods) > 0 && !top {
		v.errorf(p+".methods", "method rules do not nest")
	}
	for _, m := range sortedKeys(a.Methods) {
		mp := p + ".methods." + m
		if !slices.Contains(r.Methods, m) {
			v.errorf(mp, "the route does not accept %s", m)
		}
		ma := a.Methods[m]
		v.authz(mp, &ma, r, false)
	}
}

// authzCondition refuses a rule that states no condition where it would
// let anyone through.
func (v *validator) authzCondition(p string, a *Authz, r Route, top bool) {
	if !a.Authenticated && len(a.Roles) == 0 && len(a.Scopes) == 0 && len(a.Permissions) == 0 && a.Owner == nil && a.PolicyFile == "" {
		// A route rule without a condition would apply, open, to every
		// method without a rule of its own.
		var uncovered []string
		for _, m := range r.Methods {
			if _, ok := a.Methods[m]; !ok {
				uncovered = append(uncovered, m)
			}
		}
		switch {
		case !top:
			v.errorf(p, "states no condition; use authenticated: true to allow any authenticated identity")
		case len(uncovered) > 0:
			v.errorf(p, "states no condition, so %s would be open to any identity; add a condition (authenticated: true, roles, scopes, owner) or a method rule for each", strings.Join(uncovered, ", "))
		}
	}
}

// owner checks an object-ownership rule, at path p, of a route whose
// pattern is path.
func (v *validator) owner(p string, o *OwnerRule, path string) {
	switch {
	case o.Param == "":
		v.errorf(p+".param", "required: the parameter naming the object")
	case o.In != "path" && o.In != "query" && o.In != "body":
		v.errorf(p+".in", "must be path, query or body, got %q", o.In)
	case o.In == "path" && !strings.Contains(path, "{"+o.Param+"}"):
		v.errorf(p+".param", "route path %s has no parameter {%s}", path, o.Param)
	}
	if o.Claim != "subject" && o.Claim != "tenant" {
		v.errorf(p+".claim", "must be subject or tenant, got %q", o.Claim)
	}
}

// authzFields checks the field lists of a rule: response_fields per role
// and writable_fields.
func (v *validator) authzFields(p string, a *Authz) {
	for _, role := range sortedKeys(a.ResponseFields) {
		for i, f := range a.ResponseFields[role] {
			if f == "" {
				v.errorf(fmt.Sprintf("%s.response_fields.%s[%d]", p, role, i), "must not be empty")
			}
		}
	}
	for i, f := range a.WritableFields {
		if f == "" {
			v.errorf(fmt.Sprintf("%s.writable_fields[%d]", p, i), "must not be empty")
		}
	}
}

// permissionsGranted refuses a rule asking for a permission that no role or
// group grants: a typo would otherwise lock everyone out silently.
func (v *validator) permissionsGranted(p string, a *Authz, g *Permissions) {
	granted := map[string]bool{}
	for _, m := range []map[string][]string{g.Roles, g.Groups} {
		for _, perms := range m {
			for _, perm := range perms {
				granted[perm] = true
			}
		}
	}
	capped := map[string]bool{}
	for _, scopes := range g.MaxScopes {
		for _, sc := range scopes {
			capped[sc] = true
		}
	}
	check := func(p string, a Authz) {
		for i, perm := range a.Permissions {
			if !granted[perm] {
				v.errorf(fmt.Sprintf("%s.permissions[%d]", p, i), "no role or group grants %q (see authz.roles and authz.groups)", perm)
			}
		}
		for i, sc := range a.Scopes {
			if len(g.MaxScopes) > 0 && !capped[sc] {
				v.errorf(fmt.Sprintf("%s.scopes[%d]", p, i), "no role may hold %q under authz.max_scopes, so nobody can use this route", sc)
			}
		}
	}
	check(p, *a)
	for _, m := range sortedKeys(a.Methods) {
		check(p+".methods."+m, a.Methods[m])
	}
}
