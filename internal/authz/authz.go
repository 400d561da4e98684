// Package authz is the authorization stage: after authentication, it
// decides whether the identity may use the route, with the method at hand,
// on the object the route names. Deny by default: a route that is not
// public and states no rule is refused to everyone (config validation makes
// sure no such route exists).
//
// It closes the three most exploited API flaws (OWASP API Security Top 10,
// 2023) without code in the upstream:
//
//   - API1, broken object-level authorization: an owner rule ties a route
//     parameter (/api/users/{id}) to the identity's subject or tenant, with
//     named exceptions for roles that may read, or do anything to, any
//     object;
//   - API5, broken function-level authorization: roles and scopes per route
//     and per method, so that DELETE or PUT can need more than GET;
//   - API3, broken object property level authorization, on the way in: a
//     per-route allowlist of writable fields refuses a body that sets
//     anything else (mass assignment such as "role": "admin").
//
// Every rule sees the normalized path and the parameters the route stage
// extracted from it, never the raw request. It does not own filtering
// response fields per role, Cedar policies or the explain command (next).
package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/types"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/jsonbody"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// rule is one compiled authorization rule.
type rule struct {
	authenticated bool
	roles         []string
	scopes        []string
	permissions   []string
	owner         *config.OwnerRule
	writable      map[string]bool // nil: any field
	// visible maps roles to the response fields they see; nil: no
	// filtering. A nil field set means every field.
	visible map[string]map[string]bool
	// policy must permit the request; nil: none.
	policy     *cedar.PolicySet
	policyFile string
}

// routeRules are a route's rules: the default and per-method overrides.
type routeRules struct {
	public  bool
	base    *rule
	methods map[string]*rule
}

// Stage is the authz stage. It is immutable and safe for concurrent use.
type Stage struct {
	byRoute []routeRules
	grants  config.Permissions
	now     func() time.Time // the clock policies see as context.time
}

func compile(a config.Authz) (*rule, error) {
	r := &rule{authenticated: a.Authenticated, roles: a.Roles, scopes: a.Scopes, permissions: a.Permissions, owner: a.Owner, policyFile: a.PolicyFile}
	if a.PolicyFile != "" {
		b, err := os.ReadFile(a.PolicyFile) // #nosec G304 -- the operator names the policy file
		if err != nil {
			return nil, fmt.Errorf("reading policy_file: %w", err)
		}
		ps, err := cedar.NewPolicySetFromBytes(a.PolicyFile, b)
		if err != nil {
			// cedar-go reports "<input>:LINE:COL"; name the file.
			return nil, fmt.Errorf("policy_file %s: %s", a.PolicyFile, strings.ReplaceAll(err.Error(), "<input>", a.PolicyFile))
		}
		r.policy = ps
	}
	if a.WritableFields != nil {
		r.writable = map[string]bool{}
		for _, f := range a.WritableFields {
			r.writable[f] = true
		}
	}
	if a.ResponseFields != nil {
		r.visible = map[string]map[string]bool{}
		for role, fields := range a.ResponseFields {
			if slices.Contains(fields, "*") {
				r.visible[role] = nil
				continue
			}
			set := map[string]bool{}
			for _, f := range fields {
				set[f] = true
			}
			r.visible[role] = set
		}
	}
	return r, nil
}

// Deps are what the authz stage is built with besides its config section.
type Deps struct {
	// Routes is the route table; each route holds its authz rules.
	Routes []config.Route
}

// New compiles the routes' authz sections of a validated config, with the
// permissions that roles and groups grant (the authz section).
func New(grants config.Permissions, d Deps) (*Stage, error) {
	routes := d.Routes
	s := &Stage{byRoute: make([]routeRules, len(routes)), now: time.Now, grants: grants}
	for i, r := range routes {
		rr := &s.byRoute[i]
		rr.public = r.Public
		if r.Authz == nil {
			if !r.Public {
				return nil, fmt.Errorf("routes[%d]: no authz rule on a route that is not public", i)
			}
			continue
		}
		base, err := compile(*r.Authz)
		if err != nil {
			return nil, fmt.Errorf("routes[%d].authz: %w", i, err)
		}
		rr.base = base
		for m, ma := range r.Authz.Methods {
			if rr.methods == nil {
				rr.methods = map[string]*rule{}
			}
			mr, err := compile(ma)
			if err != nil {
				return nil, fmt.Errorf("routes[%d].authz.methods.%s: %w", i, m, err)
			}
			rr.methods[m] = mr
		}
	}
	return s, nil
}

