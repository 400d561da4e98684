package config

// This file holds the data-only types of rampart.yaml. The doc comment of
// each field is its user documentation: `rampart config schema` and the
// committed docs/rampart.schema.json are generated from it, so say what the
// field does, its default and its unit.

// Config is the root of rampart.yaml.
type Config struct {
	// Version of the configuration format. Must be 1.
	Version int `yaml:"version"`
	// DataDir holds state that Rampart generates: the development CA and its
	// certificates, the admin token. Default "rampart-data", relative to the
	// working directory.
	DataDir string `yaml:"data_dir" reload:"restart"`
	// Listeners are the public addresses the gateway serves. At least one is
	// required.
	Listeners []Listener `yaml:"listeners" reload:"restart"`
	// Admin is the separate management listener: metrics, health and, later,
	// the management API.
	Admin Admin `yaml:"admin" reload:"restart"`
	// Server holds size limits and timeouts that apply to every listener.
	Server Server `yaml:"server" reload:"restart"`
	// Client decides who the client is: its real IP and the request id.
	Client Client `yaml:"client"`
	// Headers are the security headers added to and removed from every
	// response.
	Headers Headers `yaml:"headers"`
	// AccessLog is the structured record written for every request.
	AccessLog AccessLog `yaml:"access_log" reload:"restart"`
	// Upstreams are the APIs behind the gateway, by name.
	Upstreams map[string]Upstream `yaml:"upstreams"`
	// Routes map requests to upstreams. A request that matches no route is
	// refused with 404.
	Routes []Route `yaml:"routes"`
	// Paths sets how request paths are matched.
	Paths Paths `yaml:"paths"`
	// Store is where API keys (and later OAuth clients and signing keys)
	// live.
	Store Store `yaml:"store" reload:"restart"`

	// Redis is the server a cluster of gateways shares for rate-limit
	// counters and bans (limits.backend and firewall.bans.backend redis).
	Redis *Redis `yaml:"redis" reload:"restart"`

	// Firewall admits or refuses clients by network before anything else
	// is done for them: CIDR allow and deny lists and dynamic bans.
	Firewall Firewall `yaml:"firewall"`
	// WAF holds what every route's waf block starts from: the Coraza web
	// application firewall with the OWASP Core Rule Set embedded. This
	// section alone turns nothing on; a route's waf block does.
	WAF WAF `yaml:"waf"`
	// Authn declares the authenticators that routes name in their auth
	// list.
	Authn Authn `yaml:"authn"`
	// Authz holds what every route's authorization rules share: which
	// permissions roles and groups grant.
	Authz Permissions `yaml:"authz"`
	// TokenServer is Rampart's own OAuth2 token endpoint for the
	// client-credentials grant: API keys are the clients.
	TokenServer TokenServer `yaml:"token_server" reload:"restart"`
	// IdentityToken has Rampart sign a short-lived JWT of every
	// authenticated identity for the upstream, so that the upstream can
	// verify whom the gateway let through instead of trusting plain
	// headers.
	IdentityToken IdentityToken `yaml:"identity_token" reload:"restart"`
	// Limits holds what every route's rate limits share: the counter
	// back end, failure behaviour, headers, the pre-authentication limit by
	// client IP, and plans (tiers of limits assigned by role).
	Limits Limits `yaml:"limits"`
	// Protect configures envelope encryption (the key-encryption key and
	// the per-subject data keys), the bounds of the bodies the protect
	// stage reads, log redaction and the encryption API.
	Protect Protect `yaml:"protect"`
	// Audit is the tamper-evident audit log: one event per request,
	// hash-chained, with signed Merkle checkpoints.
	Audit Audit `yaml:"audit" reload:"restart"`
}

// Listener is one public address of the gateway.
type Listener struct {
	// Name identifies the listener in logs and metrics. Default "listener-N".
	Name string `yaml:"name"`
	// Address is host:port to listen on, such as "0.0.0.0:8443". Required.
	Address string `yaml:"address"`
	// TLS serves HTTPS. Required unless plaintext or redirect_to_https is set.
	TLS *TLS `yaml:"tls"`
	// Plaintext serves HTTP without TLS, for a gateway behind a load balancer
	// that terminates TLS. An explicit opt-in; never the default.
	Plaintext bool `yaml:"plaintext"`
	// RedirectToHTTPS makes a plaintext listener that answers every request
	// with a redirect to the same path on HTTPS (308), and nothing else.
	RedirectToHTTPS bool `yaml:"redirect_to_https"`
	// HTTPSPort is the port redirects point to. Default: the port of the
	// first TLS listener.
	HTTPSPort int `yaml:"https_port"`
	// DisableHTTP2 turns HTTP/2 off on a TLS listener. Default false: HTTP/2
	// is negotiated through ALPN.
	DisableHTTP2 bool `yaml:"disable_http2"`
}

// TLS configures a server certificate. With neither cert_file nor acme, a
// self-signed development CA is generated in data_dir and a certificate for
// the listener's host is issued from it (config validate warns).
type TLS struct {
	// CertFile is a PEM certificate chain. Reloaded when the file changes.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of cert_file.
	KeyFile string `yaml:"key_file"`
	// MinVersion is "1.2" or "1.3". Default "1.2". Only AEAD cipher suites
	// with forward secrecy are ever offered.
	MinVersion string `yaml:"min_version"`
	// Hosts are the names the development certificate is issued for.
	// Default: localhost, 127.0.0.1 and ::1.
	Hosts []string `yaml:"hosts"`
	// ReloadInterval is how often cert_file and key_file are checked for
	// changes. Default 10s.
	ReloadInterval Duration `yaml:"reload_interval"`
	// ACME obtains and renews certificates automatically from an ACME CA
	// (RFC 8555) such as Let's Encrypt, instead of cert_file.
	ACME *ACME `yaml:"acme"`
	// ClientAuth asks clients for certificates (mTLS), verified against
	// ca_file; routes turn them into identities with an mtls
	// authenticator.
	ClientAuth *ClientAuth `yaml:"client_auth"`
}

// ACME configures automatic certificates. Challenges are answered with
// TLS-ALPN-01 (RFC 8737) on the listener itself, so the listener must be
// reachable by the CA on port 443.
type ACME struct {
	// Directory is the CA's ACME directory URL. Default Let's Encrypt's
	// production directory.
	Directory string `yaml:"directory"`
	// Email is the account's contact address. Required.
	Email string `yaml:"email"`
	// Domains are the host names to obtain certificates for. Required.
	Domains []string `yaml:"domains"`
	// AcceptTerms agrees to the CA's subscriber agreement. Must be true.
	AcceptTerms bool `yaml:"accept_terms"`
	// CAFile is a PEM bundle that signs the ACME server's own HTTPS
	// certificate, for a private ACME CA. Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// AltTLSALPNPort is the local port of this listener when a port mapping
	// forwards the CA's connections to port 443 here (for example 8443).
	// Default 443.
	AltTLSALPNPort int `yaml:"alt_tls_alpn_port"`
}

// ClientAuth configures client certificates on a listener.
type ClientAuth struct {
	// CAFile is a PEM bundle of the CAs that sign client certificates.
	// Required.
	CAFile string `yaml:"ca_file"`
	// Mode is "optional" (default: a certificate is verified if presented,
	// and routes decide whether they need one) or "required" (the
	// handshake fails without a valid one).
	Mode string `yaml:"mode"`
}

