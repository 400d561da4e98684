package speclint

import (
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/rampart-gw/rampart/internal/dlp"
)

// schema walks a schema written at here (or at its $ref's target) and
// everything below it, once per schema and context.
func (r *run) schema(ref *openapi3.SchemaRef, here string, a about, c schemaCtx, depth int) {
	if ref == nil || ref.Value == nil || depth > maxDepth || r.valueBudget <= 0 {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	s := ref.Value
	k := visitKey{s, c}
	if r.visited[k] {
		return
	}
	r.visited[k] = true
	if ref.Ref != "" && !local(ref.Ref) {
		// kin-openapi may resolve each external $ref to its own copy:
		// report the referenced schema at the first $ref only.
		ek := extKey{ref.Ref, c}
		if r.external[ek] {
			return
		}
		r.external[ek] = true
	}
	r.valueBudget--
	r.ignore(ptr, s.Extensions)
	r.schemaRules(s, ptr, a)
	r.properties(s, ptr, a, c)
	r.values(s, ptr, a)
	r.subschemas(s, ptr, a, c, depth+1)
}

// schemaRules are the rules about one schema alone.
func (r *run) schemaRules(s *openapi3.Schema, ptr string, a about) {
	t := s.Type
	fixed := len(s.Enum) > 0 || s.Const != nil
	if t.Includes("array") && s.MaxItems == nil {
		r.report(&ruleArrayMaxItems, ptr, a, "", "Array schema without maxItems.")
	}
	if t.Includes("string") {
		if s.MaxLength == nil && !fixed {
			r.report(&ruleStringMaxLength, ptr, a, "", "String schema without maxLength, enum or const.")
		}
		if s.Format == "" && s.Pattern == "" && !fixed {
			r.report(&ruleStringFormat, ptr, a, "", "String schema without format, pattern, enum or const.")
		}
	}
	if t.Includes("integer") {
		lower := s.Min != nil || s.ExclusiveMin.Value != nil
		upper := s.Max != nil || s.ExclusiveMax.Value != nil
		if !lower || !upper {
			r.report(&ruleIntegerBounds, ptr, a, "", "Integer schema without %s.", cond(!lower && !upper, "minimum and maximum", cond(lower, "maximum", "minimum")))
		}
		if s.Format == "" {
			r.report(&ruleIntegerFormat, ptr, a, "", "Integer schema without format.")
		}
	}
	if t.Includes("object") {
		for _, kw := range []struct {
			name string
			b    openapi3.BoolSchema
		}{{"additionalProperties", s.AdditionalProperties}, {"unevaluatedProperties", s.UnevaluatedProperties}} {
			open := kw.b.Schema != nil || (kw.b.Has != nil && *kw.b.Has)
			if open {
				r.report(&ruleAdditionalProperties, ptr+"/"+kw.name, a, "", "Object schema allows %s.", kw.name)
			}
			if kw.b.Schema != nil && s.MaxProps == nil {
				r.report(&ruleAdditionalPropertiesBound, ptr, a, kw.name, "Object schema allows %s through a schema without maxProperties.", kw.name)
			}
		}
	}
}

// privileged are property names that grant privileges or value when a
// client may set them (normalized: lower case, no separators).
var privileged = map[string]bool{
	"role": true, "roles": true, "userrole": true, "admin": true, "isadmin": true, "superuser": true, "issuperuser": true,
	"staff": true, "isstaff": true, "owner": true, "ownerid": true, "permissions": true, "permission": true,
	"privileges": true, "privilege": true, "scopes": true, "groups": true, "balance": true, "accountbalance": true,
	"credit": true, "credits": true, "verified": true, "isverified": true, "emailverified": true, "approved": true,
	"isapproved": true, "accounttype": true, "usertype": true, "isroot": true, "tenantid": true, "discount": true,
}

// cardNames are names of payment-card and bank data, which the DLP
// vocabulary finds by value, not by name.
var cardNames = map[string]bool{
	"card": true, "cardnumber": true, "creditcard": true, "creditcardnumber": true, "ccnumber": true, "pan": true,
	"cvv": true, "cvc": true, "cvv2": true, "iban": true, "accountnumber": true, "bankaccount": true, "ssn": true,
}

// sensitiveName reports whether a property name names a secret or a
// personal datum: the DLP vocabulary (key-like names, SSNs) and cards.
func (r *run) sensitiveName(name string) bool {
	return r.secrets.NameSensitive(name) || cardNames[normalize(name)]
}

// properties runs the rules that depend on a property's name and where
// the schema is used.
func (r *run) properties(s *openapi3.Schema, ptr string, a about, c schemaCtx) {
	if c == anywhere {
		return
	}
	for _, name := range sortedKeys(s.Properties) {
		pref := s.Properties[name]
		if pref == nil || pref.Value == nil {
			continue
		}
		p := pref.Value
		at := ptrJoin(ptr, "properties", name)
		switch c {
		case inRequest:
			if privileged[normalize(name)] && !p.ReadOnly {
				r.report(&ruleMassAssignment, at, a, name, "Write requests accept the privileged property %s.", name)
			}
			if !p.ReadOnly && (urlName(name) || urlFormat(p)) {
				r.report(&ruleURLProperty, at, a, name, "Write requests take the URL property %s.", name)
			}
		case inResponse:
			if r.sensitiveName(name) && !p.WriteOnly && mayHoldScalar(p, 0) {
				r.report(&ruleSensitiveResponse, at, a, name, "%s declare the sensitive property %s.", cond(a.callback, "Callback or webhook payloads", "Responses"), name)
			}
		}
	}
}

// mayHoldScalar reports whether a schema's values may be a string or a
// number, where a secret or a personal datum is written: not when it (and
// every allOf member) is typed only boolean, object or array. A flag or a
// settings object named after a secret (has_strong_password,
// password_policy) is not one; an object's own properties are checked
// one by one. An untyped schema may hold anything.
func mayHoldScalar(s *openapi3.Schema, depth int) bool {
	if depth > 8 {
		return true
	}
	if s.Type != nil && len(*s.Type) > 0 {
		if s.Type.Includes("string") || s.Type.Includes("integer") || s.Type.Includes("number") {
			return true
		}
		// An array or a map of strings (recovery_codes, api_keys) holds
		// secrets as much as one string does.
		if s.Type.Includes("array") && s.Items != nil && s.Items.Value != nil && mayHoldScalar(s.Items.Value, depth+1) {
			return true
		}
		ap := s.AdditionalProperties.Schema
		return s.Type.Includes("object") && ap != nil && ap.Value != nil && mayHoldScalar(ap.Value, depth+1)
	}
	if len(s.AllOf) == 0 {
		return true
	}
	for _, m := range s.AllOf {
		if m != nil && m.Value != nil && !mayHoldScalar(m.Value, depth+1) {
			return false
		}
	}
	return true
}

// subschemas walks every schema below s.
func (r *run) subschemas(s *openapi3.Schema, ptr string, a about, c schemaCtx, depth int) {
	for _, name := range sortedKeys(s.Properties) {
		r.schema(s.Properties[name], ptrJoin(ptr, "properties", name), a, c, depth)
	}
	r.schema(s.Items, ptr+"/items", a, c, depth)
	r.schema(s.Not, ptr+"/not", a, c, depth)
	r.schema(s.AdditionalProperties.Schema, ptr+"/additionalProperties", a, c, depth)
	r.schema(s.UnevaluatedProperties.Schema, ptr+"/unevaluatedProperties", a, c, depth)
	r.schema(s.UnevaluatedItems.Schema, ptr+"/unevaluatedItems", a, c, depth)
	for _, l := range []struct {
		kw string
		rs openapi3.SchemaRefs
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}, {"prefixItems", s.PrefixItems}} {
		for i, sub := range l.rs {
			r.schema(sub, ptr+"/"+l.kw+"/"+strconv.Itoa(i), a, c, depth)
		}
	}
	for _, m := range []struct {
		kw string
		ss openapi3.Schemas
	}{{"patternProperties", s.PatternProperties}, {"dependentSchemas", s.DependentSchemas}, {"$defs", s.Defs}} {
		for _, n := range sortedKeys(m.ss) {
			r.schema(m.ss[n], ptrJoin(ptr, m.kw, n), a, c, depth)
		}
	}
	for _, one := range []struct {
		kw string
		rs *openapi3.SchemaRef
	}{{"if", s.If}, {"then", s.Then}, {"else", s.Else}, {"contains", s.Contains}, {"propertyNames", s.PropertyNames}, {"contentSchema", s.ContentSchema}} {
		r.schema(one.rs, ptr+"/"+one.kw, a, c, depth)
	}
}