// Name returns "authz".
func (s *Stage) Name() string { return "authz" }

// ruleFor returns the rule for the exchange's route and method, nil for a
// public route.
func (s *Stage) ruleFor(x *pipeline.Exchange) *rule {
	if x.Route == nil || x.Route.Index >= len(s.byRoute) {
		return nil
	}
	rr := s.byRoute[x.Route.Index]
	if rr.public || rr.base == nil {
		return nil
	}
	return rr.forMethod(x.In.Method)
}

// forMethod returns the method's rule, HEAD falling back to GET's, or the
// route's rule.
func (rr *routeRules) forMethod(method string) *rule {
	if m, ok := rr.methods[method]; ok {
		return m
	}
	if m, ok := rr.methods[http.MethodGet]; ok && method == http.MethodHead {
		return m
	}
	return rr.base
}

// WantsResponseBody asks for the whole response body of exchanges whose
// rule filters response fields.
func (s *Stage) WantsResponseBody(x *pipeline.Exchange) bool {
	r := s.ruleFor(x)
	return r != nil && r.visible != nil && x.Identity != nil
}

// Response removes the fields the identity's roles may not see from a
// successful JSON response.
func (s *Stage) Response(_ context.Context, x *pipeline.Exchange) error {
	r := s.ruleFor(x)
	if r == nil || r.visible == nil || x.Identity == nil || !x.Response.Buffered {
		return nil
	}
	all, fields := visibleFields(r.visible, x.Identity.Roles)
	if all {
		return nil
	}
	h := x.Response.Header
	// Validators and digests of the unfiltered body would describe (and
	// leak the size of) what the client does not get.
	for _, name := range []string{"Etag", "Digest", "Content-Md5", "Repr-Digest", "Content-Digest"} {
		h.Del(name)
	}
	if x.In.Method == http.MethodHead {
		h.Del("Content-Length")
		return nil
	}
	if x.Response.Status == http.StatusPartialContent {
		return &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonResponsePartial,
			Message: "The upstream response could not be checked."}
	}
	if x.Response.Status < 200 || x.Response.Status > 299 || len(bytes.TrimSpace(x.Response.Body)) == 0 {
		return nil
	}
	if ce := x.Response.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		// Asked for identity and got something else: it cannot be
		// filtered, so it is not passed on.
		return &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonResponseEncoded,
			Message: "The upstream response could not be checked."}
	}
	out, err := filterFields(x.Response.Body, fields)
	if err != nil {
		return &pipeline.Denial{Status: http.StatusBadGateway, Reason: ReasonResponseNotJson,
			Message: "The upstream response could not be checked.", Cause: err}
	}
	x.Response.Body = out
	return nil
}

// visibleFields unions the field sets of the roles held; all is true when
// one of them sees every field.
func visibleFields(visible map[string]map[string]bool, roles []string) (all bool, fields map[string]bool) {
	fields = map[string]bool{}
	matched := false
	for _, role := range roles {
		set, ok := visible[role]
		if !ok || role == "*" {
			continue
		}
		matched = true
		if set == nil {
			return true, nil
		}
		for f := range set {
			fields[f] = true
		}
	}
	if !matched {
		if set, ok := visible["*"]; ok {
			if set == nil {
				return true, nil
			}
			return false, set
		}
	}
	return false, fields
}

