package config

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/jsonpath"
)

// Defaults of the protect section.
const (
	DefaultProtectMaxBody         = 1 << 20
	DefaultProtectMaxDecompressed = 16 << 20
	DefaultDataKeyRotation        = 2160 * time.Hour
	DefaultKeyCacheSize           = 10000
	DefaultKeyCacheTTL            = 5 * time.Minute
)

// DLPKinds are the detector names routes may list.
var DLPKinds = []string{"card", "ssn", "iban", "email", "phone", "jwt", "aws_key", "gcp_key", "slack_token", "github_token", "private_key", "secret"}

func setProtectDefaults(c *Config) {
	p := &c.Protect
	if p.MaxBodyBytes == 0 {
		p.MaxBodyBytes = DefaultProtectMaxBody
	}
	if p.MaxDecompressedBytes == 0 {
		p.MaxDecompressedBytes = DefaultProtectMaxDecompressed
	}
	if p.RedactLogs == nil {
		t := true
		p.RedactLogs = &t
	}
	k := &p.Keys
	if k.KEKFile == "" && k.KEKEnv == "" {
		k.KEKFile = filepath.Join(c.DataDir, "data-kek")
	}
	if k.RotateEvery == nil {
		d := Duration(DefaultDataKeyRotation)
		k.RotateEvery = &d
	}
	if k.MaxMessagesPerKey == 0 {
		k.MaxMessagesPerKey = 1 << 31
	}
	if k.CacheSize == 0 {
		k.CacheSize = DefaultKeyCacheSize
	}
	setDuration(&k.CacheTTL, DefaultKeyCacheTTL)
	for i := range c.Routes {
		rp := c.Routes[i].Protect
		if rp == nil {
			continue
		}
		if rp.Subject == "" {
			rp.Subject = "identity"
		}
		for j := range rp.Fields {
			f := &rp.Fields[j]
			if f.Encrypt == nil {
				t := true
				f.Encrypt = &t
			}
			if f.Others == "" {
				f.Others = "mask"
			}
			if f.Mask == "" {
				f.Mask = "auto"
			}
		}
		if rp.DLP != nil && rp.DLP.Action == "" {
			rp.DLP.Action = "report"
		}
	}
}

// UsesKeyring reports whether any route encrypts fields or the encryption
// API is on: only then does the gateway open the keyring.
func (c *Config) UsesKeyring() bool {
	if c.Protect.EncryptionAPI {
		return true
	}
	for _, r := range c.Routes {
		if r.Protect != nil && len(r.Protect.Fields) > 0 {
			return true
		}
	}
	return false
}

// protect checks the protect section, then each route's protect rules.
func (v *validator) protect(c *Config) {
	p := &c.Protect
	if p.MaxBodyBytes < 0 {
		v.errorf("protect.max_body_bytes", "must be positive")
	}
	if p.MaxDecompressedBytes < p.MaxBodyBytes {
		v.errorf("protect.max_decompressed_bytes", "must be at least protect.max_body_bytes")
	}
	v.protectKeys(&p.Keys)
	for i := range c.Routes {
		if r := &c.Routes[i]; r.Protect != nil {
			v.routeProtect("routes["+strconv.Itoa(i)+"].protect", r)
		}
	}
}

// protectKeys checks the key-encryption key and the data keys' bounds.
func (v *validator) protectKeys(k *ProtectKeys) {
	if k.KEKFile != "" && k.KEKEnv != "" {
		v.errorf("protect.keys.kek_env", "set kek_file or kek_env, not both")
	}
	if k.RotateEvery != nil && (k.RotateEvery.Std() < 0 || (k.RotateEvery.Std() > 0 && k.RotateEvery.Std() < time.Hour)) {
		v.errorf("protect.keys.rotate_every", "must be 0s (on demand only) or at least 1h")
	}
	if k.MaxMessagesPerKey < 1024 || k.MaxMessagesPerKey > 1<<32 {
		v.errorf("protect.keys.max_messages_per_key", "must be between 1024 and 2^32 (4294967296): AES-GCM with random nonces is safe to 2^32 messages per key")
	}
	if k.CacheSize < 1 || k.CacheSize > 10_000_000 {
		v.errorf("protect.keys.cache_size", "must be between 1 and 10000000")
	}
	if k.CacheTTL.Std() <= 0 || k.CacheTTL.Std() > 24*time.Hour {
		v.errorf("protect.keys.cache_ttl", "must be between 1s and 24h")
	}
}

