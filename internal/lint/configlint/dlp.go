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

// personalProps collects the personal-data property names of a schema,
// through properties, items, additionalProperties and allOf/anyOf/oneOf,
// each schema once.
func personalProps(s *openapi3.SchemaRef, seen map[*openapi3.Schema]bool, depth int, out map[string]dlp.Kind) {
	if s == nil || s.Value == nil || seen[s.Value] || depth > maxSchemaDepth {
		return
	}
	v := s.Value
	seen[v] = true
	for _, name := range sortedKeys(v.Properties) {
		if k, ok := personalKind(name); ok && !writeOnly(v.Properties[name]) {
			out[name] = k
		}
		personalProps(v.Properties[name], seen, depth+1, out)
	}
	personalProps(v.Items, seen, depth+1, out)
	personalProps(v.AdditionalProperties.Schema, seen, depth+1, out)
	for _, group := range []openapi3.SchemaRefs{v.AllOf, v.AnyOf, v.OneOf} {
		for _, c := range group {
			personalProps(c, seen, depth+1, out)
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

// responseProps returns the personal properties of the 2xx responses of
// the spec operations that routes[i] reaches, less those its protect
// fields cover.
func (r *run) responseProps(rt *config.Route) map[string]dlp.Kind {
	out := map[string]dlp.Kind{}
	tmpl := template(rt.Path, r.cfg.Paths.CaseInsensitive)
	methods := routeMethods(rt)
	for _, so := range r.specOps() {
		if !slices.Contains(methods, so.op.Method) || !matches(tmpl, so.tmpl, false) || so.op.Op.Responses == nil {
			continue
		}
		for code, resp := range so.op.Op.Responses.Map() {
			if !strings.HasPrefix(code, "2") || resp == nil || resp.Value == nil {
				continue
			}
			for _, mt := range resp.Value.Content {
				if mt != nil {
					personalProps(mt.Schema, map[*openapi3.Schema]bool{}, 0, out)
				}
			}
		}
	}
	for name := range out {
		if covered(rt.Protect, name) {
			delete(out, name)
		}
	}
	return out
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
				names = append(names, fmt.Sprintf("%s (%s)", n, props[n]))
			}
			f.Message = fmt.Sprintf("%s has no protect.dlp, and its responses in %s carry personal data: %s.", routeName(i, rt), r.spec.Source, listOf(names, 4))
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
