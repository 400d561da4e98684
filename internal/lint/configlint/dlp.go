package configlint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/dlp"
	"github.com/rampart-gw/rampart/internal/findings"
)

// personalNames maps property names (lower case, without _, - and .) to
// the DLP detector that finds their values: the personal-data kinds of
// package dlp (card, ssn, iban, email, phone). Secrets (tokens, keys) are
// left out: a token endpoint must return its token, and DLP would mask it.
var personalNames = map[string]dlp.Kind{
	"email": dlp.Email, "emailaddress": dlp.Email, "mail": dlp.Email,
	"phone": dlp.Phone, "phonenumber": dlp.Phone, "mobile": dlp.Phone, "mobilephone": dlp.Phone,
	"telephone": dlp.Phone, "msisdn": dlp.Phone,
	"ssn": dlp.SSN, "socialsecuritynumber": dlp.SSN, "socialsecurity": dlp.SSN,
	"card": dlp.Card, "cardnumber": dlp.Card, "creditcard": dlp.Card, "creditcardnumber": dlp.Card,
	"pan": dlp.Card, "ccnumber": dlp.Card,
	"iban": dlp.IBAN, "bankaccount": dlp.IBAN, "bankaccountnumber": dlp.IBAN,
}

// personalPathWords are path segments whose responses are taken to hold
// personal data when there is no spec to say.
var personalPathWords = []string{"users", "user", "accounts", "account", "customers", "customer", "profiles", "profile",
	"members", "member", "patients", "patient", "employees", "employee", "people", "persons", "person", "contacts", "contact", "me"}

// personalKind is the DLP kind of a property name, false when it names
// no personal data.
func personalKind(name string) (dlp.Kind, bool) {
	n := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(name))
	k, ok := personalNames[n]
	return k, ok
}

// maxSchemaDepth bounds the walk of a response schema.
const maxSchemaDepth = 16

// personal is a personal-data property found in a response schema: its
// DLP kind and the top-level properties of the response it is reached
// through (itself when it is one; "*" for additionalProperties), which
// are what authz.response_fields filter.
type personal struct {
	kind dlp.Kind
	tops map[string]bool
}

// personalProps collects the personal-data properties of a schema,
// through properties, items, additionalProperties and allOf/anyOf/oneOf,
// each schema once. top is the top-level property the schema is under,
// "" for the response body itself (or the items of an array body).
func personalProps(s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool, depth int, top string, out map[string]*personal) {
	if s == nil || s.Value == nil || seen[s.Value] || depth > maxSchemaDepth {
		return
	}
	v := s.Value
	seen[v] = true
	under := func(name string) string {
		if top == "" {
			return name
		}
		return top
	}
	for _, name := range sortedKeys(v.Properties) {
		if k, ok := personalKind(name); ok && !writeOnly(v.Properties[name]) {
			if out[name] == nil {
				out[name] = &personal{kind: k, tops: map[string]bool{}}
			}
			out[name].tops[under(name)] = true
		}
		personalProps(v.Properties[name], seen, depth+1, under(name), out)
	}
	personalProps(v.Items, seen, depth+1, top, out)
	personalProps(v.AdditionalProperties.Schema, seen, depth+1, under("*"), out)
	for _, group := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
		for _, c := range group {
			personalProps(c, seen, depth+1, top, out)
		}
	}
}

// covered reports whether a protect field of the route names the
// property (its path ends in it), so that it is encrypted or masked.
func covered(p *config.RouteProtect, name string) bool {
	if p == nil {
		return false
	}
	for _, f := range p.Fields {
		last := f.Path[strings.LastIndexAny(f.Path, ".[")+1:]
		last = strings.Trim(last, "'\"]")
		if strings.EqualFold(last, name) {
			return true
		}
	}
	return false
}

// fieldFilter is what a route's authz.response_fields let through the
// 2xx responses of one method: every field (all), or only the listed
// top-level fields, each with the roles that see it.
type fieldFilter struct {
	all   bool
	roles map[string][]string // field -> roles, sorted
}

// responseFilter returns the filter of rt's responses to method: the
// rule of authz.methods for it when there is one (it replaces the
// route's rule whole), else the route's rule. No rule, no
// response_fields, or a role's list with "*" lets every field through.
func responseFilter(rt *config.Route, method string) fieldFilter {
	if rt.Authz == nil {
		return fieldFilter{all: true}
	}
	rule := *rt.Authz
	for m, mr := range rt.Authz.Methods {
		if strings.EqualFold(m, method) {
			rule = mr
		}
	}
	if rule.ResponseFields == nil {
		return fieldFilter{all: true}
	}
	ff := fieldFilter{roles: map[string][]string{}}
	for _, role := range sortedKeys(rule.ResponseFields) {
		for _, f := range rule.ResponseFields[role] {
			if f == "*" {
				return fieldFilter{all: true}
			}
			if !slices.Contains(ff.roles[f], role) {
				ff.roles[f] = append(ff.roles[f], role)
			}
		}
	}
	return ff
}

// seenBy returns the roles that see a property reached through the
// top-level properties tops; ok is false when nobody does. nil roles
// with ok mean everyone.
func (ff fieldFilter) seenBy(tops map[string]bool) (roles []string, ok bool) {
	if ff.all {
		return nil, true
	}
	for t := range tops {
		for _, r := range ff.roles[t] {
			if !slices.Contains(roles, r) {
				roles = append(roles, r)
			}
		}
	}
	slices.Sort(roles)
	return roles, len(roles) > 0
}

