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

func (v *validator) protect(c *Config) {
	p := &c.Protect
	if p.MaxBodyBytes < 0 {
		v.errorf("protect.max_body_bytes", "must be positive")
	}
	if p.MaxDecompressedBytes < p.MaxBodyBytes {
		v.errorf("protect.max_decompressed_bytes", "must be at least protect.max_body_bytes")
	}
	k := &p.Keys
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
	for i := range c.Routes {
		r := &c.Routes[i]
		if r.Protect == nil {
			continue
		}
		pp := "routes[" + strconv.Itoa(i) + "].protect"
		rp := r.Protect
		if r.Public && len(rp.Fields) > 0 {
			v.errorf(pp+".fields", "field encryption needs an identity: the route must not be public")
		}
		switch {
		case rp.Subject == "identity", rp.Subject == "tenant":
		case strings.HasPrefix(rp.Subject, "param:"):
			name := strings.TrimPrefix(rp.Subject, "param:")
			if !slices.Contains(pathParams(r.Path), name) {
				v.errorf(pp+".subject", "route path %q has no parameter {%s}", r.Path, name)
			}
		default:
			v.errorf(pp+".subject", "must be identity, tenant or param:NAME, got %q", rp.Subject)
		}
		seen := map[string]bool{}
		for j, f := range rp.Fields {
			fp := pp + ".fields[" + strconv.Itoa(j) + "]"
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
		if d := rp.DLP; d != nil {
			if !slices.Contains([]string{"report", "mask", "block"}, d.Action) {
				v.errorf(pp+".dlp.action", "must be report, mask or block, got %q", d.Action)
			}
			for j, kind := range d.Kinds {
				if !slices.Contains(DLPKinds, kind) {
					v.errorf(pp+".dlp.kinds["+strconv.Itoa(j)+"]", "unknown detector %q; known: %s", kind, strings.Join(DLPKinds, ", "))
				}
			}
		}
		if len(rp.Fields) == 0 && rp.DLP == nil {
			v.warnf(pp, "has neither fields nor dlp: it does nothing")
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