// filterFields keeps only the given top-level fields of a JSON object, or
// of every object in a JSON array.
func filterFields(body []byte, fields map[string]bool) ([]byte, error) {
	var v any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body[d.InputOffset():])) > 0 {
		return nil, errors.New("trailing data after the JSON value")
	}
	keep := func(o map[string]any) {
		for k := range o {
			if !fields[k] {
				delete(o, k)
			}
		}
	}
	switch t := v.(type) {
	case map[string]any:
		keep(t)
	case []any:
		for i, e := range t {
			o, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("element %d is not an object", i)
			}
			keep(o)
		}
	default:
		return nil, errors.New("not a JSON object or array")
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

func forbid(reason, message string) *pipeline.Denial {
	return pipeline.Deny(http.StatusForbidden, reason, message)
}

// Request decides whether x.Identity may do this.
func (s *Stage) Request(_ context.Context, x *pipeline.Exchange) error {
	if x.Route == nil || x.Route.Index >= len(s.byRoute) {
		return forbid(ReasonNoRule, "The request is not allowed.")
	}
	rr := s.byRoute[x.Route.Index]
	if rr.public {
		return nil
	}
	id := x.Identity
	if id == nil || rr.base == nil {
		// Only reachable if authn did not run: fail closed.
		return forbid(ReasonNoIdentity, "The request is not allowed.")
	}
	r := rr.forMethod(x.In.Method)
	if !r.authenticated && len(r.roles) == 0 && len(r.scopes) == 0 && len(r.permissions) == 0 && r.owner == nil && r.policy == nil {
		return forbid(ReasonNoRule, "The request is not allowed.") // a rule with no condition grants nothing
	}
	if len(r.roles) > 0 && !anyOf(id.Roles, r.roles) {
		return forbid(ReasonMissingRole, "Your role does not allow this.")
	}
	for _, sc := range r.scopes {
		if !slices.Contains(id.Scopes, sc) {
			d := forbid(ReasonMissingScope, "The credential lacks a required scope.")
			d.Header = http.Header{"Www-Authenticate": {`Bearer realm="rampart", error="insufficient_scope", scope="` + strings.Join(r.scopes, " ") + `"`}}
			return d
		}
	}
	for _, perm := range r.permissions {
		if !s.holds(id, perm) {
			return forbid(ReasonMissingPermission, "You lack a permission this needs.")
		}
	}
	if o := r.owner; o != nil && !s.owns(o, id, x) {
		return forbid(ReasonNotOwner, "You may only use your own resources.")
	}
	if r.policy != nil {
		if err := permits(r.policy, x, s.now()); err != nil {
			return err
		}
	}
	if r.writable != nil {
		if err := checkFields(x, r.writable); err != nil {
			return err
		}
	}
	if r.visible != nil {
		// The response will be read field by field: ask the upstream for
		// all of it (a Range answer could be a slice of a hidden field),
		// uncompressed.
		x.DelUpstreamHeader("Accept-Encoding")
		x.DelUpstreamHeader("Range")
		x.DelUpstreamHeader("If-Range")
	}
	return nil
}

