package config

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// authNames returns the names of every declared authenticator.
func authNames(c *Config) map[string]bool {
	a := &c.Authn
	names := map[string]bool{}
	if c.TokenServer.Enabled {
		names[c.TokenServer.Authenticator] = true
	}
	for _, j := range a.JWT {
		names[j.Name] = true
	}
	for _, in := range a.Introspection {
		names[in.Name] = true
	}
	for _, m := range a.MTLS {
		names[m.Name] = true
	}
	for _, k := range a.APIKey {
		names[k.Name] = true
	}
	return names
}

var hmacAlgorithms = map[string]bool{"HS256": true, "HS384": true, "HS512": true}

var jwtAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true,
}

// authn checks the authn section: every authenticator, each kind in
// turn, and that no two share a name.
func (v *validator) authn(a *Authn) {
	names := map[string]bool{}
	v.introspection(a.Introspection, names)
	for i, k := range a.APIKey {
		v.apiKey(fmt.Sprintf("authn.apikey[%d]", i), k, names)
	}
	for i, m := range a.MTLS {
		v.mtls(fmt.Sprintf("authn.mtls[%d]", i), m, names)
	}
	for i := range a.JWT {
		v.jwt(fmt.Sprintf("authn.jwt[%d]", i), &a.JWT[i], names)
	}
}

func (v *validator) apiKey(p string, k APIKeyAuth, names map[string]bool) {
	v.authName(p, k.Name, names)
	if h := strings.ToLower(k.Header); !headerToken.MatchString(k.Header) || reservedHeaders[h] || strings.HasPrefix(h, "x-forwarded-") || strings.HasPrefix(h, "x-rampart-") {
		v.errorf(p+".header", "%q cannot carry API keys; use a name such as X-API-Key", k.Header)
	}
	if d := k.RevocationDelay; d != nil && (d.Std() < 0 || d.Std() > time.Hour) {
		v.errorf(p+".revocation_delay", "must be between 0s (no cache) and 1h, got %s", d.Std())
	}
}

func (v *validator) mtls(p string, m MTLS, names map[string]bool) {
	v.authName(p, m.Name, names)
	switch m.Subject {
	case "cn", "dns", "uri", "email":
	default:
		v.errorf(p+".subject", "must be cn, dns, uri or email, got %q", m.Subject)
	}
}

// jwt checks one JWT authenticator: whose tokens it takes (issuer,
// audiences), where its keys come from, which algorithms it accepts and
// its bounds.
func (v *validator) jwt(p string, j *JWT, names map[string]bool) {
	v.authName(p, j.Name, names)
	if j.Issuer == "" {
		v.errorf(p+".issuer", "required: the exact iss claim of the issuer's tokens")
	}
	if len(j.Audiences) == 0 {
		v.errorf(p+".audiences", "required: the aud values this API accepts (a token for another API must not work here)")
	}
	for k, aud := range j.Audiences {
		if aud == "" {
			v.errorf(fmt.Sprintf("%s.audiences[%d]", p, k), "must not be empty")
		}
	}
	v.jwtKeys(p, j)
	v.jwtAlgorithms(p, j.Algorithms, j.HMACSecretFile != "")
	if j.Leeway.Std() > 5*time.Minute {
		v.errorf(p+".leeway", "must not exceed 5m")
	}
	if j.MaxTokenBytes < 256 || j.MaxTokenBytes > 64<<10 {
		v.errorf(p+".max_token_bytes", "must be from 256 bytes to 64KiB")
	}
	if j.MinRefreshInterval.Std() < time.Second || j.MinRefreshInterval > j.RefreshInterval {
		v.errorf(p+".min_refresh_interval", "must be at least 1s and at most refresh_interval")
	}
	if j.CacheSize < -1 {
		v.errorf(p+".cache_size", "must be a positive size, or -1 to turn the cache off")
	}
	if j.Claims.Subject == "" {
		v.errorf(p+".claims.subject", "must name a claim")
	}
}

// jwtKeys checks that a JWT authenticator has exactly one source of keys
// (jwks_url, discovery, keys_file or hmac_secret_file), and that a source
// fetched over the network is https.
func (v *validator) jwtKeys(p string, j *JWT) {
	sources := 0
	for _, src := range []string{j.JWKSURL, j.KeysFile, j.HMACSecretFile} {
		if src != "" {
			sources++
		}
	}
	if j.Discovery {
		sources++
		if u, err := url.Parse(j.Issuer); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".issuer", "discovery needs an https issuer URL, got %q", j.Issuer)
		}
	}
	switch {
	case sources != 1:
		v.errorf(p, "set exactly one of jwks_url, discovery, keys_file or hmac_secret_file")
	case j.JWKSURL != "":
		if u, err := url.Parse(j.JWKSURL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".jwks_url", "must be an https URL, got %q", j.JWKSURL)
		}
	case j.CAFile != "" && !j.Discovery:
		v.errorf(p+".ca_file", "only applies with jwks_url or discovery")
	}
}

// jwtAlgorithms checks a JWT authenticator's algorithms against its keys:
// HMAC ones only with an HMAC secret, asymmetric ones only without (the
// algorithm confusion of CVE-2015-9235), and never "none".
func (v *validator) jwtAlgorithms(p string, algs []string, hmac bool) {
	for k, alg := range algs {
		ap := fmt.Sprintf("%s.algorithms[%d]", p, k)
		switch {
		case strings.EqualFold(alg, "none"):
			v.errorf(ap, "\"none\" is never accepted: unsigned tokens prove nothing")
		case hmacAlgorithms[alg] && !hmac:
			v.errorf(ap, "%s needs hmac_secret_file; with public keys it would let a public key be used as an HMAC secret", alg)
		case jwtAlgorithms[alg] && hmac:
			v.errorf(ap, "%s is an asymmetric algorithm; an hmac_secret_file authenticator accepts only HS256, HS384, HS512", alg)
		case !jwtAlgorithms[alg] && !hmacAlgorithms[alg]:
			v.errorf(ap, "unknown algorithm %q", alg)
		}
	}
}

func (v *validator) authName(p, name string, names map[string]bool) {
	switch {
	case name == "":
		v.errorf(p+".name", "required")
	case !paramName.MatchString(strings.ReplaceAll(name, "-", "_")):
		v.errorf(p+".name", "%q: use letters, digits, - and _", name)
	case names[name]:
		v.errorf(p+".name", "duplicate authenticator name %q", name)
	}
	names[name] = true
}

func (v *validator) introspection(list []Introspection, names map[string]bool) {
	for i, in := range list {
		p := fmt.Sprintf("authn.introspection[%d]", i)
		v.authName(p, in.Name, names)
		if u, err := url.Parse(in.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			v.errorf(p+".url", "must be an https URL, got %q", in.URL)
		}
		if in.ClientID == "" {
			v.errorf(p+".client_id", "required")
		}
		if in.ClientSecretFile == "" {
			v.errorf(p+".client_secret_file", "required")
		}
		if in.Timeout.Std() < 100*time.Millisecond || in.Timeout.Std() > time.Minute {
			v.errorf(p+".timeout", "must be from 100ms to 1m")
		}
		if in.CacheSize < -1 {
			v.errorf(p+".cache_size", "must be a positive size, or -1 to turn the cache off")
		}
		if in.CacheTTL.Std() > time.Hour {
			v.errorf(p+".cache_ttl", "must not exceed 1h: it is how long a revoked token keeps working")
		}
	}
}
