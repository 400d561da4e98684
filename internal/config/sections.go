package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Defaults of the firewall, limits and redis sections.
const (
	DefaultRedisTimeout       = 100 * time.Millisecond
	DefaultRedisPoolSize      = 32
	DefaultFirewallReload     = 10 * time.Second
	DefaultBanMaxEntries      = 100000
	DefaultBanMaxTTL          = 720 * time.Hour
	DefaultBanSyncInterval    = 10 * time.Second
	DefaultLimitsMaxKeys      = 1000000
	DefaultConcurrencyLease   = 5 * time.Minute
	DefaultRecordsWindow      = 24 * time.Hour
	defaultLimitsTimeZone     = "UTC"
	defaultLimitsHeaders      = "draft"
	defaultLimitsBackend      = "memory"
	defaultLimitsBackendError = "closed"
)

// LimitKeys are the parts a limit's key may be made of.
var LimitKeys = []string{"subject", "apikey", "tenant", "ip", "route", "global"}

// setSectionDefaults fills the defaults of the redis, firewall,
// identity_token, token_server, audit and limits sections.
func setSectionDefaults(c *Config) {
	setRedisDefaults(c.Redis)
	setFirewallDefaults(&c.Firewall)
	setIdentityTokenDefaults(&c.IdentityToken, c.DataDir)
	setTokenServerDefaults(&c.TokenServer, c.DataDir)
	setAuditDefaults(&c.Audit, c.DataDir)
	setLimitsDefaults(c)
}

func setRedisDefaults(r *Redis) {
	if r == nil {
		return
	}
	setDuration(&r.Timeout, DefaultRedisTimeout)
	if r.PoolSize == 0 {
		r.PoolSize = DefaultRedisPoolSize
	}
	if r.Pipelining == "" {
		r.Pipelining = "auto"
	}
}

func setFirewallDefaults(f *Firewall) {
	setDuration(&f.ReloadInterval, DefaultFirewallReload)
	if f.Bans.Backend == "" {
		f.Bans.Backend = defaultLimitsBackend
	}
	if f.Bans.MaxEntries == 0 {
		f.Bans.MaxEntries = DefaultBanMaxEntries
	}
	setDuration(&f.Bans.MaxTTL, DefaultBanMaxTTL)
	setDuration(&f.Bans.SyncInterval, DefaultBanSyncInterval)
}

func setIdentityTokenDefaults(it *IdentityToken, dataDir string) {
	if !it.Enabled {
		return
	}
	if it.Issuer == "" {
		it.Issuer = "rampart"
	}
	if it.Header == "" {
		it.Header = "X-Rampart-Identity"
	}
	setDuration(&it.TTL, time.Minute)
	setDuration(&it.RotateEvery, 24*time.Hour)
	if it.KEKFile == "" {
		it.KEKFile = filepath.Join(dataDir, "signing-kek")
	}
}

func setTokenServerDefaults(ts *TokenServer, dataDir string) {
	if !ts.Enabled {
		return
	}
	if ts.Audience == "" {
		ts.Audience = ts.Issuer
	}
	if ts.Path == "" {
		ts.Path = "/oauth"
	}
	setDuration(&ts.TTL, 5*time.Minute)
	setDuration(&ts.RotateEvery, 24*time.Hour)
	if ts.Authenticator == "" {
		ts.Authenticator = "rampart"
	}
	if ts.KEKFile == "" {
		ts.KEKFile = filepath.Join(dataDir, "signing-kek")
	}
}

// setLimitsDefaults fills the limits section, then each route's limits,
// which fail like the section unless they say otherwise.
func setLimitsDefaults(c *Config) {
	l := &c.Limits
	if l.Backend == "" {
		l.Backend = defaultLimitsBackend
	}
	if l.OnBackendError == "" {
		l.OnBackendError = defaultLimitsBackendError
	}
	if l.Headers == "" {
		l.Headers = defaultLimitsHeaders
	}
	if l.TimeZone == "" {
		l.TimeZone = defaultLimitsTimeZone
	}
	if l.MaxKeys == 0 {
		l.MaxKeys = DefaultLimitsMaxKeys
	}
	for i := range l.PreAuth {
		setRateDefaults(&l.PreAuth[i], i)
		if len(l.PreAuth[i].Key) == 0 {
			l.PreAuth[i].Key = []string{"ip"}
		}
	}
	for i := range l.Plans {
		setLimitListDefaults(l.Plans[i].Rates, l.Plans[i].Quotas, l.Plans[i].Concurrency)
	}
	for i := range c.Routes {
		if rl := c.Routes[i].Limits; rl != nil {
			setRouteLimitDefaults(rl, l.OnBackendError)
		}
	}
}

