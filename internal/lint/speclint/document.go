package speclint

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

// environment is the Spectral OWASP ruleset's list of environment words
// (inventory-environment).
var environment = regexp.MustCompile(`(?i)(local|sandbox|alpha|beta|test|testing|stag|staging|prod|production|next|preprod|preproduction)`)

// servers checks server objects: plain http everywhere, and for the
// document's own servers their declared audience and environment.
func (r *run) servers(ss openapi3.Servers, base string, a about) {
	for i, s := range ss {
		if s == nil {
			continue
		}
		ptr := ptrJoin(base, strconv.Itoa(i))
		r.ignore(ptr, s.Extensions)
		if strings.HasPrefix(strings.ToLower(s.URL), "http:") {
			r.report(&ruleHTTPServer, ptr+"/url", a, "", "Server %s uses plain http.", s.URL)
		}
		if base != "/servers" {
			continue
		}
		if _, ok := s.Extensions["x-internal"]; !ok {
			r.report(&ruleServerAudience, ptr, a, "", "Server %s does not declare x-internal: true or false.", s.URL)
		}
		if !environment.MatchString(s.Description) {
			r.report(&ruleServerEnvironment, ptr, a, "", "Server %s does not name its environment in its description.", s.URL)
		}
	}
}

// securitySchemes checks each declared scheme and its OAuth 2 flows.
func (r *run) securitySchemes() {
	if r.doc.Components == nil {
		return
	}
	required := r.requiredScopes()
	for _, name := range sortedKeys(r.doc.Components.SecuritySchemes) {
		ref := r.doc.Components.SecuritySchemes[name]
		if ref == nil || ref.Value == nil {
			continue
		}
		ptr := refAt(ref.Ref, ptrJoin("/components/securitySchemes", name))
		s := ref.Value
		r.ignore(ptr, s.Extensions)
		r.scheme(name, s, ptr)
		if s.Type == "oauth2" && s.Flows != nil {
			r.flows(name, s.Flows, ptr+"/flows", required[name])
		}
	}
}

func (r *run) scheme(name string, s *openapi3.SecurityScheme, ptr string) {
	scheme := strings.ToLower(s.Scheme)
	switch {
	case s.Type == "http" && strings.Contains(scheme, "basic"):
		r.report(&ruleHTTPBasic, ptr+"/scheme", about{}, "", "Security scheme %s uses HTTP Basic.", name)
	case s.Type == "http" && (scheme == "negotiate" || scheme == "oauth"):
		r.report(&ruleInsecureScheme, ptr+"/scheme", about{}, "", "Security scheme %s uses the %s HTTP scheme.", name, s.Scheme)
	case s.Type == "apiKey" && (s.In == "query" || s.In == "path"):
		r.report(&ruleAPIKeyInURL, ptr+"/in", about{}, "", "Security scheme %s sends its API key in the %s.", name, s.In)
	}
	if s.Type == "oauth2" || strings.EqualFold(s.BearerFormat, "jwt") {
		d := strings.ReplaceAll(strings.ToUpper(s.Description), " ", "")
		if !strings.Contains(d, "RFC8725") {
			r.report(&ruleJWTBestPractices, ptr, about{}, "", "Security scheme %s does not say its JWTs follow RFC 8725.", name)
		}
	}
}

func (r *run) flows(name string, fs *openapi3.OAuthFlows, base string, required map[string]bool) {
	r.ignore(base, fs.Extensions)
	for _, f := range []struct {
		kind string
		flow *openapi3.OAuthFlow
	}{{"implicit", fs.Implicit}, {"password", fs.Password}, {"clientCredentials", fs.ClientCredentials}, {"authorizationCode", fs.AuthorizationCode}} {
		if f.flow == nil {
			continue
		}
		ptr := ptrJoin(base, f.kind)
		r.ignore(ptr, f.flow.Extensions)
		switch f.kind {
		case "implicit":
			r.report(&ruleOAuthImplicit, ptr, about{}, "", "Security scheme %s offers the OAuth 2 implicit flow.", name)
		case "password":
			r.report(&ruleOAuthPassword, ptr, about{}, "", "Security scheme %s offers the OAuth 2 password flow.", name)
		}
		if f.flow.RefreshURL == "" {
			r.report(&ruleShortLivedTokens, ptr, about{}, f.kind, "The %s flow of security scheme %s declares no refreshUrl.", f.kind, name)
		}
		for _, scope := range sortedKeys(f.flow.Scopes) {
			if !required[scope] {
				r.report(&ruleUnusedScope, ptrJoin(ptr, "scopes", scope), about{}, f.kind+" "+scope,
					"Scope %s of security scheme %s is required by no operation.", scope, name)
			}
		}
	}
}

// requiredScopes returns, per scheme, the scopes some security
// requirement (the document's or an operation's) asks for.
func (r *run) requiredScopes() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	add := func(reqs openapi3.SecurityRequirements) {
		for _, req := range reqs {
			for scheme, scopes := range req {
				if out[scheme] == nil {
					out[scheme] = map[string]bool{}
				}
				for _, s := range scopes {
					out[scheme][s] = true
				}
			}
		}
	}
	add(r.doc.Security)
	for _, op := range r.spec.Operations {
		if op.Op.Security != nil {
			add(*op.Op.Security)
		}
	}
	return out
}

// adminSecurity is Spectral's admin-security-unique: an operation under
// /admin whose own security requirement is also an own requirement of a
// non-admin operation.
func (r *run) adminSecurity() {
	ordinary := map[string]bool{}
	for _, op := range r.spec.Operations {
		if op.Op.Security == nil || strings.Contains(op.Path, "/admin") {
			continue
		}
		for _, req := range *op.Op.Security {
			ordinary[requirementKey(req)] = true
		}
	}
	for _, op := range r.spec.Operations {
		if op.Op.Security == nil || !strings.Contains(op.Path, "/admin") {
			continue
		}
		for i, req := range *op.Op.Security {
			if ordinary[requirementKey(req)] {
				r.report(&ruleAdminSecurity, ptrJoin(opPointer(op), "security", strconv.Itoa(i)), aboutOp(op), strconv.Itoa(i),
					"Admin operation %s %s has the same security requirement as a non-admin operation.", op.Method, op.Path)
			}
		}
	}
}

// requirementKey is a canonical form of one security requirement.
func requirementKey(req openapi3.SecurityRequirement) string {
	m := make(map[string][]string, len(req))
	for k, v := range req {
		s := slices.Clone(v)
		slices.Sort(s)
		m[k] = s
	}
	b, _ := json.Marshal(m) // a map of string slices always marshals
	return string(b)
}
