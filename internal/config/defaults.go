package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"time"
)

// Default values, applied by SetDefaults. Each is documented on its field.
const (
	DefaultDataDir = "rampart-data"
	// DefaultAPIKeyRevocationDelay bounds how long a changed API key
	// may be seen as it was (authn.apikey[].revocation_delay).
	DefaultAPIKeyRevocationDelay = time.Second
	// DefaultPepperFile is the API keys' pepper under data_dir.
	DefaultPepperFile            = "apikey-pepper"
	DefaultAdminAddress          = "127.0.0.1:9443"
	DefaultMaxHeaderBytes        = 32 << 10
	DefaultMaxBodyBytes          = 10 << 20
	DefaultMaxResponseBodyBytes  = 10 << 20
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultReadTimeout           = 60 * time.Second
	DefaultWriteTimeout          = 60 * time.Second
	DefaultIdleTimeout           = 120 * time.Second
	DefaultShutdownTimeout       = 15 * time.Second
	DefaultIPHeader              = "X-Forwarded-For"
	DefaultRequestIDHeader       = "X-Request-Id"
	DefaultHSTSMaxAge            = 730 * 24 * time.Hour
	DefaultConnectTimeout        = 5 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	DefaultIdleConnTimeout       = 90 * time.Second
	DefaultMaxIdleConns          = 256
	DefaultTLSMinVersion         = "1.2"
	DefaultCertReloadInterval    = 10 * time.Second
	DefaultStoreTimeout          = 2 * time.Second
)

// defaultDevHosts are the names of a development certificate.
var defaultDevHosts = []string{"localhost", "127.0.0.1", "::1"}