// setRouteLimitDefaults fills a route's limits; onBackendError is the
// limits section's.
func setRouteLimitDefaults(rl *RouteLimits, onBackendError string) {
	setLimitListDefaults(rl.Rates, rl.Quotas, rl.Concurrency)
	if r := rl.Records; r != nil {
		setRecordsDefaults(r)
	}
	if rl.OnBackendError == "" {
		rl.OnBackendError = onBackendError
	}
}

func setRecordsDefaults(r *Records) {
	if r.Path == "" {
		r.Path = "$"
	}
	if len(r.Key) == 0 {
		r.Key = []string{"subject"}
	}
	setDuration(&r.Window, DefaultRecordsWindow)
	if r.Action == "" {
		r.Action = "refuse"
	}
}

func setRateDefaults(r *Rate, i int) {
	if r.Name == "" {
		r.Name = fmt.Sprintf("rate-%d", i)
	}
	if r.Burst == 0 {
		r.Burst = r.Requests
	}
}

func setLimitListDefaults(rates []Rate, quotas []Quota, conc []Concurrency) {
	for i := range rates {
		setRateDefaults(&rates[i], i)
		if len(rates[i].Key) == 0 {
			rates[i].Key = []string{"subject"}
		}
	}
	for i := range quotas {
		q := &quotas[i]
		if q.Name == "" {
			q.Name = fmt.Sprintf("quota-%d", i)
		}
		if len(q.Key) == 0 {
			q.Key = []string{"subject"}
		}
	}
	for i := range conc {
		cc := &conc[i]
		if cc.Name == "" {
			cc.Name = fmt.Sprintf("concurrency-%d", i)
		}
		if len(cc.Key) == 0 {
			cc.Key = []string{"subject"}
		}
		setDuration(&cc.Lease, DefaultConcurrencyLease)
	}
}

func (v *validator) redis(r *Redis) {
	if r == nil {
		return
	}
	u, err := url.Parse(r.URL)
	switch {
	case r.URL == "":
		v.errorf("redis.url", "required, such as redis://127.0.0.1:6379/0")
	case err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "":
		v.errorf("redis.url", "must be redis://host:port/db or rediss://host:port/db")
	case u.User != nil:
		if _, ok := u.User.Password(); ok {
			v.errorf("redis.url", "holds a password; put it in redis.password_file")
		}
	}
	if r.Cluster && u != nil && strings.Trim(u.Path, "/") != "" && strings.Trim(u.Path, "/") != "0" {
		v.errorf("redis.url", "a Redis Cluster has only database 0")
	}
	if r.CAFile != "" && u != nil && u.Scheme != "rediss" {
		v.errorf("redis.ca_file", "only applies to a rediss:// url")
	}
	if r.PoolSize < 0 {
		v.errorf("redis.pool_size", "must be positive")
	}
	if r.Pipelining != "auto" && r.Pipelining != "off" {
		v.errorf("redis.pipelining", "must be auto or off, got %q", r.Pipelining)
	}
}

// identityHeaders are the X-Rampart-* headers that carry the identity.
var identityHeaders = map[string]bool{"x-rampart-subject": true, "x-rampart-issuer": true, "x-rampart-roles": true,
	"x-rampart-groups": true, "x-rampart-scopes": true, "x-rampart-tenant": true, "x-rampart-auth-method": true}

