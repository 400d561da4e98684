package speclint

import "github.com/rampart-gw/rampart/internal/findings"

// rulePrefix starts every rule id of this checker.
const rulePrefix = "rampart.lint.spec."

// rule is one check: its description in the shared vocabulary, the
// Spectral OWASP ruleset (v2) codes it covers, and how sure its findings
// are.
type rule struct {
	findings.Rule
	// Spectral lists the @stoplight/spectral-owasp-ruleset codes this rule
	// corresponds to; none for rules of our own.
	Spectral []string
	// Confidence is what its findings carry: Certain when the finding
	// only restates what the document says (a missing field), Firm when
	// it rests on a name or a heuristic.
	Confidence findings.Confidence
}

func r(short, name, owasp string, sev findings.Severity, conf findings.Confidence, desc, help string, spectral ...string) rule {
	return rule{Rule: findings.Rule{ID: rulePrefix + short, Name: name, Description: desc, Help: help, OWASP: owasp, Severity: sev},
		Spectral: spectral, Confidence: conf}
}

const (
	certain = findings.Certain
	firm    = findings.Firm
)

// The rules, grouped by OWASP API Security Top 10 (2023) category. Each
// variable is the rule's short name; its id is rulePrefix + the name.
var (
	// API1 Broken Object Level Authorization.
	ruleNumericID = r("numeric-id", "Numeric resource id", "API1:2023", findings.Medium, certain,
		"A parameter named id (or ending in _id, -id, Id) is an integer, so ids can be guessed and enumerated.",
		"Use random ids that cannot be guessed (type: string, format: uuid).",
		"owasp:api1:2023-no-numeric-ids")
	ruleBOLASurface = r("bola-surface", "Object id without 403/404", "API1:2023", findings.Medium, firm,
		"An operation takes an object id in its path but declares neither 403 nor 404 (nor 4XX): nothing says what happens when the caller asks for someone else's object.",
		"Check object ownership and declare the 403 or 404 answer for objects the caller may not see.")

	// API2 Broken Authentication.
	ruleHTTPBasic = r("http-basic", "HTTP Basic authentication", "API2:2023", findings.Medium, certain,
		"A security scheme uses HTTP Basic: a reusable password travels with every request.",
		"Use OAuth 2 or OpenID Connect tokens (type: oauth2 / openIdConnect, or http bearer).",
		"owasp:api2:2023-no-http-basic")
	ruleAPIKeyInURL = r("api-key-in-url", "API key in the URL", "API2:2023", findings.High, certain,
		"An apiKey security scheme is sent in the query or the path, where proxies, logs and browser history keep it.",
		"Send the key in a header (in: header).",
		"owasp:api2:2023-no-api-keys-in-url")
	ruleCredentialInURL = r("credential-in-url", "Credential in a URL parameter", "API2:2023", findings.High, firm,
		"A query or path parameter is named like a credential (token, password, secret, api key, client secret).",
		"Move the credential to a header or the request body.",
		"owasp:api2:2023-no-credentials-in-url")
	ruleInsecureScheme = r("insecure-auth-scheme", "Insecure HTTP authentication scheme", "API2:2023", findings.High, certain,
		"An http security scheme uses Negotiate (NTLM/Kerberos negotiation) or OAuth 1, which are outdated or easy to misuse.",
		"Use OAuth 2 / OpenID Connect bearer tokens.",
		"owasp:api2:2023-auth-insecure-schemes")
	ruleJWTBestPractices = r("jwt-best-practices", "JWT scheme without RFC 8725", "API2:2023", findings.Low, certain,
		"An oauth2 scheme, or a bearer scheme with bearerFormat JWT, does not say in its description that its tokens follow RFC 8725 (JWT best current practices: fixed algorithms, no alg none, audience and issuer checked).",
		"Validate tokens per RFC 8725 and say so in the scheme's description.",
		"owasp:api2:2023-jwt-best-practices")
	ruleShortLivedTokens = r("short-lived-tokens", "OAuth flow without refresh tokens", "API2:2023", findings.Low, certain,
		"An OAuth 2 flow declares no refreshUrl, which suggests its access tokens are long-lived.",
		"Issue short-lived access tokens with refresh tokens and declare the flow's refreshUrl.",
		"owasp:api2:2023-short-lived-access-tokens")
	ruleWriteUnauthenticated = r("write-unauthenticated", "Write operation without security", "API2:2023", findings.High, certain,
		"A POST, PUT, PATCH or DELETE operation has no security requirement (none, an empty list, or an anonymous {} alternative), so anyone can call it.",
		"Add a security requirement to the operation or the document.",
		"owasp:api2:2023-write-restricted")
	ruleReadUnauthenticated = r("read-unauthenticated", "Read operation without security", "API2:2023", findings.Medium, certain,
		"A GET or HEAD operation has no security requirement (none or an empty list), so anyone can read it.",
		"Add a security requirement, or mark a deliberately public operation with x-rampart-lint-ignore.",
		"owasp:api2:2023-read-restricted")
	ruleOAuthImplicit = r("oauth-implicit", "OAuth 2 implicit flow", "API2:2023", findings.High, certain,
		"An OAuth 2 scheme offers the implicit flow, which returns tokens in the URL fragment and is deprecated by the OAuth 2.0 Security BCP (RFC 9700).",
		"Use the authorization code flow with PKCE.")
	ruleOAuthPassword = r("oauth-password", "OAuth 2 password flow", "API2:2023", findings.High, certain,
		"An OAuth 2 scheme offers the resource owner password credentials flow, which hands the user's password to the client and is forbidden by the OAuth 2.0 Security BCP (RFC 9700).",
		"Use the authorization code flow with PKCE (or client credentials between services).")

	// API3 Broken Object Property Level Authorization.
	ruleAdditionalProperties = r("additional-properties", "Open object schema", "API3:2023", findings.Medium, certain,
		"An object schema sets additionalProperties (or unevaluatedProperties) to true or to a schema, so clients can send properties nobody reviewed (mass assignment).",
		"Set additionalProperties: false (unevaluatedProperties: false with allOf in 3.1).",
		"owasp:api3:2023-no-additionalProperties", "owasp:api3:2023-no-unevaluatedProperties")
	ruleAdditionalPropertiesBound = r("additional-properties-bound", "Unbounded additional properties", "API3:2023", findings.Low, certain,
		"An object schema allows additional (or unevaluated) properties through a schema but sets no maxProperties.",
		"Add maxProperties, or set additionalProperties: false.",
		"owasp:api3:2023-constrained-additionalProperties", "owasp:api3:2023-constrained-unevaluatedProperties")
	ruleMassAssignment = r("mass-assignment", "Privileged property in a write request", "API3:2023", findings.High, firm,
		"A POST, PUT or PATCH request body accepts a property that grants privileges or value (role, admin, is_admin, owner, permissions, balance, ...) and is not readOnly.",
		"Remove the property from the request schema (or mark it readOnly) and set it on the server.")
	ruleSensitiveResponse = r("sensitive-response", "Sensitive property in a response", "API3:2023", findings.High, firm,
		"A response schema, or the payload of a callback or webhook (data the API sends out), declares a property named like a secret or personal datum (password, secret, token, ssn, card number, ...) that is not writeOnly and may hold a string or a number (a boolean flag or an object named after a secret, such as has_strong_password or password_policy, is not one; an object's own properties are checked one by one).",
		"Drop the property from responses, or mark it writeOnly if clients only send it.")

	// API4 Unrestricted Resource Consumption.
	ruleRateLimitHeaders = r("rate-limit-headers", "No rate-limit headers", "API4:2023", findings.Low, certain,
		"A 2XX or 4XX response declares none of the rate-limit header sets (RateLimit; RateLimit-Limit and RateLimit-Reset; X-RateLimit-Limit; X-Rate-Limit-Limit).",
		"Enforce a rate limit and declare its headers (Rampart's ratelimit stage sends RateLimit-*).",
		"owasp:api4:2023-rate-limit")
	ruleRetryAfter = r("retry-after", "429 without Retry-After", "API4:2023", findings.Low, certain,
		"A 429 response declares no Retry-After header, so clients cannot back off politely.",
		"Declare Retry-After on 429 responses.",
		"owasp:api4:2023-rate-limit-retry-after")
	ruleResponse429 = r("response-429", "No 429 response", "API4:2023", findings.Low, certain,
		"An operation declares no 429 Too Many Requests response (or one without content), which suggests no rate limit.",
		"Rate-limit the operation and declare its 429 response with a body.",
		"owasp:api4:2023-rate-limit-responses-429")
	ruleArrayMaxItems = r("array-max-items", "Array without maxItems", "API4:2023", findings.Low, certain,
		"An array schema sets no maxItems, so a request or response may hold any number of items.",
		"Add maxItems.",
		"owasp:api4:2023-array-limit")
	ruleStringMaxLength = r("string-max-length", "String without maxLength", "API4:2023", findings.Low, certain,
		"A string schema sets neither maxLength nor enum nor const.",
		"Add maxLength (or enum/const).",
		"owasp:api4:2023-string-limit")
	ruleStringFormat = r("string-format", "String without format or pattern", "API4:2023", findings.Info, certain,
		"A string schema sets none of format, pattern, enum or const, so any text is accepted.",
		"Add a format, a pattern, an enum or a const.",
		"owasp:api4:2023-string-restricted")
	ruleIntegerBounds = r("integer-bounds", "Integer without minimum and maximum", "API4:2023", findings.Low, certain,
		"An integer schema lacks a lower bound (minimum or exclusiveMinimum) or an upper bound (maximum or exclusiveMaximum).",
		"Add minimum and maximum.",
		"owasp:api4:2023-integer-limit", "owasp:api4:2023-integer-limit-legacy")
	ruleIntegerFormat = r("integer-format", "Integer without format", "API4:2023", findings.Info, certain,
		"An integer schema sets no format (int32 or int64).",
		"Add format: int32 or int64.",
		"owasp:api4:2023-integer-format")
	rulePagination = r("pagination-limit", "Unbounded page size", "API4:2023", findings.Medium, firm,
		"A query parameter that sets a page size (limit, page_size, per_page, ...) has no maximum, so one request can ask for the whole collection.",
		"Add a maximum to the parameter's schema and enforce it.")
	ruleUploadBounds = r("upload-bounds", "Unbounded file upload", "API4:2023", findings.Medium, firm,
		"A request body takes a file (binary or base64 content, octet-stream, multipart part) without a size bound (maxLength) or without a type bound (a specific media type or encoding contentType).",
		"Bound the upload's size with maxLength and its type with a specific media type (or encoding.contentType for multipart parts).")

	// API5 Broken Function Level Authorization.
	ruleAdminSecurity = r("admin-security-shared", "Admin operation with ordinary security", "API5:2023", findings.Medium, firm,
		"An operation under /admin has a security requirement that a non-admin operation has too, so the same credentials open both.",
		"Give admin operations their own scheme or scopes.",
		"owasp:api5:2023-admin-security-unique")
	ruleUnusedScope = r("unused-scope", "Scope never required", "API5:2023", findings.Low, certain,
		"An OAuth 2 flow declares a scope that no security requirement asks for: tokens carry a privilege no operation checks, or an operation forgot to require it.",
		"Require the scope where it applies, or remove it from the flow.")
	ruleWeakerSibling = r("weaker-sibling", "Weaker security than its siblings", "API5:2023", findings.High, firm,
		"An operation's effective security (its own security, or the document's; security: [] or an empty {} alternative is anonymous) is strictly weaker than a sibling's on the same path: whatever satisfies the sibling satisfies it (every alternative of the sibling includes one of its alternatives, with the same schemes and at least its scopes), and something less does too. "+
			"It is reported only where the two should match: the operation allows anonymous access and the sibling requires credentials; or the operation writes (POST, PUT, PATCH, DELETE) and the sibling reads (GET, HEAD); or both read (GET and HEAD) or both update (PUT and PATCH). "+
			"Requirements that differ without one including the other (users:read for GET, users:admin for DELETE) are not weaker, nor is a read that needs less than a write, or a POST or DELETE that needs less than another write, and an anonymous OPTIONS is never reported (CORS preflights carry no credentials).",
		"Give the operation the same security as its siblings, or mark a deliberate exception with x-rampart-lint-ignore.")

	// API7 Server Side Request Forgery.
	ruleURLParameter = r("url-parameter", "URL parameter (SSRF surface)", "API7:2023", findings.Low, firm,
		"A parameter takes a URL (named callback..., redirect..., ..._url, url, webhook, or format uri/url): if the server fetches or redirects to it, it can be pointed at internal hosts.",
		"Validate the URL against an allow-list of hosts and schemes before fetching it; never follow it to private addresses.",
		"owasp:api7:2023-concerning-url-parameter")
	ruleURLProperty = r("url-property", "URL property in a request (SSRF surface)", "API7:2023", findings.Low, firm,
		"A request body property takes a URL (format uri/url, or named url, callback, webhook, ..._url): if the server fetches it, it can be pointed at internal hosts.",
		"Validate the URL against an allow-list of hosts and schemes before fetching it; never follow it to private addresses.")

	// API8 Security Misconfiguration.
	ruleCORSOrigin = r("cors-origin", "No CORS origin header", "API8:2023", findings.Info, certain,
		"A response declares headers but not Access-Control-Allow-Origin, so its CORS policy is unstated.",
		"Declare Access-Control-Allow-Origin with the allowed origins (Rampart's cors section sets it).",
		"owasp:api8:2023-define-cors-origin")
	ruleHTTPServer = r("http-server", "Plain-HTTP server", "API8:2023", findings.High, certain,
		"A server URL uses http://, so traffic (credentials included) can be read and changed on the way.",
		"Serve the API over https:// (or wss://) only.",
		"owasp:api8:2023-no-server-http", "owasp:api8:2023-no-scheme-http")
	ruleResponse400 = r("response-400", "No validation error response", "API8:2023", findings.Low, certain,
		"An operation declares none of 400, 422 or 4XX, so how invalid input is answered is unstated.",
		"Declare a 400 (or 422) response with a problem+json body.",
		"owasp:api8:2023-define-error-validation")
	ruleResponse401 = r("response-401", "No 401 response", "API8:2023", findings.Low, certain,
		"An operation declares no 401 response (or one without content).",
		"Declare a 401 response with a problem+json body.",
		"owasp:api8:2023-define-error-responses-401")
	ruleResponse500 = r("response-500", "No 500 response", "API8:2023", findings.Low, certain,
		"An operation declares no 500 response (or one without content), so error bodies are unconstrained and may leak internals.",
		"Declare a 500 response with a problem+json body.",
		"owasp:api8:2023-define-error-responses-500")
	ruleExampleSecret = r("example-secret", "Secret in an example", "API8:2023", findings.High, firm,
		"An example or default value holds what looks like a real credential (a private key, a cloud or SaaS token, a JWT, a high-entropy secret after a key-like name). A value after a key-like name that holds a placeholder word (test, example, sample, dummy, changeme, placeholder, redacted) or the RFC 4226/6238 test seed is taken as made up.",
		"Replace the value with a placeholder and revoke the credential if it was real.")

	// API9 Improper Inventory Management.
	ruleServerAudience = r("server-audience", "Server audience undeclared", "API9:2023", findings.Info, certain,
		"A server does not say whether it is internal or public (x-internal: true or false).",
		"Add x-internal: true or false to each server.",
		"owasp:api9:2023-inventory-access")
	ruleServerEnvironment = r("server-environment", "Server environment undeclared", "API9:2023", findings.Info, certain,
		"A server's description does not name its environment (local, sandbox, test, staging, production, ...).",
		"Name the environment in each server's description.",
		"owasp:api9:2023-inventory-environment")
	ruleDeprecated = r("deprecated-operation", "Deprecated operation still served", "API9:2023", findings.Low, certain,
		"An operation is marked deprecated but is still in the document, so it is still served and must still be secured.",
		"Retire the operation (remove it and block it at the gateway) on a published date.")
)