// permits evaluates Cedar policies for the exchange. Cedar skips a forbid
// policy that fails to evaluate, which would let a request through; any
// evaluation error therefore refuses.
func permits(ps *cedar.PolicySet, x *pipeline.Exchange, now time.Time) error {
	id := x.Identity
	principal := types.NewEntityUID("User", types.String(id.Subject))
	parents := make([]types.EntityUID, 0, len(id.Roles))
	for _, r := range id.Roles {
		parents = append(parents, types.NewEntityUID("Role", types.String(r)))
	}
	strs := func(v []string) types.Set {
		vals := make([]types.Value, len(v))
		for i, s := range v {
			vals[i] = types.String(s)
		}
		return types.NewSet(vals...)
	}
	resource := types.NewEntityUID("Route", types.String(x.Route.Name))
	params := types.RecordMap{}
	for _, p := range x.Params {
		params[types.String(p.Name)] = types.String(p.Value)
	}
	entities := types.EntityMap{
		principal: {UID: principal, Parents: types.NewEntityUIDSet(parents...), Attributes: types.NewRecord(types.RecordMap{
			"subject": types.String(id.Subject), "issuer": types.String(id.Issuer), "tenant": types.String(id.Tenant),
			"method": types.String(id.Method), "roles": strs(id.Roles), "groups": strs(id.Groups), "scopes": strs(id.Scopes),
		})},
		resource: {UID: resource, Attributes: types.NewRecord(types.RecordMap{
			"path": types.String(x.Path), "params": types.NewRecord(params),
		})},
	}
	ctx := types.RecordMap{"time": types.Long(now.Unix())}
	if x.ClientIP.IsValid() {
		ctx["ip"] = types.IPAddr(netip.PrefixFrom(x.ClientIP, x.ClientIP.BitLen()))
	}
	decision, diag := cedar.Authorize(ps, entities, types.Request{Principal: principal,
		Action: types.NewEntityUID("Action", types.String(x.In.Method)), Resource: resource, Context: types.NewRecord(ctx)})
	if len(diag.Errors) > 0 {
		return &pipeline.Denial{Status: http.StatusForbidden, Reason: ReasonPolicyError, Message: "The request is not allowed.",
			Cause: fmt.Errorf("policy evaluation: %s", diag.Errors[0].Message)}
	}
	if decision != types.Allow {
		return forbid(ReasonPolicyDenied, "A policy does not allow this.")
	}
	return nil
}

// holds reports whether one of the identity's roles or groups grants perm.
func (s *Stage) holds(id *pipeline.Identity, perm string) bool {
	for _, role := range id.Roles {
		if slices.Contains(s.grants.Roles[role], perm) {
			return true
		}
	}
	for _, g := range id.Groups {
		if slices.Contains(s.grants.Groups[g], perm) {
			return true
		}
	}
	return false
}

// owns reports whether the identity owns the object, or holds a role that
// may act on any object with this method.
func (s *Stage) owns(o *config.OwnerRule, id *pipeline.Identity, x *pipeline.Exchange) bool {
	if anyOf(id.Roles, o.AllRoles) {
		return true
	}
	if (x.In.Method == http.MethodGet || x.In.Method == http.MethodHead) && anyOf(id.Roles, o.ReadRoles) {
		return true
	}
	want := id.Subject
	if o.Claim == "tenant" {
		want = id.Tenant
	}
	got := x.Param(o.Param)
	switch o.In {
	case "query":
		q, err := url.ParseQuery(x.Query)
		if err != nil || len(q[o.Param]) != 1 {
			return false // missing, unreadable or repeated (parameter pollution): not the owner
		}
		got = q[o.Param][0]
	case "body":
		v, ok := bodyField(x, o.Param)
		if !ok {
			return false
		}
		got = v
	}
	return want != "" && got == want
}

// bodyField returns a top-level string field of a JSON object body sent
// as JSON; false when the body is not one, or the field is missing, not a
// string or (in any letter case) repeated.
func bodyField(x *pipeline.Exchange, name string) (string, bool) {
	if !jsonbody.IsJSON(x.In.Header.Get("Content-Type")) {
		return "", false
	}
	body, err := x.RequestBody()
	if err != nil {
		return "", false
	}
	keys, err := jsonbody.Members(body) // refuses duplicates in any case
	if err != nil {
		return "", false
	}
	found := false
	for _, k := range keys {
		if strings.EqualFold(k, name) {
			if k != name || found {
				return "", false // "Owner" beside "owner": which one the upstream binds is unknowable
			}
			found = true
		}
	}
	if !found {
		return "", false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return "", false
	}
	var s string
	if json.Unmarshal(m[name], &s) != nil {
		return "", false
	}
	return s, true
}