func (v *validator) identityToken(it *IdentityToken) {
	if !it.Enabled {
		return
	}
	lower := strings.ToLower(it.Header)
	switch {
	case !headerToken.MatchString(it.Header) || strings.Contains(it.Header, "_"):
		v.errorf("identity_token.header", "%q is not a header name", it.Header)
	case !strings.HasPrefix(lower, "x-rampart-"):
		// Rampart strips every inbound X-Rampart-* header, so a client can
		// never send a token of its own in this one.
		v.errorf("identity_token.header", "must start with X-Rampart-, got %q", it.Header)
	case identityHeaders[lower]:
		v.errorf("identity_token.header", "%q already carries part of the identity", it.Header)
	}
	if !validHeaderValue(it.Issuer) {
		v.errorf("identity_token.issuer", "contains control characters")
	}
	if it.TTL.Std() < time.Second || it.TTL.Std() > time.Hour {
		v.errorf("identity_token.ttl", "must be between 1s and 1h")
	}
	if it.RotateEvery.Std() < 10*time.Minute {
		v.errorf("identity_token.rotate_every", "must be at least 10m")
	}
}

func (v *validator) tokenServer(c *Config) {
	ts := &c.TokenServer
	if !ts.Enabled {
		return
	}
	if u, err := url.Parse(ts.Issuer); ts.Issuer == "" || err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		v.errorf("token_server.issuer", "required: an https origin without path, query or fragment, such as https://api.example.com")
	}
	for i, j := range c.Authn.JWT {
		if j.Issuer == ts.Issuer {
			v.errorf(fmt.Sprintf("authn.jwt[%d].issuer", i), "is token_server.issuer: the token server's tokens are accepted with auth: [%s]", ts.Authenticator)
		}
	}
	own := map[string]bool{ts.Path + "/token": true, ts.Path + "/revoke": true, "/.well-known/jwks.json": true, "/.well-known/oauth-authorization-server": true}
	for i, r := range c.Routes {
		switch {
		case own[r.Path]:
			v.errorf(fmt.Sprintf("routes[%d].path", i), "%s is a token_server endpoint", r.Path)
		case strings.HasPrefix(r.Name, "rampart-"):
			v.errorf(fmt.Sprintf("routes[%d].name", i), "names starting with rampart- are the token server's")
		}
	}
	if err := CheckPathPattern(ts.Path); err != nil || strings.ContainsAny(ts.Path, "{}") || ts.Path == "/" || strings.HasSuffix(ts.Path, "/") {
		v.errorf("token_server.path", "%q must be a literal path such as /oauth", ts.Path)
	}
	if ts.TTL.Std() < 10*time.Second || ts.TTL.Std() > time.Hour {
		v.errorf("token_server.ttl", "must be between 10s and 1h")
	}
	if ts.RotateEvery.Std() < 10*time.Minute {
		v.errorf("token_server.rotate_every", "must be at least 10m")
	}
	names := authNames(&Config{Authn: c.Authn})
	if names[ts.Authenticator] {
		v.errorf("token_server.authenticator", "%q is already the name of an authenticator", ts.Authenticator)
	}
	if c.IdentityToken.Enabled && c.IdentityToken.KEKFile != ts.KEKFile {
		v.errorf("token_server.kek_file", "must be identity_token.kek_file: one legacy signing-kek file sealed all signing keys")
	}
}

func (v *validator) networks(p string, list []string) {
	for i, s := range list {
		if _, err := ParsePrefix(s); err != nil {
			v.errorf(fmt.Sprintf("%s[%d]", p, i), "%v", err)
		}
	}
}

func (v *validator) backend(p, b string, c *Config) {
	switch b {
	case "memory":
	case "redis":
		if c.Redis == nil {
			v.errorf(p, "backend redis needs the redis section")
		}
	default:
		v.errorf(p, "must be memory or redis, got %q", b)
	}
}

func (v *validator) firewall(c *Config) {
	f := &c.Firewall
	v.networks("firewall.allow", f.Allow)
	v.networks("firewall.deny", f.Deny)
	v.backend("firewall.bans.backend", f.Bans.Backend, c)
	if f.Bans.MaxEntries < 0 {
		v.errorf("firewall.bans.max_entries", "must be positive")
	}
	for i, r := range c.Routes {
		if r.Firewall == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].firewall", i)
		v.networks(p+".allow", r.Firewall.Allow)
		v.networks(p+".deny", r.Firewall.Deny)
	}
}

func (v *validator) failure(p, s string) {
	if s != "open" && s != "closed" {
		v.errorf(p, "must be open or closed, got %q", s)
	}
}