// values checks the example and default values a schema holds.
func (r *run) values(s *openapi3.Schema, ptr string, a about) {
	name := lastToken(ptr)
	r.value(s.Example, ptr+"/example", name, a, 0)
	r.value(s.Default, ptr+"/default", name, a, 0)
	for i, e := range s.Examples {
		r.value(e, ptr+"/examples/"+strconv.Itoa(i), name, a, 0)
	}
}

// lastToken returns a pointer's last token, unescaped: the name a value
// belongs to.
func lastToken(ptr string) string {
	i := strings.LastIndexByte(ptr, '/')
	t := ptr[i+1:]
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

// value looks for credentials in an example value, a JSON value decoded
// by kin-openapi; name is the member name the value belongs to.
func (r *run) value(v any, ptr, name string, a about, depth int) {
	if depth > maxDepth || r.valueBudget <= 0 {
		return
	}
	r.valueBudget--
	switch t := v.(type) {
	case string:
		for _, f := range r.secrets.FindNamedString(name, t) {
			if f.Kind == dlp.Secret && placeholderSecret(t) {
				continue
			}
			r.report(&ruleExampleSecret, ptr, a, string(f.Kind), "An example holds what looks like a real credential (%s).", kindName(f.Kind))
			return
		}
	case map[string]any:
		for _, k := range sortedKeys(t) {
			r.value(t[k], ptrJoin(ptr, k), k, a, depth+1)
		}
	case []any:
		for i, e := range t {
			r.value(e, ptr+"/"+strconv.Itoa(i), name, a, depth+1)
		}
	}
}

// placeholderWords mark an example value as made up: a word of the
// value (letters between non-letters) equal to one of them.
var placeholderWords = map[string]bool{"test": true, "example": true, "sample": true, "dummy": true, "changeme": true, "placeholder": true, "redacted": true}

// testSeeds are published test vectors that examples copy: the RFC 4226
// and RFC 6238 HOTP/TOTP seed "12345678901234567890", plain and in
// base32.
var testSeeds = []string{"12345678901234567890", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"}

// placeholderSecret reports whether a value that the name-based secret
// detector matched is an obvious placeholder (Test!123, my-example-key)
// or a published test vector, not a credential someone pasted. It is
// asked only for that detector: a value with the structure of a real
// key (AWS, GitHub, a JWT, a private key) is reported whatever it says.
func placeholderSecret(v string) bool {
	for _, seed := range testSeeds {
		if strings.Contains(v, seed) {
			return true
		}
	}
	words := strings.FieldsFunc(strings.ToLower(v), func(c rune) bool { return c < 'a' || c > 'z' })
	return slices.ContainsFunc(words, func(w string) bool { return placeholderWords[w] })
}

func kindName(k dlp.Kind) string { return strings.ReplaceAll(string(k), "_", " ") }

// examples checks an example and a map of named examples written at ptr.
func (r *run) examples(ex any, exs openapi3.Examples, ptr string, a about) {
	r.value(ex, ptr+"/example", lastToken(ptr), a, 0)
	for _, n := range sortedKeys(exs) {
		r.exampleRef(exs[n], ptrJoin(ptr, "examples", n), a)
	}
}

func (r *run) exampleRef(ref *openapi3.ExampleRef, here string, a about) {
	if ref == nil || ref.Value == nil {
		return
	}
	if local(ref.Ref) {
		a = a.shared()
	}
	ptr := refAt(ref.Ref, here)
	r.ignore(ptr, ref.Value.Extensions)
	r.value(ref.Value.Value, ptr+"/value", "", a, 0)
}
