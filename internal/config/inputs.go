package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Defaults of the waf section.
const (
	DefaultWAFParanoia  = 1
	DefaultWAFThreshold = 5
	DefaultWAFBodyLimit = 128 << 10
)

// WAFProfiles are the exclusion profiles waf.profiles may name.
var WAFProfiles = []string{"json-api"}

// wafTarget is a ModSecurity target an exclusion may name: a collection
// from the list, optionally with a key of safe characters. It keeps
// anything that could end a SecLang directive (quotes, commas, spaces,
// newlines, pipes, regular expressions) out of the WAF's rules.
// The collections are the ones the Core Rule Set's rules name (package
// waf checks the same list: ARGS_GET or ARGS_POST would exclude nothing).
var wafTarget = regexp.MustCompile(`^(ARGS|ARGS_NAMES|REQUEST_HEADERS|REQUEST_HEADERS_NAMES|REQUEST_COOKIES|REQUEST_COOKIES_NAMES)(:[A-Za-z0-9_.\-]{1,256})?$`)

func setWAFDefaults(c *Config) {
	w := &c.WAF
	if w.Paranoia == 0 {
		w.Paranoia = DefaultWAFParanoia
	}
	if w.InboundThreshold == 0 {
		w.InboundThreshold = DefaultWAFThreshold
	}
	if w.Mode == "" {
		w.Mode = "block"
	}
	// The default inspects what the listener takes, up to 128 KiB.
	setSize(&w.BodyLimit, min(DefaultWAFBodyLimit, int64(c.Server.MaxBodyBytes)))
	for i := range c.Routes {
		r := c.Routes[i].WAF
		if r != nil {
			if r.Enabled == nil {
				t := true
				r.Enabled = &t
			}
			if r.Paranoia == 0 {
				r.Paranoia = w.Paranoia
			}
			if r.InboundThreshold == 0 {
				r.InboundThreshold = w.InboundThreshold
			}
			if r.Mode == "" {
				r.Mode = w.Mode
			}
			setSize(&r.BodyLimit, int64(w.BodyLimit))
		}
		if o := c.Routes[i].OpenAPI; o != nil {
			if o.Operation == "" {
				o.Operation = "auto"
			}
			if o.Request == "" {
				o.Request = "block"
			}
			if o.Response == "" {
				o.Response = "off"
			}
		}
	}
}

// inputs checks the waf section and each route's waf and openapi blocks.
func (v *validator) inputs(c *Config) {
	v.wafSettings("waf", c.WAF.Paranoia, c.WAF.InboundThreshold, c.WAF.Mode, c.WAF.Profiles, c.WAF.Exclude, c.WAF.BodyLimit, c)
	for i := range c.Routes {
		p := "routes[" + strconv.Itoa(i) + "]"
		if w := c.Routes[i].WAF; w != nil {
			v.wafSettings(p+".waf", w.Paranoia, w.InboundThreshold, w.Mode, w.Profiles, w.Exclude, w.BodyLimit, c)
		}
		if o := c.Routes[i].OpenAPI; o != nil {
			v.routeOpenAPI(p+".openapi", o)
		}
	}
}

func (v *validator) wafSettings(p string, paranoia, threshold int, mode string, profiles []string, exclude []WAFExclusion, bodyLimit ByteSize, c *Config) {
	if paranoia < 1 || paranoia > 4 {
		v.errorf(p+".paranoia", "must be 1, 2, 3 or 4, not %d", paranoia)
	}
	if threshold < 1 || threshold > 10000 {
		v.errorf(p+".inbound_threshold", "must be between 1 and 10000, not %d", threshold)
	}
	if mode != "block" && mode != "detect" {
		v.errorf(p+".mode", "must be block or detect, not %q", mode)
	}
	for j, name := range profiles {
		if !slices.Contains(WAFProfiles, name) {
			v.errorf(p+".profiles["+strconv.Itoa(j)+"]", "unknown profile %q; profiles: %s", name, strings.Join(WAFProfiles, ", "))
		}
	}
	for j, e := range exclude {
		ep := p + ".exclude[" + strconv.Itoa(j) + "]"
		if len(e.Rules) == 0 {
			v.errorf(ep+".rules", "required: the rule ids or ranges to exclude, such as [\"942100\"]")
		}
		for k, r := range e.Rules {
			if _, _, err := ParseRuleRange(r); err != nil {
				v.errorf(ep+".rules["+strconv.Itoa(k)+"]", "%v", err)
			}
		}
		if e.Target != "" && !wafTarget.MatchString(e.Target) {
			v.errorf(ep+".target", "%q must be COLLECTION or COLLECTION:key, such as ARGS:json.comment or REQUEST_HEADERS:User-Agent: ARGS, ARGS_NAMES, REQUEST_HEADERS, REQUEST_HEADERS_NAMES, REQUEST_COOKIES or REQUEST_COOKIES_NAMES, keys of letters, digits, _ . -", e.Target)
		}
	}
	if bodyLimit <= 0 {
		v.errorf(p+".body_limit", "must be positive")
	} else if c.Server.MaxBodyBytes > 0 && bodyLimit > c.Server.MaxBodyBytes {
		v.errorf(p+".body_limit", "must be at most server.max_body_bytes (%d bytes)", int64(c.Server.MaxBodyBytes))
	}
}

func (v *validator) routeOpenAPI(p string, o *RouteOpenAPI) {
	if o.Spec == "" {
		v.errorf(p+".spec", "required: the OpenAPI file the route's requests must match")
	}
	if o.Operation != "auto" && !operationID.MatchString(o.Operation) {
		v.errorf(p+".operation", "%q must be an operationId or auto", o.Operation)
	}
	if o.Request != "block" && o.Request != "report" {
		v.errorf(p+".request", "must be block or report, not %q", o.Request)
	}
	if o.Response != "off" && o.Response != "report" && o.Response != "block" {
		v.errorf(p+".response", "must be off, report or block, not %q", o.Response)
	}
}

// operationID is what a route may name as its operation: printable, no
// spaces, bounded.
var operationID = regexp.MustCompile(`^[A-Za-z0-9_.\-:/]{1,128}$`)

// ParseRuleRange parses a WAF rule id ("942100") or inclusive range
// ("942000-942999") into its bounds.
func ParseRuleRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, err = ruleID(a)
	if err != nil {
		return 0, 0, err
	}
	if !isRange {
		return lo, lo, nil
	}
	if hi, err = ruleID(b); err != nil {
		return 0, 0, err
	}
	if hi < lo {
		return 0, 0, errRange(s)
	}
	return lo, hi, nil
}

type errRange string

func (e errRange) Error() string {
	return "rule range " + strconv.Quote(string(e)) + " ends before it starts"
}

type errRuleID string

func (e errRuleID) Error() string {
	return "rule " + strconv.Quote(string(e)) + " must be a rule id (1 to 9999999) or a range such as 942000-942999"
}

func ruleID(s string) (int, error) {
	if s == "" || len(s) > 7 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errRuleID(s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, errRuleID(s)
	}
	return n, nil
}