func (v *validator) limits(c *Config) {
	l := &c.Limits
	v.backend("limits.backend", l.Backend, c)
	v.failure("limits.on_backend_error", l.OnBackendError)
	switch l.Headers {
	case "draft", "legacy", "none":
	default:
		v.errorf("limits.headers", "must be draft, legacy or none, got %q", l.Headers)
	}
	if _, err := time.LoadLocation(l.TimeZone); err != nil {
		v.errorf("limits.time_zone", "%q is not a known IANA time zone such as Europe/Paris", l.TimeZone)
	}
	if l.MaxKeys < 0 {
		v.errorf("limits.max_keys", "must be positive")
	}
	v.rates("limits.pre_auth", l.PreAuth)
	if len(l.PreAuth) > 8 {
		v.errorf("limits.pre_auth", "has %d limits; at most 8 are allowed", len(l.PreAuth))
	}
	for i, r := range l.PreAuth {
		if !slices.Equal(r.Key, []string{"ip"}) {
			v.errorf(fmt.Sprintf("limits.pre_auth[%d].key", i), "must be [ip]: nothing else is known before authentication")
		}
	}
	names := map[string]bool{}
	for i, pl := range l.Plans {
		p := fmt.Sprintf("limits.plans[%d]", i)
		switch {
		case pl.Name == "":
			v.errorf(p+".name", "required")
		case names[pl.Name]:
			v.errorf(p+".name", "duplicate plan name %q", pl.Name)
		}
		names[pl.Name] = true
		if len(pl.Roles) == 0 && i < len(l.Plans)-1 {
			v.errorf(p+".roles", "a plan without roles matches everyone, so the plans after it never apply; move it last")
		}
		v.limitSet(p, pl.Rates, pl.Quotas, pl.Concurrency)
	}
	for i, r := range c.Routes {
		if r.Limits == nil {
			continue
		}
		p := fmt.Sprintf("routes[%d].limits", i)
		v.limitSet(p, r.Limits.Rates, r.Limits.Quotas, r.Limits.Concurrency)
		v.failure(p+".on_backend_error", r.Limits.OnBackendError)
		if rec := r.Limits.Records; rec != nil {
			v.records(p+".records", rec)
			if n := len(r.Limits.Rates) + len(r.Limits.Quotas) + len(r.Limits.Concurrency); n >= 8 {
				v.errorf(p, "has %d limits and records; at most 8 are allowed", n)
			}
		}
	}
}

func (v *validator) limitSet(p string, rates []Rate, quotas []Quota, conc []Concurrency) {
	if n := len(rates) + len(quotas) + len(conc); n > 8 {
		v.errorf(p, "has %d limits; at most 8 are allowed", n)
	}
	v.rates(p+".rates", rates)
	names := map[string]bool{}
	for _, r := range rates {
		names[r.Name] = true
	}
	for i, q := range quotas {
		qp := fmt.Sprintf("%s.quotas[%d]", p, i)
		v.limitName(qp, q.Name, names)
		v.limitKey(qp+".key", q.Key)
		if q.Period != "day" && q.Period != "month" {
			v.errorf(qp+".period", "must be day or month, got %q", q.Period)
		}
		if q.Requests <= 0 {
			v.errorf(qp+".requests", "required: a positive number of requests per %s", q.Period)
		}
	}
	for i, cc := range conc {
		cp := fmt.Sprintf("%s.concurrency[%d]", p, i)
		v.limitName(cp, cc.Name, names)
		v.limitKey(cp+".key", cc.Key)
		if cc.Max <= 0 {
			v.errorf(cp+".max", "required: a positive number of requests in flight")
		}
		if cc.Lease.Std() < time.Second {
			v.errorf(cp+".lease", "must be at least 1s")
		}
	}
}