// exposed is a personal property that comes back in clear: its kind and,
// when authz.response_fields limit it, the roles that see it (nil:
// everyone).
type exposed struct {
	kind     dlp.Kind
	roles    []string
	everyone bool
}

// responseProps returns the personal properties of the 2xx responses of
// the spec operations that routes[i] reaches, less those its protect
// fields cover and those its authz.response_fields let nobody see.
func (r *run) responseProps(rt *config.Route) map[string]*exposed {
	out := map[string]*exposed{}
	tmpl := template(rt.Path, r.cfg.Paths.CaseInsensitive)
	methods := routeMethods(rt)
	for _, so := range r.mainOps() {
		if !slices.Contains(methods, so.op.Method) || !matches(tmpl, so.tmpl, false) || so.op.Op.Responses == nil {
			continue
		}
		props := map[string]*personal{}
		for code, resp := range so.op.Op.Responses.Map() {
			if !strings.HasPrefix(code, "2") || resp == nil || resp.Value == nil {
				continue
			}
			for _, mt := range resp.Value.Content {
				if mt != nil {
					personalProps(mt.Schema, map[*openapi3.Schema]bool{}, 0, "", props)
				}
			}
		}
		ff := responseFilter(rt, so.op.Method)
		for name, p := range props {
			if covered(rt.Protect, name) {
				continue
			}
			roles, ok := ff.seenBy(p.tops)
			if !ok {
				continue
			}
			e := out[name]
			if e == nil {
				e = &exposed{kind: p.kind}
				out[name] = e
			}
			e.add(roles)
		}
	}
	return out
}

// add records that roles (nil: everyone) see the property.
func (e *exposed) add(roles []string) {
	if roles == nil {
		e.everyone = true
	}
	for _, r := range roles {
		if !slices.Contains(e.roles, r) {
			e.roles = append(e.roles, r)
		}
	}
	slices.Sort(e.roles)
}

// describe is "email (email)", or "email (email, to admin)" when
// response_fields show it to some roles only.
func (e *exposed) describe(name string) string {
	if e.everyone || len(e.roles) == 0 {
		return fmt.Sprintf("%s (%s)", name, e.kind)
	}
	return fmt.Sprintf("%s (%s, to %s)", name, e.kind, strings.Join(e.roles, ", "))
}

// listedPersonal returns the personal fields that the route's
// authz.response_fields let through, for every method that filters its
// responses; filtered is false when some method's responses are not
// filtered (then the fields that come back are not known).
func listedPersonal(rt *config.Route) (props map[string]*exposed, filtered bool) {
	props = map[string]*exposed{}
	for _, m := range routeMethods(rt) {
		ff := responseFilter(rt, m)
		if ff.all {
			return nil, false
		}
		for f, roles := range ff.roles {
			k, ok := personalKind(f)
			if !ok || covered(rt.Protect, f) {
				continue
			}
			if props[f] == nil {
				props[f] = &exposed{kind: k}
			}
			props[f].add(roles)
		}
	}
	return props, true
}

func (r *run) dlpOff() {
	for i := range r.cfg.Routes {
		rt := &r.cfg.Routes[i]
		if rt.Protect != nil && rt.Protect.DLP != nil {
			continue
		}
		ptr := routePtr(i, "protect")
		f := findings.Finding{PathTemplate: rt.Path, Key: rt.Name}
		if r.spec != nil {
			props := r.responseProps(rt)
			if len(props) == 0 {
				continue
			}
			var names []string
			for _, n := range sortedKeys(props) {
				names = append(names, props[n].describe(n))
			}
			f.Message = fmt.Sprintf("%s has no protect.dlp, and its responses in %s carry personal data: %s.", routeName(i, rt), r.spec.Source, listOf(names, 4))
		} else if props, filtered := listedPersonal(rt); filtered {
			// authz.response_fields say which fields come back: the
			// path no longer matters, the names listed do.
			if len(props) == 0 {
				continue
			}
			var names []string
			for _, n := range sortedKeys(props) {
				names = append(names, props[n].describe(n))
			}
			f.Confidence = findings.Tentative
			f.Message = fmt.Sprintf("%s has no protect.dlp, and its authz.response_fields let personal data through: %s.", routeName(i, rt), listOf(names, 4))
		} else {
			word := personalWord(rt.Path)
			if word == "" {
				continue
			}
			f.Confidence = findings.Tentative
			f.Message = fmt.Sprintf("%s has no protect.dlp, and its path (/%s) suggests personal data in its responses.", routeName(i, rt), word)
		}
		r.add(RuleDLPOff, r.at(ptr), f)
	}
}

// personalWord is the first literal segment of a route path that names
// people, "" when none does.
func personalWord(path string) string {
	for _, s := range template(path, true) {
		if !s.param && !s.rest && slices.Contains(personalPathWords, s.lit) {
			return s.lit
		}
	}
	return ""
}

// writeOnly reports whether a property is never returned.
func writeOnly(s *openapi3.SchemaRef) bool { return s != nil && s.Value != nil && s.Value.WriteOnly }