// Admin is the management listener. It binds to loopback by default and
// every request to it needs the admin token.
type Admin struct {
	// Address is host:port. Default "127.0.0.1:9443". A non-loopback address
	// needs allow_remote.
	Address string `yaml:"address"`
	// Disabled turns the admin listener off.
	Disabled bool `yaml:"disabled"`
	// AllowRemote permits a non-loopback address.
	AllowRemote bool `yaml:"allow_remote"`
	// TokenFile holds the admin token. Default data_dir/admin-token,
	// generated with mode 0600 when missing.
	TokenFile string `yaml:"token_file"`
	// TLS of the admin listener. Default: a certificate from the
	// development CA.
	TLS *TLS `yaml:"tls"`
}

// Server holds limits and timeouts that apply to every listener.
type Server struct {
	// MaxHeaderBytes bounds the request line and headers; more is refused
	// with 431. Default 32KiB.
	MaxHeaderBytes ByteSize `yaml:"max_header_bytes"`
	// MaxBodyBytes bounds a request body; more is refused with 413.
	// Default 10MiB.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxResponseBodyBytes bounds a response body that a stage must see
	// whole (field decryption, masking, DLP); a larger one is refused with
	// 502. Responses no stage inspects stream unbounded. Default 10MiB.
	MaxResponseBodyBytes ByteSize `yaml:"max_response_body_bytes"`
	// ReadHeaderTimeout bounds reading the request headers. Default 10s.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading the whole request, body included.
	// Default 60s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing the response. Default 60s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// ShutdownTimeout is how long in-flight requests may finish on
	// shutdown. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
}

// Client decides the client's identity at the network level.
type Client struct {
	// TrustedProxies are the CIDRs of proxies whose forwarding header is
	// believed. The client IP is found by walking that header right to left
	// and skipping trusted hops. Default: none, so the peer address is the
	// client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// IPHeader is the header trusted proxies put the client IP in:
	// "X-Forwarded-For" (default) or "X-Real-IP".
	IPHeader string `yaml:"ip_header"`
	// RequestIDHeader carries the request id to the upstream and back to the
	// client. Default "X-Request-Id".
	RequestIDHeader string `yaml:"request_id_header"`
	// TrustRequestID keeps an inbound request id when the peer is a trusted
	// proxy and the id is well formed. Default false: always generated.
	TrustRequestID bool `yaml:"trust_request_id"`
}

// Headers are the security headers of every response.
type Headers struct {
	// HSTS is the Strict-Transport-Security header on HTTPS responses.
	HSTS HSTS `yaml:"hsts"`
	// CacheControl, when set, is the Cache-Control of every response that
	// has none, such as "no-store". Routes can override it.
	CacheControl string `yaml:"cache_control"`
	// Remove lists response headers that are deleted. Default "Server" and
	// "X-Powered-By".
	Remove []string `yaml:"remove"`
	// Set lists response headers that are set, replacing the upstream's.
	Set map[string]string `yaml:"set"`
}

// HSTS configures Strict-Transport-Security (RFC 6797).
type HSTS struct {
	// Disabled turns the header off.
	Disabled bool `yaml:"disabled"`
	// MaxAge is the policy's lifetime. Default 730 days (63072000 seconds).
	MaxAge Duration `yaml:"max_age"`
	// IncludeSubdomains adds includeSubDomains. Default false.
	IncludeSubdomains bool `yaml:"include_subdomains"`
	// Preload adds preload; needs include_subdomains and a max_age of at
	// least a year.
	Preload bool `yaml:"preload"`
}

// AccessLog is the one structured JSON record written per request. It never
// holds credentials, query strings or bodies.
type AccessLog struct {
	// Disabled turns the access log off.
	Disabled bool `yaml:"disabled"`
	// Output is "stdout" (default), "stderr" or a file path.
	Output string `yaml:"output"`
}

// Upstream is one API behind the gateway.
type Upstream struct {
	// URL is the upstream's base, "http://host:port" or "https://host:port",
	// with an optional path prefix. Required.
	URL string `yaml:"url"`
	// TLS configures how the gateway verifies the upstream and authenticates
	// to it.
	TLS UpstreamTLS `yaml:"tls"`
	// ConnectTimeout bounds dialing. Default 5s.
	ConnectTimeout Duration `yaml:"connect_timeout"`
	// ResponseHeaderTimeout bounds the wait for the upstream's response
	// headers; past it the client gets 504. Default 30s.
	ResponseHeaderTimeout Duration `yaml:"response_header_timeout"`
	// IdleConnTimeout closes idle upstream connections. Default 90s.
	IdleConnTimeout Duration `yaml:"idle_conn_timeout"`
	// MaxIdleConns bounds idle connections kept to this upstream.
	// Default 256.
	MaxIdleConns int `yaml:"max_idle_conns"`
	// PreserveHost sends the client's Host header instead of the upstream's.
	PreserveHost bool `yaml:"preserve_host"`
}

// UpstreamTLS configures TLS to an upstream.
type UpstreamTLS struct {
	// CAFile is a PEM bundle of the CAs that sign the upstream's certificate.
	// Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile is a client certificate presented to the upstream (mTLS).
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key of cert_file.
	KeyFile string `yaml:"key_file"`
	// ServerName overrides the name verified in the upstream's certificate.
	ServerName string `yaml:"server_name"`
}

// Route maps matching requests to an upstream.
type Route struct {
	// Name identifies the route in logs, metrics and errors. Default
	// "route-N".
	Name string `yaml:"name"`
	// Host matches the request's host: exact ("api.example.com") or one
	// label wildcard ("*.example.com"). Default: any host.
	Host string `yaml:"host"`
	// Path is the pattern matched against the normalized path: literal
	// segments, named parameters ("/api/users/{id}") and a final catch-all
	// ("/static/{rest...}"). Required.
	Path string `yaml:"path"`
	// Methods the route accepts. Required; a request with another method
	// gets 405.
	Methods []string `yaml:"methods"`
	// Upstream names the upstream the route forwards to. Required.
	Upstream string `yaml:"upstream"`
	// Public says the route needs no authentication. A route must either
	// be public or name its authenticators in auth (deny by default).
	Public bool `yaml:"public"`
	// Auth names the authenticators tried, in order, on this route; the
	// first that recognizes the request's credentials decides.
	Auth []string `yaml:"auth"`
	// CacheControl overrides headers.cache_control for this route.
	CacheControl string `yaml:"cache_control"`

	// Firewall narrows who may reach this route by network, on top of the
	// global firewall: a deny in either wins.
	Firewall *RouteFirewall `yaml:"firewall"`
	// WAF inspects this route's requests with the OWASP Core Rule Set
	// (the negative model: attacks a schema allows, such as SQL injection
	// in a free-text field), before authentication. Off when absent.
	WAF *RouteWAF `yaml:"waf"`
	// OpenAPI enforces the API's own contract on this route's requests
	// (the positive model): a known operation, parameters of the declared
	// types and bounds, a body that validates against its schema. Off
	// when absent.
	OpenAPI *RouteOpenAPI `yaml:"openapi"`
	// Authz says who may use this route once authenticated. Required on
	// every route that is not public: without it the route is refused to
	// everyone (deny by default).
	Authz *Authz `yaml:"authz"`
	// Limits are this route's own rate limits, quotas and concurrency
	// limits, counted per route on top of the identity's plan.
	Limits *RouteLimits `yaml:"limits"`
	// Protect encrypts JSON fields of request bodies, decrypts or masks
	// them in responses by who is asking, and runs data-loss prevention
	// on responses.
	Protect *RouteProtect `yaml:"protect"`
}