// DefaultACMEDirectory is Let's Encrypt's production directory.
const DefaultACMEDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// SetDefaults fills every unset field that has a default. It is the one
// place defaults are decided; it never overrides a value that was set.
func SetDefaults(c *Config) {
	if c.DataDir == "" {
		c.DataDir = DefaultDataDir
	}
	for i := range c.Listeners {
		l := &c.Listeners[i]
		if l.Name == "" {
			l.Name = fmt.Sprintf("listener-%d", i)
		}
		if l.TLS != nil {
			setTLSDefaults(l.TLS)
		}
	}
	if c.Admin.Address == "" {
		c.Admin.Address = DefaultAdminAddress
	}
	if c.Admin.TokenFile == "" {
		c.Admin.TokenFile = filepath.Join(c.DataDir, "admin-token")
	}
	if c.Admin.TLS == nil {
		c.Admin.TLS = &TLS{}
	}
	setTLSDefaults(c.Admin.TLS)

	s := &c.Server
	setSize(&s.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setSize(&s.MaxBodyBytes, DefaultMaxBodyBytes)
	setSize(&s.MaxResponseBodyBytes, DefaultMaxResponseBodyBytes)
	setDuration(&s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDuration(&s.ReadTimeout, DefaultReadTimeout)
	setDuration(&s.WriteTimeout, DefaultWriteTimeout)
	setDuration(&s.IdleTimeout, DefaultIdleTimeout)
	setDuration(&s.ShutdownTimeout, DefaultShutdownTimeout)

	if c.Client.IPHeader == "" {
		c.Client.IPHeader = DefaultIPHeader
	}
	if c.Client.RequestIDHeader == "" {
		c.Client.RequestIDHeader = DefaultRequestIDHeader
	}
	setDuration(&c.Headers.HSTS.MaxAge, DefaultHSTSMaxAge)
	if c.Headers.Remove == nil {
		c.Headers.Remove = []string{"Server", "X-Powered-By"}
	}
	if c.AccessLog.Output == "" {
		c.AccessLog.Output = "stdout"
	}
	for name, u := range c.Upstreams {
		setDuration(&u.ConnectTimeout, DefaultConnectTimeout)
		setDuration(&u.ResponseHeaderTimeout, DefaultResponseHeaderTimeout)
		setDuration(&u.IdleConnTimeout, DefaultIdleConnTimeout)
		if u.MaxIdleConns == 0 {
			u.MaxIdleConns = DefaultMaxIdleConns
		}
		c.Upstreams[name] = u
	}
	for i := range c.Authn.JWT {
		setJWTDefaults(&c.Authn.JWT[i])
	}
	if c.Store.Driver == "" {
		c.Store.Driver = "sqlite"
	}
	if c.Store.Driver == "sqlite" && c.Store.Path == "" {
		c.Store.Path = filepath.Join(c.DataDir, "rampart.db")
	}
	setDuration(&c.Store.Timeout, DefaultStoreTimeout)
	for i := range c.Authn.APIKey {
		a := &c.Authn.APIKey[i]
		if a.Header == "" {
			a.Header = "X-API-Key"
		}
		if a.PepperFile == "" {
			a.PepperFile = filepath.Join(c.DataDir, DefaultPepperFile)
		}
		if a.RevocationDelay == nil {
			d := Duration(DefaultAPIKeyRevocationDelay)
			a.RevocationDelay = &d
		}
	}
	for i := range c.Authn.MTLS {
		if c.Authn.MTLS[i].Subject == "" {
			c.Authn.MTLS[i].Subject = "cn"
		}
	}
	for i := range c.Authn.Introspection {
		in := &c.Authn.Introspection[i]
		setDuration(&in.Timeout, 5*time.Second)
		setClaimDefaults(&in.Claims)
		if in.CacheSize == 0 {
			in.CacheSize = 10000
		}
		setDuration(&in.CacheTTL, time.Minute)
		setDuration(&in.NegativeCacheTTL, 10*time.Second)
	}
	setSectionDefaults(c)
	setProtectDefaults(c)
	setWAFDefaults(c)
	for i := range c.Routes {
		if c.Routes[i].Name == "" {
			c.Routes[i].Name = fmt.Sprintf("route-%d", i)
		}
		if a := c.Routes[i].Authz; a != nil {
			setAuthzDefaults(a)
			for m, ma := range a.Methods {
				setAuthzDefaults(&ma)
				a.Methods[m] = ma
			}
		}
	}
}

// DefaultJWTAlgorithms are the algorithms accepted when a JWT authenticator
// lists none.
var DefaultJWTAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

func setJWTDefaults(j *JWT) {
	if len(j.Algorithms) == 0 {
		j.Algorithms = slices.Clone(DefaultJWTAlgorithms)
		if j.HMACSecretFile != "" {
			j.Algorithms = []string{"HS256"}
		}
	}
	setDuration(&j.Leeway, 30*time.Second)
	if j.RequiredClaims == nil {
		j.RequiredClaims = []string{"sub", "exp"}
	}
	setClaimDefaults(&j.Claims)
	setSize(&j.MaxTokenBytes, 8<<10)
	setDuration(&j.RefreshInterval, time.Hour)
	setDuration(&j.MinRefreshInterval, time.Minute)
	if j.CacheSize == 0 {
		j.CacheSize = 10000
	}
	setDuration(&j.CacheTTL, 5*time.Minute)
}

func setClaimDefaults(m *ClaimMapping) {
	if m.Subject == "" {
		m.Subject = "sub"
	}
	if m.Roles == nil {
		m.Roles = []string{"roles"}
	}
	if m.Groups == nil {
		m.Groups = []string{"groups"}
	}
	if m.Scopes == nil {
		m.Scopes = []string{"scope", "scp"}
	}
	if m.Session == "" {
		m.Session = "sid"
	}
}

func setAuthzDefaults(a *Authz) {
	if a.Owner != nil && a.Owner.Claim == "" {
		a.Owner.Claim = "subject"
	}
	if a.Owner != nil && a.Owner.In == "" {
		a.Owner.In = "path"
	}
}

func setTLSDefaults(t *TLS) {
	if t.MinVersion == "" {
		t.MinVersion = DefaultTLSMinVersion
	}
	if len(t.Hosts) == 0 && t.CertFile == "" && t.ACME == nil {
		t.Hosts = slices.Clone(defaultDevHosts)
	}
	setDuration(&t.ReloadInterval, DefaultCertReloadInterval)
	if t.ClientAuth != nil && t.ClientAuth.Mode == "" {
		t.ClientAuth.Mode = "optional"
	}
	if t.ACME != nil {
		if t.ACME.Directory == "" {
			t.ACME.Directory = DefaultACMEDirectory
		}
		if t.ACME.AltTLSALPNPort == 0 {
			t.ACME.AltTLSALPNPort = 443
		}
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}

func setSize(b *ByteSize, def int64) {
	if *b == 0 {
		*b = ByteSize(def)
	}
}
