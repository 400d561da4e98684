package configlint

import (
	"github.com/rampart-gw/rampart/internal/findings"
)

// The rule ids.
const (
	RulePublicWrite       = Prefix + "public-write"
	RuleNoRateLimit       = Prefix + "no-rate-limit"
	RuleFailOpen          = Prefix + "fail-open"
	RulePlaintextListener = Prefix + "plaintext-listener"
	RulePlaintextUpstream = Prefix + "plaintext-upstream"
	RuleAdminPublic       = Prefix + "admin-public"
	RuleAuditOff          = Prefix + "audit-off"
	RuleAuditNotSynced    = Prefix + "audit-not-synced"
	RuleDLPOff            = Prefix + "dlp-off"
	RuleAudienceMissing   = Prefix + "audience-missing"
	RuleLongTokenTTL      = Prefix + "long-token-ttl"
	RuleSpecUncovered     = Prefix + "spec-uncovered"
	RuleWeakerThanSpec    = Prefix + "weaker-than-spec"
	RuleNotInSpec         = Prefix + "not-in-spec"
)

var rules = []findings.Rule{
	{ID: RulePublicWrite, Name: "Public route that writes", Severity: findings.High, OWASP: "API2:2023",
		Description: "A route with public: true accepts POST, PUT, PATCH or DELETE: anyone may change data without a credential.",
		Help:        "Drop public: true and name the route's authenticators in auth with an authz rule, or split the writing methods into an authenticated route."},
	{ID: RuleNoRateLimit, Name: "Route without rate limit", Severity: findings.Medium, OWASP: "API4:2023",
		Description: "No rate limit, quota or concurrency limit applies to a route: not its own limits, not limits.pre_auth, and (for an authenticated route) no plan that matches every identity.",
		Help:        "Add limits.pre_auth (per client IP), a last plan without roles, or routes[].limits.rates."},
	{ID: RuleFailOpen, Name: "Limits fail open on a sensitive route", Severity: findings.High, OWASP: "API4:2023",
		Description: "The Redis limits back end fails open (on_backend_error: open) on a route that writes or needs authentication: while Redis is down, its limits admit everything.",
		Help:        "Set on_backend_error: closed (the default) on the route, or on limits for every route."},
	{ID: RulePlaintextListener, Name: "Plaintext listener on a network address", Severity: findings.Medium, OWASP: "API8:2023",
		Description: "A listener serves HTTP without TLS (plaintext: true) on an address other than loopback: credentials and data cross the network in clear unless a load balancer in front terminates TLS.",
		Help:        "Serve tls on the listener, make it redirect_to_https, or bind it to 127.0.0.1 behind the TLS-terminating proxy."},
	{ID: RulePlaintextUpstream, Name: "Plaintext upstream on the network", Severity: findings.Medium, OWASP: "API8:2023",
		Description: "An upstream is reached over http:// on a host other than loopback: every forwarded credential, identity token and response crosses the network in clear.",
		Help:        "Use an https:// upstream URL, with upstreams.NAME.tls.ca_file for a private CA."},
	{ID: RuleAdminPublic, Name: "Admin listener on a public address", Severity: findings.High, OWASP: "API8:2023",
		Description: "The admin listener (metrics, bans, keys, the encryption API) is enabled on an address other than loopback (allow_remote: true): only the admin token stands between the network and it.",
		Help:        "Bind admin.address to 127.0.0.1 and reach it through an SSH tunnel or a private network, or set admin.disabled: true."},
	{ID: RuleAuditOff, Name: "Audit log off", Severity: findings.Medium, OWASP: "API8:2023",
		Description: "The tamper-evident audit log is off (audit.enabled is false): requests, refusals and anomalies leave no verifiable record.",
		Help:        "Set audit.enabled: true (and sync: true when routes write)."},
	{ID: RuleAuditNotSynced, Name: "Audit log not synced on writes", Severity: findings.Low, OWASP: "API8:2023",
		Description: "The audit log is on without sync while routes write: a crash can lose the events of writes whose responses the clients already have.",
		Help:        "Set audit.sync: true, so that every answered request's event is on disk first."},
	{ID: RuleDLPOff, Name: "DLP off where personal data comes back", Severity: findings.Medium, OWASP: "API3:2023",
		Description: "A route whose responses hold personal data (with a spec: response properties such as email, phone, ssn, card or iban that no protect field covers and that authz.response_fields let some role see; without one: the personal field names that response_fields list, or, where a method's responses are not filtered, a path under /users, /accounts, /customers and the like) has no protect.dlp.",
		Help:        "Add protect: {dlp: {action: mask}} to the route (or encrypt the fields with protect.fields)."},
	{ID: RuleAudienceMissing, Name: "Token issuer without audience", Severity: findings.Medium, OWASP: "API2:2023",
		Description: "An introspection authenticator checks no audience: a token the authorization server issued for any other API is accepted here.",
		Help:        "List the audiences of this API in authn.introspection[].audiences (and set issuer)."},
	{ID: RuleLongTokenTTL, Name: "Long token lifetime", Severity: findings.Low, OWASP: "API2:2023",
		Description: "A token lives longer than the bound: token_server.ttl above 15m, identity_token.ttl above 5m, or authn.introspection[].cache_ttl (how long a revoked token keeps working) above 5m.",
		Help:        "Shorten the ttl: clients fetch a new token, and a leaked or revoked one is soon worthless."},
	{ID: RuleSpecUncovered, Name: "Spec operation no route serves", Severity: findings.Low, OWASP: "API9:2023",
		Description: "An operation of the OpenAPI spec matches no route (path and method): clients following the spec get 404 or 405, and the inventory of the spec and the gateway has drifted.",
		Help:        "Add a route for the operation, or remove the operation from the spec."},
	{ID: RuleWeakerThanSpec, Name: "Route weaker than the spec's security", Severity: findings.High, OWASP: "API5:2023",
		Description: "A route serves a spec operation (of the spec given to lint, or of the one the route's openapi block names) with less than the spec's security: it is public where the spec requires credentials, or it does not require the scopes that the spec's requirement names.",
		Help:        "Make the route require what the spec says: drop public: true and add auth, or list the spec's scopes in authz.scopes."},
	{ID: RuleNotInSpec, Name: "Route exposes what the spec does not have", Severity: findings.Medium, OWASP: "API9:2023",
		Description: "A route's path and method match no operation of the spec: the gateway exposes an endpoint that the API's contract does not document (shadow API). For a route with an openapi block, compared with its own spec: the method matches no operation of it, or not the one openapi.operation names, so the block refuses every such request.",
		Help:        "Remove the method from the route, or document the operation in the spec."},
}

// ruleFor returns the rule with the given id; the zero Rule for another.
func ruleFor(id string) findings.Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	return findings.Rule{}
}