// Authn declares authenticators by kind.
type Authn struct {
	// JWT authenticators verify bearer JSON Web Tokens (RFC 7519) of one
	// issuer each.
	JWT []JWT `yaml:"jwt"`
	// Introspection authenticators ask an OAuth2 authorization server
	// whether a bearer token is active (RFC 7662), for opaque tokens.
	Introspection []Introspection `yaml:"introspection"`
	// MTLS authenticators turn a verified client certificate (see
	// listeners[].tls.client_auth) into an identity.
	MTLS []MTLS `yaml:"mtls"`
	// APIKey authenticators check Rampart API keys (rampart apikey create)
	// against the store.
	APIKey []APIKeyAuth `yaml:"apikey"`
}

// APIKeyAuth checks Rampart API keys, sent in Header or as a bearer token.
// Expiry takes effect at once; a revocation or rotation made through
// rampart within revocation_delay on every gateway sharing the store.
type APIKeyAuth struct {
	// Name is what routes list in auth. Required.
	Name string `yaml:"name"`
	// Header carries keys besides "Authorization: Bearer". Default
	// "X-API-Key".
	Header string `yaml:"header"`
	// PepperFile is the 256-bit key of the keyed hash that the store
	// holds instead of secrets. Default data_dir/apikey-pepper, created
	// when missing; gateways sharing a store need the same file.
	PepperFile string `yaml:"pepper_file"`
	// RevocationDelay bounds how long a key that was revoked, rotated or
	// created through rampart may still be seen as it was, on every
	// gateway sharing the store: key records are cached and the store's
	// change counter is read every half of it. A gateway that cannot
	// read the counter for that long reads the store on every request
	// again (and refuses with 503 while the store is down). Default 1s;
	// 0s reads the store on every request. At most 1h.
	RevocationDelay *Duration `yaml:"revocation_delay"`
}

// MTLS maps a client certificate that the listener verified to an
// identity.
type MTLS struct {
	// Name is what routes list in auth. Required.
	Name string `yaml:"name"`
	// Subject is where the subject comes from: "cn" (the subject's common
	// name, default), "dns" or "uri" (the first DNS or URI SAN, such as a
	// SPIFFE ID) or "email".
	Subject string `yaml:"subject"`
	// RolesFromOU takes roles from the subject's organizational units.
	RolesFromOU bool `yaml:"roles_from_ou"`
	// Roles maps subjects to roles, added to those from OUs.
	Roles map[string][]string `yaml:"roles"`
	// AllowedSubjects, when set, is the allowlist of subjects; any other
	// certificate, even a valid one, is refused.
	AllowedSubjects []string `yaml:"allowed_subjects"`
}

// Introspection validates opaque bearer tokens with an OAuth2 token
// introspection endpoint (RFC 7662). Answers are cached: active tokens until
// their exp or cache_ttl, inactive ones for negative_cache_ttl. When the
// endpoint cannot be reached the request is refused with 503: a token that
// cannot be checked grants nothing.
type Introspection struct {
	// Name is what routes list in auth. Required.
	Name string `yaml:"name"`
	// URL is the https introspection endpoint. Required.
	URL string `yaml:"url"`
	// ClientID authenticates Rampart to the endpoint (HTTP Basic).
	// Required.
	ClientID string `yaml:"client_id"`
	// ClientSecretFile holds the client secret. Required.
	ClientSecretFile string `yaml:"client_secret_file"`
	// CAFile is a PEM bundle that signs the endpoint's certificate.
	// Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// Issuer, when set, must equal the answer's iss.
	Issuer string `yaml:"issuer"`
	// Audiences, when set, must include one of the answer's aud values.
	Audiences []string `yaml:"audiences"`
	// Timeout bounds one introspection call. Default 5s.
	Timeout Duration `yaml:"timeout"`
	// Claims maps the answer's members to the identity (same rules as for
	// JWT claims). Default subject "sub", scopes "scope".
	Claims ClaimMapping `yaml:"claims"`
	// CacheSize bounds the answer cache. Default 10000; -1 turns it off.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL bounds how long an active answer is reused (never past
	// exp): the longest a revoked token keeps working. Default 1m.
	CacheTTL Duration `yaml:"cache_ttl"`
	// NegativeCacheTTL is how long an inactive answer is reused. Default
	// 10s.
	NegativeCacheTTL Duration `yaml:"negative_cache_ttl"`
}

