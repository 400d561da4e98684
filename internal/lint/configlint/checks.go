package configlint

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// configChecks are the rules that read the config alone, in the order
// they run. dlpOff runs after the spec rules, since it reads the spec when
// there is one.
var configChecks = []func(*run){
	(*run).publicWrite,
	(*run).noRateLimit,
	(*run).failOpen,
	(*run).plaintextListener,
	(*run).plaintextUpstream,
	(*run).adminPublic,
	(*run).audit,
	(*run).audienceMissing,
	(*run).longTokenTTL,
}

// writeMethods are the methods that change state.
var writeMethods = []string{"POST", "PUT", "PATCH", "DELETE"}

// writes returns the route's methods that change state.
func writes(r *config.Route) []string {
	var out []string
	for _, m := range r.Methods {
		if slices.Contains(writeMethods, strings.ToUpper(m)) {
			out = append(out, m)
		}
	}
	return out
}

// sensitive reports whether a route writes or needs authentication.
func sensitive(r *config.Route) bool { return !r.Public || len(writes(r)) > 0 }

// routeName names a route in a message.
func routeName(i int, r *config.Route) string {
	if r.Name != "" {
		return fmt.Sprintf("route %q", r.Name)
	}
	return fmt.Sprintf("routes[%d]", i)
}

func (r *run) publicWrite() {
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		w := writes(rt)
		if !rt.Public || len(w) == 0 {
			continue
		}
		r.add(RulePublicWrite, r.at(routePtr(i, "public")), findings.Finding{
			PathTemplate: rt.Path, Method: strings.Join(w, ","), Key: rt.Name,
			Message: fmt.Sprintf("%s is public and accepts %s on %s: anyone may write without a credential.", routeName(i, rt), strings.Join(w, ", "), rt.Path),
		})
	}
}

// limited reports whether a route has rates, quotas or concurrency of its
// own.
func limited(l *config.RouteLimits) bool {
	return l != nil && len(l.Rates)+len(l.Quotas)+len(l.Concurrency) > 0
}

func (r *run) noRateLimit() {
	if len(r.cfg.Limits.PreAuth) > 0 {
		return // every request is limited by client IP
	}
	catchAll := false
	for _, p := range r.cfg.Limits.Plans {
		if len(p.Roles) == 0 && len(p.Rates)+len(p.Quotas)+len(p.Concurrency) > 0 {
			catchAll = true
		}
	}
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		if limited(rt.Limits) || (!rt.Public && catchAll) {
			continue
		}
		why := "no limits.pre_auth and no plan matches every identity"
		if rt.Public {
			why = "no limits.pre_auth, and plans do not apply to anonymous requests"
		}
		r.add(RuleNoRateLimit, r.at(routePtr(i, "limits")), findings.Finding{
			PathTemplate: rt.Path, Key: rt.Name,
			Message: fmt.Sprintf("%s has no rate limit, quota or concurrency limit of its own, %s.", routeName(i, rt), why),
		})
	}
}

func (r *run) failOpen() {
	if r.cfg.Limits.Backend != "redis" {
		return // the memory back end cannot fail
	}
	var inherit []string
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		if !sensitive(rt) {
			continue
		}
		own := rt.Limits != nil && r.explicit(routePtr(i, "limits", "on_backend_error"), rt.Limits.OnBackendError)
		switch {
		case own && rt.Limits.OnBackendError == "open":
			r.add(RuleFailOpen, r.at(routePtr(i, "limits", "on_backend_error")), findings.Finding{
				PathTemplate: rt.Path, Key: rt.Name,
				Message: fmt.Sprintf("%s %s and its limits admit every request while Redis fails (on_backend_error: open).", routeName(i, rt), whySensitive(rt)),
			})
		case !own && r.cfg.Limits.OnBackendError == "open":
			inherit = append(inherit, routeName(i, rt))
		}
	}
	if len(inherit) > 0 {
		r.add(RuleFailOpen, r.at("/limits/on_backend_error"), findings.Finding{
			Key:     "limits",
			Message: fmt.Sprintf("limits.on_backend_error is open, so while Redis fails the limits of %s admit every request although they write or need authentication.", listOf(inherit, 3)),
		})
	}
}

// explicit reports whether a route's on_backend_error is written in the
// file; without an index, whether it differs from the global one.
func (r *run) explicit(ptr, value string) bool {
	if r.index != nil {
		return r.has(ptr)
	}
	return value != r.cfg.Limits.OnBackendError
}

func whySensitive(rt *config.Route) string {
	if w := writes(rt); len(w) > 0 {
		return "accepts " + strings.Join(w, ", ")
	}
	return "needs authentication"
}