func anyOf(have, want []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

// checkFields refuses a request that could set a field outside the
// allowlist: a JSON body with another field, a body of any other media type
// (a form or multipart body that a framework would bind, or JSON sent as
// text/plain), or a query parameter that is not writable (frameworks bind
// those too), whatever the method.
func checkFields(x *pipeline.Exchange, writable map[string]bool) error {
	if q := x.Query; q != "" {
		for part := range strings.SplitSeq(q, "&") {
			name, _, _ := strings.Cut(part, "=")
			if name == "" {
				continue
			}
			if u, err := url.QueryUnescape(name); err != nil || !writable[u] {
				return forbid(ReasonFieldNotWritable, fmt.Sprintf("The query parameter %q may not be set here.", truncate(name)))
			}
		}
	}
	body, err := x.RequestBody()
	if errors.Is(err, pipeline.ErrBodyTooLarge) {
		return pipeline.Deny(http.StatusRequestEntityTooLarge, pipeline.ReasonListenerBodyTooLarge, "The request body is too large.")
	}
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if !jsonbody.IsJSON(x.In.Header.Get("Content-Type")) {
		return &pipeline.Denial{Status: http.StatusUnsupportedMediaType, Reason: ReasonBodyNotJsonObject,
			Message: "The body must be a JSON object sent as application/json."}
	}
	fields, err := jsonbody.Members(body)
	if err != nil {
		return &pipeline.Denial{Status: http.StatusUnsupportedMediaType, Reason: ReasonBodyNotJsonObject,
			Message: "The body must be a JSON object.", Cause: err}
	}
	for _, f := range fields {
		if !writable[f] {
			return forbid(ReasonFieldNotWritable, fmt.Sprintf("The field %q may not be set here.", truncate(f)))
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Rule describes, for people, the rule that applies to a method on a route
// (rampart authz explain).
func (s *Stage) Rule(route int, method string) string {
	if route < 0 || route >= len(s.byRoute) {
		return "no route"
	}
	rr := s.byRoute[route]
	if rr.public {
		return "public: anyone, no authentication"
	}
	r, which := rr.forMethod(method), "route rule"
	switch {
	case r == rr.base:
	case method == http.MethodHead && rr.methods[method] == nil:
		which = "GET rule (for HEAD)"
	default:
		which = method + " rule"
	}
	var parts []string
	if r.authenticated {
		parts = append(parts, "any authenticated identity")
	}
	if len(r.roles) > 0 {
		parts = append(parts, "a role among ["+strings.Join(r.roles, ", ")+"]")
	}
	if len(r.scopes) > 0 {
		parts = append(parts, "every scope of ["+strings.Join(r.scopes, ", ")+"]")
	}
	if len(r.permissions) > 0 {
		parts = append(parts, "every permission of ["+strings.Join(r.permissions, ", ")+"] through roles or groups")
	}
	if o := r.owner; o != nil {
		p := "{" + o.Param + "} equal to the identity's " + o.Claim
		switch o.In {
		case "query":
			p = "the query parameter " + o.Param + " (once) equal to the identity's " + o.Claim
		case "body":
			p = "the JSON body field " + o.Param + " equal to the identity's " + o.Claim
		}
		if len(o.ReadRoles) > 0 {
			p += ", except that [" + strings.Join(o.ReadRoles, ", ") + "] may read any"
		}
		if len(o.AllRoles) > 0 {
			p += ", except that [" + strings.Join(o.AllRoles, ", ") + "] may do anything to any"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 && r.policy == nil {
		parts = append(parts, "no condition: refused to everyone")
	}
	if r.policy != nil {
		parts = append(parts, "Cedar policies in "+r.policyFile+" permitting")
	}
	if r.visible != nil {
		roles := make([]string, 0, len(r.visible))
		for role, set := range r.visible {
			if set == nil {
				roles = append(roles, role+" sees every field")
				continue
			}
			fs := make([]string, 0, len(set))
			for f := range set {
				fs = append(fs, f)
			}
			slices.Sort(fs)
			roles = append(roles, role+" sees ["+strings.Join(fs, ", ")+"]")
		}
		slices.Sort(roles)
		parts = append(parts, "response fields: "+strings.Join(roles, "; "))
	}
	if r.writable != nil {
		fields := make([]string, 0, len(r.writable))
		for f := range r.writable {
			fields = append(fields, f)
		}
		slices.Sort(fields)
		parts = append(parts, "a JSON body setting only ["+strings.Join(fields, ", ")+"]")
	}
	return which + ": " + strings.Join(parts, "; ")
}