// routeProtect checks the protect rules of route r, at path pp: whose
// keys encrypt, the fields and the DLP detectors.
func (v *validator) routeProtect(pp string, r *Route) {
	rp := r.Protect
	if r.Public && len(rp.Fields) > 0 {
		v.errorf(pp+".fields", "field encryption needs an identity: the route must not be public")
	}
	v.protectSubject(pp+".subject", rp.Subject, r.Path)
	seen := map[string]bool{}
	for j, f := range rp.Fields {
		v.protectField(pp+".fields["+strconv.Itoa(j)+"]", f, seen)
	}
	if d := rp.DLP; d != nil {
		v.dlp(pp+".dlp", d)
	}
	if len(rp.Fields) == 0 && rp.DLP == nil {
		v.warnf(pp, "has neither fields nor dlp: it does nothing")
	}
}

// protectSubject checks whose data key encrypts a route's fields, at path
// p, for a route whose pattern is path.
func (v *validator) protectSubject(p, subject, path string) {
	switch {
	case subject == "identity", subject == "tenant":
	case strings.HasPrefix(subject, "param:"):
		name := strings.TrimPrefix(subject, "param:")
		if !slices.Contains(pathParams(path), name) {
			v.errorf(p, "route path %q has no parameter {%s}", path, name)
		}
	default:
		v.errorf(p, "must be identity, tenant or param:NAME, got %q", subject)
	}
}

// protectField checks one protected field, at path fp; seen holds the
// canonical paths of the route's fields before it.
func (v *validator) protectField(fp string, f ProtectField, seen map[string]bool) {
	switch {
	case f.Path == "":
		v.errorf(fp+".path", "is required (a JSON path such as $.ssn)")
	case !strings.HasPrefix(f.Path, "$.") && !strings.HasPrefix(f.Path, "$["):
		v.errorf(fp+".path", "must be a JSON path below the root, such as $.ssn or $.items[*].email, got %q", f.Path)
	default:
		jp, err := jsonpath.Parse(f.Path)
		if err != nil {
			v.errorf(fp+".path", "%v", err)
			break
		}
		if seen[jp.String()] {
			v.errorf(fp+".path", "%s is listed twice", jp.String())
		}
		seen[jp.String()] = true
	}
	if !slices.Contains([]string{"mask", "remove", "null"}, f.Others) {
		v.errorf(fp+".others", "must be mask, remove or null, got %q", f.Others)
	}
	if !slices.Contains([]string{"auto", "last4", "full"}, f.Mask) {
		v.errorf(fp+".mask", "must be auto, last4 or full, got %q", f.Mask)
	}
}

// dlp checks a route's DLP rule, at path p.
func (v *validator) dlp(p string, d *RouteDLP) {
	if !slices.Contains([]string{"report", "mask", "block"}, d.Action) {
		v.errorf(p+".action", "must be report, mask or block, got %q", d.Action)
	}
	for j, kind := range d.Kinds {
		if !slices.Contains(DLPKinds, kind) {
			v.errorf(p+".kinds["+strconv.Itoa(j)+"]", "unknown detector %q; known: %s", kind, strings.Join(DLPKinds, ", "))
		}
	}
}

// pathParams returns the names of a route pattern's {parameters}.
func pathParams(pattern string) []string {
	var out []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}"), "..."))
		}
	}
	return out
}