// listOf names at most n items and counts the rest.
func listOf(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:n], ", "), len(items)-n)
}

// loopback reports whether host (a name or an address, no port) is the
// local machine only.
func loopback(host string) bool {
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// addrHost is the host of a host:port address; "" (every interface) when
// it has none or is malformed.
func addrHost(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return ""
	}
	return host
}

func (r *run) plaintextListener() {
	for i, l := range r.cfg.Listeners {
		if !l.Plaintext || loopback(addrHost(l.Address)) {
			continue
		}
		r.add(RulePlaintextListener, r.at(yamlpos.Pointer("listeners", fmt.Sprint(i), "plaintext")), findings.Finding{
			Key:     l.Name,
			Message: fmt.Sprintf("listener %q serves plain HTTP on %s, which is not a loopback address.", l.Name, l.Address),
		})
	}
}

func (r *run) plaintextUpstream() {
	for _, name := range sortedKeys(r.cfg.Upstreams) {
		u, err := url.Parse(r.cfg.Upstreams[name].URL)
		if err != nil || !strings.EqualFold(u.Scheme, "http") || loopback(u.Hostname()) {
			continue
		}
		// The host only: a URL may carry credentials.
		r.add(RulePlaintextUpstream, r.at(yamlpos.Pointer("upstreams", name, "url")), findings.Finding{
			Key:     name,
			Message: fmt.Sprintf("upstream %q is reached over plain HTTP at host %s, which is not loopback.", name, u.Hostname()),
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (r *run) adminPublic() {
	a := r.cfg.Admin
	if a.Disabled || loopback(addrHost(a.Address)) {
		return
	}
	r.add(RuleAdminPublic, r.at("/admin/address"), findings.Finding{
		Key:     "admin",
		Message: fmt.Sprintf("the admin listener is served on %s, which is not a loopback address.", a.Address),
	})
}

func (r *run) audit() {
	a := r.cfg.Audit
	if !a.Enabled {
		r.add(RuleAuditOff, r.at("/audit/enabled"), findings.Finding{
			Key:     "audit",
			Message: "the audit log is off: no tamper-evident record of requests, refusals or anomalies is kept.",
		})
		return
	}
	if a.Sync {
		return
	}
	var writers []string
	for i := range r.cfg.Routes {
		if len(writes(&r.cfg.Routes[i])) > 0 {
			writers = append(writers, routeName(i, &r.cfg.Routes[i]))
		}
	}
	if len(writers) == 0 {
		return
	}
	r.add(RuleAuditNotSynced, r.at("/audit/sync"), findings.Finding{
		Key:     "audit",
		Message: fmt.Sprintf("the audit log is not synced although writes reach %s: a crash can lose the events of writes already answered.", listOf(writers, 3)),
	})
}

func (r *run) audienceMissing() {
	for i, in := range r.cfg.Authn.Introspection {
		if len(in.Audiences) > 0 {
			continue
		}
		r.add(RuleAudienceMissing, r.at(yamlpos.Pointer("authn", "introspection", fmt.Sprint(i), "audiences")), findings.Finding{
			Key:     in.Name,
			Message: fmt.Sprintf("introspection authenticator %q checks no audience: tokens issued for other APIs are accepted.", in.Name),
		})
	}
	// authn.jwt[].audiences is required by config validation, and
	// token_server.audience defaults to its issuer: neither can be empty.
}

func (r *run) longTokenTTL() {
	type bound struct {
		on    bool
		ptr   string
		name  string
		ttl   config.Duration
		limit time.Duration
	}
	bounds := []bound{
		{r.cfg.TokenServer.Enabled, "/token_server/ttl", "token_server.ttl", r.cfg.TokenServer.TTL, MaxTokenServerTTL * time.Second},
		{r.cfg.IdentityToken.Enabled, "/identity_token/ttl", "identity_token.ttl", r.cfg.IdentityToken.TTL, MaxIdentityTokenTTL * time.Second},
	}
	for i, in := range r.cfg.Authn.Introspection {
		bounds = append(bounds, bound{true, yamlpos.Pointer("authn", "introspection", fmt.Sprint(i), "cache_ttl"),
			fmt.Sprintf("authn.introspection[%d].cache_ttl", i), in.CacheTTL, MaxIntrospectionCacheTTL * time.Second})
	}
	for _, b := range bounds {
		if !b.on || b.ttl.Std() <= b.limit {
			continue
		}
		r.add(RuleLongTokenTTL, r.at(b.ptr), findings.Finding{
			Key:     b.name,
			Message: fmt.Sprintf("%s is %s, above the bound of %s.", b.name, b.ttl.Std(), b.limit),
		})
	}
}