func (v *validator) rates(p string, rates []Rate) {
	names := map[string]bool{}
	for i, r := range rates {
		rp := fmt.Sprintf("%s[%d]", p, i)
		v.limitName(rp, r.Name, names)
		v.limitKey(rp+".key", r.Key)
		if r.Requests <= 0 {
			v.errorf(rp+".requests", "required: a positive number of requests per period")
		}
		switch {
		case r.Per <= 0:
			v.errorf(rp+".per", "required: the period, such as 1s or 1m")
		case r.Per.Std() > 366*24*time.Hour:
			v.errorf(rp+".per", "must be at most a year; use a quota for calendar periods")
		case r.Requests > 0:
			v.interval(rp, r.Per.Std(), int64(r.Requests), "request")
			if float64(r.Per.Std())/float64(r.Requests)*float64(max(r.Burst, 1)) > float64(maxAllowance) {
				v.errorf(rp+".burst", "a burst of %d at this rate takes over 100 years to refill", r.Burst)
			}
		}
		if r.Burst < 0 {
			v.errorf(rp+".burst", "must be positive")
		}
	}
}

// maxAllowance bounds the time a rate's burst (or a records window) takes
// to refill, so that counters never overflow.
const maxAllowance = 100 * 365 * 24 * time.Hour

// interval checks that n units per d can be counted exactly: counters keep
// microseconds, so the time per unit must be a whole number of
// microseconds, or long enough (50us) for rounding to cost under 1%.
func (v *validator) interval(p string, d time.Duration, n int64, unit string) {
	iv := d / time.Duration(n)
	switch {
	case iv < time.Microsecond:
		v.errorf(p, "more than one %s per microsecond cannot be counted", unit)
	case iv%time.Microsecond != 0 && iv < 50*time.Microsecond:
		v.errorf(p, "%d per %v is %v per %s, which counters in whole microseconds cannot keep within 1%%; use a rate whose interval is a whole number of microseconds", n, d, iv, unit)
	}
}

func (v *validator) limitName(p, name string, names map[string]bool) {
	switch {
	case !headerToken.MatchString(name):
		v.errorf(p+".name", "%q must be a token of letters, digits and -._~", name)
	case names[name]:
		v.errorf(p+".name", "duplicate limit name %q", name)
	}
	names[name] = true
}

func (v *validator) limitKey(p string, key []string) {
	seen := map[string]bool{}
	for i, k := range key {
		kp := fmt.Sprintf("%s[%d]", p, i)
		switch {
		case !slices.Contains(LimitKeys, k):
			v.errorf(kp, "%q must be one of subject, apikey, tenant, ip, route or global", k)
		case seen[k]:
			v.errorf(kp, "%q is listed twice", k)
		case k == "global" && len(key) > 1:
			v.errorf(kp, "global is one counter for everyone and takes no other key part")
		}
		seen[k] = true
	}
}

func (v *validator) records(p string, r *Records) {
	if r.Max <= 0 {
		v.errorf(p+".max", "required: a positive number of records")
	}
	if _, err := RecordsPath(r.Path); err != nil {
		v.errorf(p+".path", "%v", err)
	}
	v.limitKey(p+".key", r.Key)
	switch {
	case r.Window.Std() < time.Second:
		v.errorf(p+".window", "must be at least 1s")
	case r.Window.Std() > 366*24*time.Hour:
		v.errorf(p+".window", "must be at most 366 days")
	case r.Max > 0:
		v.interval(p, r.Window.Std(), r.Max, "record")
	}
	if r.Action != "refuse" && r.Action != "truncate" {
		v.errorf(p+".action", "must be refuse or truncate, got %q", r.Action)
	}
}

// RecordsPath splits a records path ("$", "$.items", "$.data.items") into
// its object keys.
func RecordsPath(s string) ([]string, error) {
	if s == "$" {
		return nil, nil
	}
	rest, ok := strings.CutPrefix(s, "$.")
	if !ok {
		return nil, fmt.Errorf("%q must be $ or a path of object keys such as $.items", s)
	}
	keys := strings.Split(rest, ".")
	if len(keys) > 16 {
		return nil, fmt.Errorf("%q is deeper than 16 keys", s)
	}
	for _, k := range keys {
		if len(k) > 256 {
			return nil, fmt.Errorf("%q has a key longer than 256 bytes", s)
		}
		if k == "" || strings.ContainsAny(k, "[]*\"\\\x00") {
			return nil, fmt.Errorf("%q must be $ or a path of object keys such as $.items (no indexes or wildcards)", s)
		}
	}
	return keys, nil
}