// JWT verifies bearer JSON Web Tokens from one issuer. A token is this
// authenticator's when its iss claim is Issuer; it is then verified with the
// issuer's keys and an algorithm allowlist, and its claims are checked and
// mapped to an identity. Tokens carrying their own key (jwk, jku, x5u, x5c
// headers) are refused.
type JWT struct {
	// Name is what routes list in auth. Required.
	Name string `yaml:"name"`
	// Issuer is the exact iss claim of this issuer's tokens. Required.
	Issuer string `yaml:"issuer"`
	// Audiences lists accepted aud values; a token must name one. Required.
	Audiences []string `yaml:"audiences"`
	// JWKSURL is the https URL of the issuer's JSON Web Key Set. The set is
	// cached, refreshed every refresh_interval, and refetched at most every
	// min_refresh_interval when a token names an unknown kid.
	JWKSURL string `yaml:"jwks_url"`
	// KeysFile is a JSON Web Key Set file with the issuer's public keys,
	// instead of jwks_url.
	KeysFile string `yaml:"keys_file"`
	// Discovery finds the JWKS URL through OpenID Connect discovery
	// (ISSUER/.well-known/openid-configuration) instead of jwks_url; the
	// document must name this exact issuer and an https jwks_uri.
	Discovery bool `yaml:"discovery"`
	// CAFile is a PEM bundle that signs the JWKS (and discovery) server's
	// certificate. Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// HMACSecretFile holds a shared secret (at least 32 bytes) for an
	// issuer that signs with HS256, HS384 or HS512, instead of jwks_url or
	// keys_file. Such an authenticator accepts only HMAC algorithms, and
	// authenticators with public keys never do, so a public key can never
	// be used as an HMAC secret (key confusion).
	HMACSecretFile string `yaml:"hmac_secret_file"`
	// Algorithms is the allowlist of signature algorithms: RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA; with
	// hmac_secret_file, HS256, HS384, HS512. "none" is never accepted.
	// Default RS256, PS256, ES256, EdDSA; with hmac_secret_file, HS256.
	Algorithms []string `yaml:"algorithms"`
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30s.
	Leeway Duration `yaml:"leeway"`
	// RequiredClaims must be present in every token. Default sub and exp.
	RequiredClaims []string `yaml:"required_claims"`
	// Claims maps token claims to the identity.
	Claims ClaimMapping `yaml:"claims"`
	// MaxTokenBytes bounds the token's size. Default 8KiB.
	MaxTokenBytes ByteSize `yaml:"max_token_bytes"`
	// RefreshInterval is how often the JWKS is refetched. Default 1h.
	RefreshInterval Duration `yaml:"refresh_interval"`
	// MinRefreshInterval is the least time between two fetches of the
	// JWKS, however many unknown kids arrive. Default 1m.
	MinRefreshInterval Duration `yaml:"min_refresh_interval"`
	// CacheSize bounds the cache of verified tokens. Default 10000; 0 after
	// defaults is not allowed, -1 turns the cache off.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL bounds how long a verified token is reused without being
	// verified again (never past its exp). Default 5m.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// ClaimMapping names the claims that make up an identity. A path may be
// nested with dots ("realm_access.roles"). A claim may be a string, a
// space-separated string (scope) or a list of strings.
type ClaimMapping struct {
	// Subject is the claim that names the principal. Default "sub".
	Subject string `yaml:"subject"`
	// Roles are claims holding roles. Default ["roles"].
	Roles []string `yaml:"roles"`
	// Groups are claims holding groups. Default ["groups"].
	Groups []string `yaml:"groups"`
	// Scopes are claims holding OAuth scopes. Default ["scope", "scp"].
	Scopes []string `yaml:"scopes"`
	// Tenant is the claim naming the tenant. Default: none.
	Tenant string `yaml:"tenant"`
	// Session is the claim naming the session. Default "sid".
	Session string `yaml:"session"`
}

// Paths sets path matching policy. Whatever it says, the path a request is
// authorized for is the path the upstream receives.
type Paths struct {
	// CaseInsensitive folds paths to lower case before routing and
	// forwards the folded path. Turn it on in front of an upstream that
	// matches paths without regard to case (IIS, ASP.NET, many Windows and
	// macOS file servers): otherwise /API/Admin would miss the admin route,
	// fall to a catch-all route with weaker rules, and reach the admin
	// endpoint anyway. Route parameter values are folded too (owner rules
	// then compare lower-case values). Default false: case-sensitive, and
	// /API/admin simply matches no route.
	CaseInsensitive bool `yaml:"case_insensitive"`
}

// Store configures the state store.
type Store struct {
	// Driver is "sqlite" (default: an embedded file, one node) or
	// "postgres" (shared by a cluster of gateways).
	Driver string `yaml:"driver"`
	// Path is the SQLite file. Default data_dir/rampart.db.
	Path string `yaml:"path"`
	// DSNFile holds the PostgreSQL connection string, such as
	// postgres://rampart@db:5432/rampart?sslmode=verify-full.
	DSNFile string `yaml:"dsn_file"`
	// DSN is the PostgreSQL connection string inline; prefer dsn_file when
	// it holds a password.
	DSN string `yaml:"dsn"`
	// Timeout bounds every store call (a query, a transaction, and the
	// connection it may need to open: it is also PostgreSQL's connect
	// timeout), on the request path and in background work alike. Past
	// it the call fails as if the store were down: API-key
	// authentication answers 503 (authn.store_unavailable), protected
	// fields 503 (protect.keys_unavailable), the token server 503, and
	// background work (last-used times, revocation and signing-key
	// rereads, shred polls) keeps what it has and tries again. A store
	// that is silent rather than refusing (a network partition) thus
	// costs each call at most this long. Routes that need no store call
	// never wait for it. Default 2s; from 100ms to 1m.
	Timeout Duration `yaml:"timeout"`
}

// Authz is a route's authorization rule: every condition set must hold.
type Authz struct {
	// Authenticated allows any authenticated identity; say it when that is
	// the intent, since a route with no condition is refused.
	Authenticated bool `yaml:"authenticated"`
	// Roles: the identity needs at least one of them.
	Roles []string `yaml:"roles"`
	// Scopes: the identity needs all of them (OAuth scopes of a token or
	// an API key).
	Scopes []string `yaml:"scopes"`
	// Permissions: the identity needs all of them, granted by its roles or
	// groups through the top-level authz.roles and authz.groups.
	Permissions []string `yaml:"permissions"`
	// Owner restricts the route to the owner of the object a route
	// parameter names (against broken object-level authorization, OWASP
	// API1).
	Owner *OwnerRule `yaml:"owner"`
	// WritableFields, when set, is the allowlist of top-level JSON fields
	// a request body may set; any other field is refused with 403 (against
	// mass assignment, OWASP API3). Bodies that are not a JSON object are
	// refused with 415.
	WritableFields []string `yaml:"writable_fields"`
	// PolicyFile is a file of Cedar policies (permit and forbid) that must
	// permit the request, on top of the rule's other conditions. The
	// principal is User::"<subject>", a member of Role::"<role>" for each
	// role, with attributes subject, issuer, tenant, method, roles, groups
	// and scopes; the action is Action::"<HTTP method>"; the resource is
	// Route::"<route name>" with attributes path and params (a record of
	// route parameters); the context has ip (an ipaddr) and time (Unix
	// seconds). A policy that fails to evaluate refuses the request.
	PolicyFile string `yaml:"policy_file"`
	// ResponseFields limits, per role, the top-level fields of a JSON
	// response (an object, or an array of objects) that the identity sees;
	// "*" lists every field. The key "*" applies to identities with none of
	// the other roles; an identity matched by no key sees no field. Only
	// successful (2xx) responses are filtered; a response that is not JSON
	// is refused with 502 (against excessive data exposure, OWASP API3).
	ResponseFields map[string][]string `yaml:"response_fields"`
	// Methods overrides the rule for some methods, such as stricter rules
	// for PUT and DELETE (against broken function-level authorization,
	// OWASP API5). A method's rule replaces the route's rule whole.
	Methods map[string]Authz `yaml:"methods"`
}

// Permissions maps roles and groups to named permissions, so that routes
// ask for what they need ("users:read") and who has it is said once.
type Permissions struct {
	// Roles maps a role to the permissions it grants.
	Roles map[string][]string `yaml:"roles"`
	// Groups maps a group to the permissions it grants.
	Groups map[string][]string `yaml:"groups"`
	// MaxScopes caps, by role, the scopes a credential may carry: the
	// scopes of a token or API key outside the union of its roles' lists
	// are dropped when it is authenticated, before any rule or the
	// upstream sees them, and an API key asking for them is not created.
	// So no credential holds more than its owner may, whatever its issuer
	// put in it. An identity with none of the listed roles keeps no
	// scopes. Empty: no cap.
	MaxScopes map[string][]string `yaml:"max_scopes" reload:"restart"`
}

// OwnerRule ties a route or query parameter to the identity.
type OwnerRule struct {
	// Param is the parameter naming the object, such as "id" in
	// /api/users/{id}. Required.
	Param string `yaml:"param"`
	// In is where Param is: "path" (default, a route parameter), "query"
	// (a query parameter, which must then appear exactly once) or "body"
	// (a top-level string field of a JSON object body, exactly once).
	In string `yaml:"in"`
	// Claim is the identity field it must equal: "subject" (default) or
	// "tenant".
	Claim string `yaml:"claim"`
	// ReadRoles may read (GET, HEAD) any object without owning it, such as
	// support staff.
	ReadRoles []string `yaml:"read_roles"`
	// AllRoles may use any method on any object.
	AllRoles []string `yaml:"all_roles"`
}

// Redis connects to a Redis server (standalone, or a cluster proxy that
// speaks the same protocol).
type Redis struct {
	// URL is redis://host:port/db, or rediss://host:port/db for TLS.
	// Required. Keep the password out of it: use password_file.
	URL string `yaml:"url"`
	// Cluster says url is one node of a Redis Cluster; the client finds
	// the others and follows the slots. Every key Rampart writes carries a
	// hash tag, so each script's keys live in one slot. The url's database
	// must be 0.
	Cluster bool `yaml:"cluster"`
	// Username is the Redis ACL user. Default: none (the default user).
	Username string `yaml:"username"`
	// PasswordFile holds the Redis password.
	PasswordFile string `yaml:"password_file"`
	// CAFile is a PEM bundle that verifies a rediss:// server. Default: the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// Timeout bounds every Redis call, connecting included; past it the
	// call counts as a back-end failure (see limits.on_backend_error).
	// Default 100ms.
	Timeout Duration `yaml:"timeout"`
	// PoolSize is the number of connections kept to Redis. Default 32.
	PoolSize int `yaml:"pool_size"`
	// Pipelining is "auto" (default: the limit decisions of concurrent
	// requests share pipelines, through go-redis's auto-pipeliner, which
	// go-redis still marks experimental; about a quarter more requests per
	// second under load) or "off" (one call per decision). A Redis Cluster
	// always uses one call per decision.
	Pipelining string `yaml:"pipelining"`
}

// Firewall holds the global network rules. A client is refused when its
// address is banned, is in a deny list, or is outside a non-empty allow
// list; a deny always wins over an allow. The address is the client IP
// decided by client.trusted_proxies, never a header from an untrusted peer.
type Firewall struct {
	// Allow lists the networks (CIDRs or single addresses) admitted; when
	// it and allow_files are empty, every network is admitted.
	Allow []string `yaml:"allow"`
	// Deny lists the networks refused.
	Deny []string `yaml:"deny"`
	// AllowFiles are files with one CIDR or address per line ("#" starts a
	// comment), added to allow and reloaded when they change. A file that
	// fails to parse on reload keeps its last good contents.
	AllowFiles []string `yaml:"allow_files"`
	// DenyFiles are files of networks refused, in the format of
	// allow_files.
	DenyFiles []string `yaml:"deny_files"`
	// ReloadInterval is how often allow_files and deny_files are checked
	// for changes. Default 10s.
	ReloadInterval Duration `yaml:"reload_interval"`
	// Bans configures dynamic bans: addresses or networks refused for a
	// while, added through the admin API.
	Bans Bans `yaml:"bans" reload:"restart"`
}

// RouteFirewall holds one route's network rules, applied after the global
// ones.
type RouteFirewall struct {
	// Allow lists the networks admitted to this route; empty admits every
	// network the global firewall admits.
	Allow []string `yaml:"allow"`
	// Deny lists the networks refused on this route.
	Deny []string `yaml:"deny"`
	// AllowFiles are files of networks admitted (see firewall.allow_files).
	AllowFiles []string `yaml:"allow_files"`
	// DenyFiles are files of networks refused (see firewall.allow_files).
	DenyFiles []string `yaml:"deny_files"`
}

// Bans configures the dynamic ban list.
type Bans struct {
	// Backend is "memory" (default: this gateway only) or "redis" (shared
	// by every gateway on the same Redis; needs redis).
	Backend string `yaml:"backend"`
	// MaxEntries bounds the ban list; adding a ban past it is refused.
	// Default 100000.
	MaxEntries int `yaml:"max_entries"`
	// MaxTTL is the longest a ban may last. Default 720h (30 days).
	MaxTTL Duration `yaml:"max_ttl"`
	// SyncInterval is how often a gateway rereads the whole shared ban
	// list from Redis, besides the change notices it receives at once.
	// Default 10s.
	SyncInterval Duration `yaml:"sync_interval"`
}

// Limits holds the settings every rate limit, quota and concurrency limit
// shares. Limits count only requests that passed authentication and
// authorization, except pre_auth.
type Limits struct {
	// Backend is "memory" (default: counters in this process, for one
	// gateway) or "redis" (counters shared exactly by every gateway on the
	// same Redis; needs redis).
	Backend string `yaml:"backend" reload:"restart"`
	// OnBackendError is what happens when the back end fails or does not
	// answer within redis.timeout: "closed" (default: refuse with 503) or
	// "open" (admit the request). Either way a metric and a log line record
	// it. After a failure Redis is left alone for a second: decisions in
	// that second follow this setting at once instead of each waiting out
	// the timeout. Routes may override it.
	OnBackendError string `yaml:"on_backend_error"`
	// Headers selects the rate-limit headers on responses of limited
	// routes: "draft" (default: RateLimit-Policy and RateLimit, from the
	// IETF httpapi draft), "legacy" (RateLimit-Limit, RateLimit-Remaining,
	// RateLimit-Reset) or "none". Retry-After is always sent with 429.
	Headers string `yaml:"headers"`
	// TimeZone is the IANA time zone in which quota days and months begin,
	// such as "Europe/Paris". Default "UTC".
	TimeZone string `yaml:"time_zone"`
	// MaxKeys bounds the number of counters the memory back end keeps;
	// when full, expired counters are dropped first, then rates, then
	// quotas, then concurrency slots (losing one can only admit more, never
	// refuse wrongly). Default 1000000.
	MaxKeys int `yaml:"max_keys" reload:"restart"`
	// PreAuth are rate limits by client IP applied to every request before
	// authentication, so that credential guessing and token floods are
	// slowed before any authenticator works. Their key is always ip.
	PreAuth []Rate `yaml:"pre_auth"`
	// Plans are tiers of limits. Every authenticated request gets the
	// limits of the first plan whose roles match the identity (a plan
	// without roles matches everyone), on every route.
	Plans []Plan `yaml:"plans"`
}

// Plan is a tier of limits assigned by role.
type Plan struct {
	// Name identifies the plan. Required, unique.
	Name string `yaml:"name"`
	// Roles assign the plan: an identity with any of them gets it. Empty:
	// every identity that no earlier plan matched.
	Roles []string `yaml:"roles"`
	// Rates are the plan's rate limits, counted across all routes unless
	// their key includes route.
	Rates []Rate `yaml:"rates"`
	// Quotas are the plan's calendar quotas, counted across all routes
	// unless their key includes route.
	Quotas []Quota `yaml:"quotas"`
	// Concurrency limits requests in flight.
	Concurrency []Concurrency `yaml:"concurrency"`
}

// RouteLimits are one route's limits, counted for that route only.
type RouteLimits struct {
	// Rates are rate limits for this route.
	Rates []Rate `yaml:"rates"`
	// Quotas are calendar quotas for this route.
	Quotas []Quota `yaml:"quotas"`
	// Concurrency limits requests in flight on this route.
	Concurrency []Concurrency `yaml:"concurrency"`
	// Records limits how many records of this route's JSON responses an
	// identity may view per session.
	Records *Records `yaml:"records"`
	// OnBackendError overrides limits.on_backend_error for this route.
	OnBackendError string `yaml:"on_backend_error"`
}

// Rate is a smooth rate limit (GCRA): requests per period, with bursts of
// up to burst requests at once.
type Rate struct {
	// Name identifies the limit in RateLimit headers, denials and metrics.
	// Default "rate-N". Unique within its plan or route.
	Name string `yaml:"name"`
	// Key says what is counted separately: one or more of subject (the
	// identity; anonymous requests count by ip), apikey (the credential
	// id), tenant, ip (the client IP; IPv6 clients by their /64) and route,
	// or [global] for one counter shared by everyone. Default [subject].
	Key []string `yaml:"key"`
	// Requests is how many requests are admitted per period. Required.
	Requests int `yaml:"requests"`
	// Per is the period, such as 1s or 1m. Required.
	Per Duration `yaml:"per"`
	// Burst is how many requests may arrive at once. Default: requests.
	Burst int `yaml:"burst"`
}

// Quota is a count of requests per calendar day or month, in
// limits.time_zone.
type Quota struct {
	// Name identifies the quota in headers, denials and metrics. Default
	// "quota-N".
	Name string `yaml:"name"`
	// Key says what is counted separately, as in rates. Default [subject].
	Key []string `yaml:"key"`
	// Period is "day" or "month". Required.
	Period string `yaml:"period"`
	// Requests is how many requests are admitted per period. Required.
	Requests int64 `yaml:"requests"`
}

// Records is a threshold on the records (elements of a JSON array) an
// identity views in responses, per session: the token's session id when it
// carries one (see authn.jwt.claims.session), otherwise a sliding window
// per identity. Only 2xx JSON responses are counted; the gateway asks the
// upstream for uncompressed bodies on the route.
//
// A response whose length is known and fits server.max_response_body_bytes
// is counted before it is sent, so action applies to it exactly. A
// streamed response (no length, or larger) is counted as it passes, holding
// only a few bytes of parser state; it is delivered whole and the next
// request of the session is refused.
type Records struct {
	// Max is the number of records allowed per session (or per window).
	// Required.
	Max int64 `yaml:"max"`
	// Path locates the records: "$" (default: the response is a JSON
	// array) or a path of object keys such as "$.items" or "$.data.items".
	// Keys match as decoded (escapes read). A counted response in which an
	// object on the path holds one of its keys twice, in any letter case,
	// is refused (502 limits.records_uncountable): clients disagree on
	// which copy they read.
	Path string `yaml:"path"`
	// Key says whose records are counted, as in rates; the session id is
	// added to it when the identity has one. Default [subject].
	Key []string `yaml:"key"`
	// Window is the period the threshold applies to: the allowance comes
	// back gradually, max records per window. Default 24h.
	Window Duration `yaml:"window"`
	// Action is what happens to a response that would pass the threshold:
	// "refuse" (default: 429 limits.records_exceeded instead of the data)
	// or "truncate" (the array is cut to the records still allowed; the
	// RateLimit headers say so).
	Action string `yaml:"action"`
}

// Concurrency limits the requests in flight at once.
type Concurrency struct {
	// Name identifies the limit in denials and metrics. Default
	// "concurrency-N".
	Name string `yaml:"name"`
	// Key says what is counted separately, as in rates. Default [subject].
	Key []string `yaml:"key"`
	// Max is the number of requests in flight allowed. Required.
	Max int `yaml:"max"`
	// Lease is how long a slot counts at most, so that a gateway that dies
	// mid-request does not hold it for ever (redis back end). Default 5m;
	// keep it above the upstream's longest response.
	Lease Duration `yaml:"lease"`
}

// IdentityToken configures the signed identity for upstreams: an ES256 JWT
// in a request header, with iss, aud (the upstream's name), sub, iat, exp,
// jti, and the identity's roles, groups, scope, tenant, sid, amr and idp
// (the original issuer). Its public keys are served on the admin listener
// at /.well-known/jwks.json, without the admin token.
type IdentityToken struct {
	// Enabled turns the token on for every authenticated request.
	Enabled bool `yaml:"enabled"`
	// Issuer is the iss claim. Default "rampart".
	Issuer string `yaml:"issuer"`
	// Header carries the token. Default "X-Rampart-Identity".
	Header string `yaml:"header"`
	// TTL is the token's lifetime. Default 60s; at most 1h.
	TTL Duration `yaml:"ttl"`
	// RotateEvery is how long a signing key signs before the next one
	// takes over (a new key is published a little before it signs, an old
	// one stays published until its tokens expire). Default 24h.
	RotateEvery Duration `yaml:"rotate_every"`
	// KEKFile is the signing-kek file of earlier releases (32 bytes,
	// base64), which sealed the signing keys' private halves in the store:
	// read when it exists, to open the keys it sealed, and never created.
	// New keys are sealed with protect.keys' key-encryption key (kek_file
	// or kek_env), so its KEK rotation and a KMS cover them too; once the
	// keys sealed before the upgrade have expired (rotate_every plus ttl),
	// the file can go. Default data_dir/signing-kek.
	KEKFile string `yaml:"kek_file"`
}

// TokenServer is a built-in OAuth2 authorization server for the
// client-credentials grant (RFC 6749 section 4.4). Its clients are API keys
// (rampart apikey create): client_id is the key's id, client_secret the
// whole key, and a token carries the key's subject, roles and (a subset
// of) its scopes. Served on the public listeners, through the firewall and
// the pre-authentication limits: POST PATH/token, POST PATH/revoke
// (RFC 7009), GET /.well-known/jwks.json (its keys), and GET
// /.well-known/oauth-authorization-server (RFC 8414). Tokens are ES256
// JWTs signed with keys that rotate like identity_token's.
type TokenServer struct {
	// Enabled turns the endpoints on.
	Enabled bool `yaml:"enabled"`
	// Issuer is the iss claim and the server's identifier, such as
	// "https://api.example.com". Required.
	Issuer string `yaml:"issuer"`
	// Audience is the aud claim. Default: the issuer.
	Audience string `yaml:"audience"`
	// Path is where the endpoints live. Default "/oauth".
	Path string `yaml:"path"`
	// TTL is an access token's lifetime. Default 5m; at most 1h.
	TTL Duration `yaml:"ttl"`
	// RotateEvery is how long a signing key signs. Default 24h.
	RotateEvery Duration `yaml:"rotate_every"`
	// Authenticator is the name routes list in auth to accept these
	// tokens. Default "rampart".
	Authenticator string `yaml:"authenticator"`
	// KEKFile is the signing-kek file of earlier releases, read when it
	// exists to open the signing keys it sealed, never created; new keys
	// are sealed with protect.keys' key-encryption key. Shared with
	// identity_token. Default data_dir/signing-kek.
	KEKFile string `yaml:"kek_file"`
}

// Audit configures the tamper-evident audit log. Every request, allowed,
// refused or failed, becomes one event (time, request id, client IP,
// identity, route, method, normalized path, query with sensitive values
// redacted, status, each
// stage's decision and reason, duration, bytes) appended to DIR/events.log
// with a hash-chain link; RFC 6962 tree heads are signed (Ed25519) into
// DIR/checkpoints at an interval and on shutdown. Check it with
// rampart audit verify.
type Audit struct {
	// Enabled turns the log on.
	Enabled bool `yaml:"enabled"`
	// Dir holds the log, its checkpoints and its signing key (audit-key,
	// with audit-key.pub beside it). Default data_dir/audit.
	Dir string `yaml:"dir"`
	// Sync makes every response wait for its event: the last byte of the
	// response (the last body byte, the final chunk, HTTP/2's END_STREAM;
	// for HEAD, 204 and 304 the headers) reaches the client only once the
	// event is on disk (fsync, shared by the requests of a batch), so
	// every response a client received in full has its event in the log,
	// through kill -9 or a power cut. The rest of the body streams as
	// usual. An event that cannot be written aborts its response (the
	// connection closed, the HTTP/2 stream reset); after a disk failure
	// the log takes no more events, so no response completes until a
	// restart. Default false: events are written at once and synced at
	// each checkpoint. See docs/audit.md, "Sync mode".
	Sync bool `yaml:"sync"`
	// CheckpointInterval is how often a signed checkpoint is written.
	// Default 1m.
	CheckpointInterval Duration `yaml:"checkpoint_interval"`
	// MaxSegmentBytes starts a new segment file when the current one
	// reaches it. Default 64MiB.
	MaxSegmentBytes ByteSize `yaml:"max_segment_bytes"`
	// MaxSegmentAge starts a new segment file when the current one is this
	// old. Default 24h.
	MaxSegmentAge Duration `yaml:"max_segment_age"`
	// Retention deletes segments older than this, oldest first, never the
	// current one; the log still verifies from its oldest kept segment
	// (inclusion proofs then need the whole log). Default 0: keep all.
	Retention Duration `yaml:"retention"`
	// Origin names the log in its checkpoints (C2SP tlog-checkpoint's
	// origin line) and names a new log's signing key: witnesses know the
	// log by it. A schema-less URL without spaces or '+', such as
	// "rampart.example.com/gw1". Default "rampart/" and the first
	// listener's address.
	Origin string `yaml:"origin"`
	// Witnesses cosign the log's checkpoints (C2SP tlog-witness, such as
	// litewitness or `rampart audit witness serve`): each new checkpoint
	// goes to each witness with an RFC 6962 consistency proof, off the
	// request path. A witness holds the newest checkpoint away from this
	// disk, so that `rampart audit verify` can tell a rollback of the log
	// (its newest checkpoints and records deleted) from an honest log.
	Witnesses []AuditWitness `yaml:"witnesses"`
	// Sinks receive a copy of every event besides the local log: stdout, a
	// file of JSON lines, syslog or a webhook. Each has a bounded queue: a
	// slow sink drops events (counted in rampart_audit_sink_dropped_total),
	// never the local log, and never holds up a request.
	Sinks []AuditSink `yaml:"sinks"`
	// Anomalies are the detectors that watch every request (whether or not
	// the log is enabled) and raise alerts, written to this log and to the
	// operational log.
	Anomalies Anomalies `yaml:"anomalies"`
}

// AuditWitness is one witness of the audit log.
type AuditWitness struct {
	// Name names it in logs and verify's report. Default its URL's host.
	Name string `yaml:"name"`
	// URL is its submission prefix (add-checkpoint is posted under it):
	// https, or http to a loopback address. Required.
	URL string `yaml:"url"`
	// PublicKey is its cosignature verifier key (a note vkey, Ed25519
	// cosignature/v1 or a plain Ed25519 key; ML-DSA-44 too), such as
	// "witness.example/w1+1234abcd+BASE64". Required.
	PublicKey string `yaml:"public_key"`
	// CAFile verifies its https certificate. Default: the system roots.
	CAFile string `yaml:"ca_file"`
}

// AuditSink is one destination for copies of the audit events.
type AuditSink struct {
	// Type is "stdout", "file", "syslog" or "webhook". Required.
	Type string `yaml:"type"`
	// Path is the file of JSON lines (type file).
	Path string `yaml:"path"`
	// Network is "udp", "tcp" or "tls" (type syslog; RFC 5424 messages,
	// octet-counted on TCP).
	Network string `yaml:"network"`
	// Address is the syslog server's host:port.
	Address string `yaml:"address"`
	// URL is the https URL batches of events are posted to, as a JSON
	// array (type webhook; retried with backoff).
	URL string `yaml:"url"`
	// CAFile verifies the syslog (tls) or webhook server. Default: the
	// system roots.
	CAFile string `yaml:"ca_file"`
	// Queue is how many events may wait for the sink. Default 10000.
	Queue int `yaml:"queue"`
}

// Anomalies configures the anomaly detectors.
type Anomalies struct {
	// AuthFailures detects credential stuffing: many failed
	// authentications from one client IP.
	AuthFailures AuthFailures `yaml:"auth_failures"`
	// Enumeration detects object-id enumeration (BOLA probing).
	Enumeration Enumeration `yaml:"enumeration"`
	// Scraping alerts when an identity reaches its records threshold
	// (routes[].limits.records).
	Scraping Scraping `yaml:"scraping"`
	// NewNetwork alerts when a credential is used from a network it was
	// not seen on before.
	NewNetwork NewNetwork `yaml:"new_network"`
	// RateSpike alerts when an identity's request rate jumps far above
	// its own baseline.
	RateSpike RateSpike `yaml:"rate_spike"`
}

// RateSpike alerts when an identity sends, within one minute, more than
// factor times its usual requests per minute (a moving average learnt
// over ten minutes) and at least min.
type RateSpike struct {
	// Factor is how many times the baseline trips it, such as 10. 0 turns
	// it off. Default 0.
	Factor int `yaml:"factor"`
	// Min is the fewest requests in a minute that can trip it. Default
	// 100.
	Min int `yaml:"min"`
}

// Enumeration alerts when one identity (or anonymous client IP) is refused
// (403) or misses (404) more than max_distinct distinct objects, the first
// route parameter's values, within window.
type Enumeration struct {
	// MaxDistinct is the number of distinct objects that trips it. 0 turns
	// it off. Default 0.
	MaxDistinct int `yaml:"max_distinct"`
	// Window is the counting period. Default 10m.
	Window Duration `yaml:"window"`
}

// Scraping alerts, once per window per identity, when the limits stage
// refuses it with limits.records_exceeded.
type Scraping struct {
	// Enabled turns it on.
	Enabled bool `yaml:"enabled"`
	// Window is the least time between two alerts for one identity.
	// Default 1h.
	Window Duration `yaml:"window"`
}

// NewNetwork alerts when a credential (an API key, a token) is used from a
// /24 (IPv4) or /48 (IPv6) it was not used from before, once its first
// learn networks are known.
type NewNetwork struct {
	// Learn is how many networks a credential may use before new ones
	// alert. 0 turns it off. Default 0.
	Learn int `yaml:"learn"`
}

// AuthFailures is the credential-stuffing detector: max failed
// authentications (a wrong key, a bad or expired token; not a missing
// credential) from one client IP within window raise an alert and ban the
// address for ban through the firewall.
type AuthFailures struct {
	// Max is the number of failures that trips it. 0 turns it off.
	// Default 0.
	Max int `yaml:"max"`
	// Window is the period failures are counted over. Default 1m.
	Window Duration `yaml:"window"`
	// Ban is how long the address is banned. 0: alert only. Default 15m.
	Ban Duration `yaml:"ban"`
}

// Protect is the data protection section shared by every route.
type Protect struct {
	// Keys configures envelope encryption.
	Keys ProtectKeys `yaml:"keys" reload:"restart"`
	// MaxBodyBytes bounds a request body the protect stage reads to
	// encrypt its fields. Default 1MiB; a larger body gets 413.
	MaxBodyBytes ByteSize `yaml:"max_body_bytes"`
	// MaxDecompressedBytes bounds a compressed (gzip, deflate) upstream
	// response once decompressed for inspection: a decompression bomb gets
	// 502 instead. Default 16MiB.
	MaxDecompressedBytes ByteSize `yaml:"max_decompressed_bytes"`
	// RedactLogs masks sensitive values (cards, SSNs, tokens, keys...) in
	// every log record Rampart writes. Default true.
	RedactLogs *bool `yaml:"redact_logs" reload:"restart"`
	// EncryptionAPI serves encrypt, decrypt and rewrap for services that
	// store data themselves on the admin listener (/v1/transit/...), to the
	// admin token and to API keys with the scopes transit:OP (every
	// subject), transit:OP:SUBJECT or transit:OP:PREFIX* (OP: encrypt,
	// decrypt, rewrap). Every call is an audit event. Its ciphertexts live
	// in a namespace of their own: fields the gateway encrypts cannot be
	// decrypted through it. Default false.
	EncryptionAPI bool `yaml:"encryption_api" reload:"restart"`
}

// ProtectKeys configures the key-encryption key and the data keys.
type ProtectKeys struct {
	// KEKFile holds the key-encryption key versions, one "VERSION:BASE64"
	// line each (rampart keys kek-add appends one). It wraps the data keys
	// and seals the signing keys of identity_token and token_server (the
	// newest version seals each new signing key; rampart keys rewrap moves
	// data keys and signing keys to the newest version, and an old version
	// may leave the file once rewrap reports every key on the new one).
	// Default data_dir/data-kek, made on first start. A cluster needs the
	// same file on every gateway.
	KEKFile string `yaml:"kek_file"`
	// KEKEnv names an environment variable that holds the versions
	// instead ("1:BASE64,2:BASE64"). Exclusive with kek_file.
	KEKEnv string `yaml:"kek_env"`
	// RotateEvery is the age at which a subject's data key is replaced for
	// new encryptions; older versions still decrypt. Default 2160h (90
	// days); 0s rotates only on demand.
	RotateEvery *Duration `yaml:"rotate_every"`
	// MaxMessagesPerKey bounds the encryptions of one data key; it is
	// rotated before. Default 2^31 (AES-GCM with random nonces is safe to
	// 2^32).
	MaxMessagesPerKey int64 `yaml:"max_messages_per_key"`
	// CacheSize bounds the unwrapped data keys held in memory. Default
	// 10000.
	CacheSize int `yaml:"cache_size"`
	// CacheTTL is how long an unwrapped key is used before the store is
	// read again. Default 5m.
	CacheTTL Duration `yaml:"cache_ttl"`
}

// WAF is the web application firewall's shared settings: each route's waf
// block starts from them. See docs/inputs.md.
type WAF struct {
	// Paranoia is the Core Rule Set's paranoia level: 1 (default; few false
	// positives) to 4 (every rule, many false positives on real traffic).
	Paranoia int `yaml:"paranoia"`
	// InboundThreshold is the inbound anomaly score at which a request is
	// refused: a critical rule adds 5, an error 4, a warning 3, a notice
	// 2. Default 5.
	InboundThreshold int `yaml:"inbound_threshold"`
	// Mode is "block" (default: a request at the threshold is refused with
	// 403 waf.blocked) or "detect" (the matched rule ids are recorded in
	// the audit event and access log; the request passes).
	Mode string `yaml:"mode"`
	// Profiles are named sets of rule exclusions: "json-api" (what a JSON
	// API typically needs; docs/inputs.md lists each with its reason).
	Profiles []string `yaml:"profiles"`
	// Exclude turns rules off, on every route or for one target.
	Exclude []WAFExclusion `yaml:"exclude"`
	// BodyLimit is how many bytes of a request body are inspected.
	// Default 128KiB, or server.max_body_bytes when that is smaller; a
	// larger body is refused with 413 (never passed
	// uninspected). At most server.max_body_bytes.
	BodyLimit ByteSize `yaml:"body_limit"`
}

// RouteWAF is one route's WAF: unset fields take waf's value.
type RouteWAF struct {
	// Enabled turns the WAF on for the route. Default true: a waf block
	// turns it on; false keeps the block for later.
	Enabled *bool `yaml:"enabled"`
	// Paranoia overrides waf.paranoia (1-4).
	Paranoia int `yaml:"paranoia"`
	// InboundThreshold overrides waf.inbound_threshold.
	InboundThreshold int `yaml:"inbound_threshold"`
	// Mode overrides waf.mode: "block" or "detect".
	Mode string `yaml:"mode"`
	// Profiles are added to waf.profiles.
	Profiles []string `yaml:"profiles"`
	// Exclude is added to waf.exclude.
	Exclude []WAFExclusion `yaml:"exclude"`
	// BodyLimit overrides waf.body_limit.
	BodyLimit ByteSize `yaml:"body_limit"`
}

// WAFExclusion turns Core Rule Set rules off, entirely or for one target.
type WAFExclusion struct {
	// Rules are rule ids or inclusive ranges: ["942100",
	// "942430-942432"]. Required.
	Rules []string `yaml:"rules"`
	// Target limits the exclusion to one variable, in ModSecurity's
	// syntax: "ARGS:json.comment" (the JSON body field comment),
	// "ARGS:q" (a query or form parameter), "REQUEST_HEADERS:User-Agent",
	// "REQUEST_COOKIES:session". Empty: the rules are off altogether.
	Target string `yaml:"target"`
}

// RouteOpenAPI enforces an OpenAPI document on a route. The document is
// loaded and compiled when the config is (re)loaded.
type RouteOpenAPI struct {
	// Spec is the OpenAPI 3.0 or 3.1 file (YAML or JSON), relative to the
	// working directory. Required.
	Spec string `yaml:"spec"`
	// Operation is the operationId of the operation this route serves, or
	// "auto" (default): the operation whose path and method match the
	// request. A request that matches no operation is refused.
	Operation string `yaml:"operation"`
	// Request is what a request that breaks the contract gets: "block"
	// (default: 400 inputs.invalid naming each parameter or JSON pointer
	// and the rule it breaks, never the value) or "report" (recorded in
	// the audit event and access log; the request passes).
	Request string `yaml:"request"`
	// Response checks the upstream's responses: "off" (default),
	// "report", or "block" (502 in place of a response that breaks the
	// contract). When on, writeOnly properties are stripped from JSON
	// responses.
	Response string `yaml:"response"`
}

// RouteProtect is one route's data protection.
type RouteProtect struct {
	// Subject says whose data key encrypts request fields: "identity"
	// (default: the caller's subject), "tenant" (the caller's tenant) or
	// "param:NAME" (a route parameter, such as the user id of
	// /users/{id}). Subjects are names without their issuer: a route that
	// accepts several authenticators must not let two of them name
	// different people alike.
	Subject string `yaml:"subject"`
	// Fields are the JSON fields encrypted in request bodies and
	// decrypted or masked in responses. The upstream stores each as a
	// string (rampart:v1:...) whatever its JSON type; clients get the
	// original value, type included, back.
	Fields []ProtectField `yaml:"fields"`
	// DLP finds sensitive data in responses.
	DLP *RouteDLP `yaml:"dlp"`
}

// ProtectField is one encrypted JSON field.
type ProtectField struct {
	// Path selects the field: "$.ssn", "$.card.number",
	// "$.items[*].email", "$['odd name']". Required.
	Path string `yaml:"path"`
	// Encrypt encrypts the field in request bodies. Default true; false
	// only decrypts or masks what the upstream returns.
	Encrypt *bool `yaml:"encrypt"`
	// Reveal says who sees the field in clear in responses.
	Reveal Reveal `yaml:"reveal"`
	// Others is what everyone else gets: "mask" (default), "remove" or
	// "null".
	Others string `yaml:"others"`
	// Mask is the masking style: "auto" (default: by what the value is,
	// e.g. ***-**-6789 for an SSN, else all but the last 4 characters
	// hidden), "last4" or "full".
	Mask string `yaml:"mask"`
}

// Reveal names who may read an encrypted field in clear.
type Reveal struct {
	// Owner lets the subject the value was encrypted for read it.
	Owner bool `yaml:"owner"`
	// Roles that read it in clear.
	Roles []string `yaml:"roles"`
}

// RouteDLP is a route's data-loss prevention on responses.
type RouteDLP struct {
	// Action on a finding: "report" (default: counted in the audit event
	// and metrics, the response passes), "mask" (values replaced, such as
	// ************1111) or "block" (502 protect.dlp_blocked instead of
	// the response).
	Action string `yaml:"action"`
	// Kinds limits the detectors: card, ssn, iban, email, phone, jwt,
	// aws_key, gcp_key, slack_token, github_token, private_key, secret.
	// Default all.
	Kinds []string `yaml:"kinds"`
}