// allRules lists every rule in a stable order.
var allRules = []*rule{
	&ruleNumericID, &ruleBOLASurface,
	&ruleHTTPBasic, &ruleAPIKeyInURL, &ruleCredentialInURL, &ruleInsecureScheme, &ruleJWTBestPractices,
	&ruleShortLivedTokens, &ruleWriteUnauthenticated, &ruleReadUnauthenticated, &ruleOAuthImplicit, &ruleOAuthPassword,
	&ruleAdditionalProperties, &ruleAdditionalPropertiesBound, &ruleMassAssignment, &ruleSensitiveResponse,
	&ruleRateLimitHeaders, &ruleRetryAfter, &ruleResponse429, &ruleArrayMaxItems, &ruleStringMaxLength,
	&ruleStringFormat, &ruleIntegerBounds, &ruleIntegerFormat, &rulePagination, &ruleUploadBounds,
	&ruleAdminSecurity, &ruleUnusedScope, &ruleWeakerSibling,
	&ruleURLParameter, &ruleURLProperty,
	&ruleCORSOrigin, &ruleHTTPServer, &ruleResponse400, &ruleResponse401, &ruleResponse500, &ruleExampleSecret,
	&ruleServerAudience, &ruleServerEnvironment, &ruleDeprecated,
}

// SpectralEquivalents returns, for every rule code of the Spectral OWASP
// ruleset v2 (@stoplight/spectral-owasp-ruleset 2.0.1), the id of the rule
// here that covers it. Every code is present; several codes may map to
// one rule (the 3.0 and 3.1 variants of one check). The map is a fresh
// copy on each call.
func SpectralEquivalents() map[string]string {
	m := make(map[string]string, 32)
	for _, ru := range allRules {
		for _, code := range ru.Spectral {
			m[code] = ru.ID
		}
	}
	return m
}

// ruleByID returns the rule with the given id.
func ruleByID(id string) (*rule, bool) {
	for _, ru := range allRules {
		if ru.ID == id {
			return ru, true
		}
	}
	return nil, false
}
