package authn

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the authentication stage and its authenticators (docs/reasons.md).
const (
	// ReasonMissingCredentials means the route needs a credential and the request carries none that the route's authenticators recognize.
	ReasonMissingCredentials = "authn.missing_credentials" // #nosec G101 -- a reason code, not a credential
	// ReasonMalformed means the credential cannot be parsed (a bad token, two Authorization headers, an empty bearer token, a malformed API key).
	ReasonMalformed = "authn.malformed"
	// ReasonTokenTooLarge means the token is larger than the authenticator's max_token_bytes.
	ReasonTokenTooLarge = "authn.token_too_large" // #nosec G101 -- a reason code, not a credential
	// ReasonAlgNotAllowed means the token's signature algorithm is not on the authenticator's allow list (never none).
	ReasonAlgNotAllowed = "authn.alg_not_allowed"
	// ReasonForeignKeyHeader means the token carries its own key or key URL (jwk, jku, x5u, x5c), which is never trusted.
	ReasonForeignKeyHeader = "authn.foreign_key_header"
	// ReasonUnknownKey means the token names a key the issuer's key set does not hold.
	ReasonUnknownKey = "authn.unknown_key"
	// ReasonBadSignature means the token's signature does not verify.
	ReasonBadSignature = "authn.bad_signature"
	// ReasonMissingClaim means the token lacks a required claim (sub, exp, or one the config requires).
	ReasonMissingClaim = "authn.missing_claim"
	// ReasonTokenExpired means the token's exp is past (beyond the allowed clock skew).
	ReasonTokenExpired = "authn.token_expired" // #nosec G101 -- a reason code, not a credential
	// ReasonNotYetValid means the token's nbf is in the future.
	ReasonNotYetValid = "authn.not_yet_valid"
	// ReasonIssuedInFuture means the token's iat is in the future.
	ReasonIssuedInFuture = "authn.issued_in_future"
	// ReasonWrongAudience means the token's aud does not name this API.
	ReasonWrongAudience = "authn.wrong_audience"
	// ReasonWrongIssuer means the token's issuer is not one this route accepts.
	ReasonWrongIssuer = "authn.wrong_issuer"
	// ReasonTokenInactive means the introspection endpoint says the token is not active (revoked, expired, unknown).
	ReasonTokenInactive = "authn.token_inactive" // #nosec G101 -- a reason code, not a credential
	// ReasonTokenRevoked means the token server revoked this token.
	ReasonTokenRevoked = "authn.token_revoked" // #nosec G101 -- a reason code, not a credential
	// ReasonClientRevoked means the OAuth client the token was issued to is no longer valid.
	ReasonClientRevoked = "authn.client_revoked"
	// ReasonIntrospectionUnavailable means the introspection endpoint could not be reached or answered badly; the token was not accepted.
	ReasonIntrospectionUnavailable = "authn.introspection_unavailable"
	// ReasonStoreUnavailable means the state store that holds API keys (or OAuth clients) did not answer in time; the credential was not accepted.
	ReasonStoreUnavailable = "authn.store_unavailable"
	// ReasonBadCredentials means the API key is not known.
	ReasonBadCredentials = "authn.bad_credentials" // #nosec G101 -- a reason code, not a credential
	// ReasonKeyRevoked means the API key was revoked.
	ReasonKeyRevoked = "authn.key_revoked"
	// ReasonKeyExpired means the API key's expiry is past.
	ReasonKeyExpired = "authn.key_expired"
	// ReasonKeyAddressNotAllowed means the API key may be used only from certain addresses, and this is not one.
	ReasonKeyAddressNotAllowed = "authn.key_address_not_allowed"
	// ReasonBadCertificate means the client certificate lacks the field that names the subject.
	ReasonBadCertificate = "authn.bad_certificate"
	// ReasonCertificateNotAllowed means the client certificate's subject is not on the authenticator's allow list.
	ReasonCertificateNotAllowed = "authn.certificate_not_allowed"
)

// Reasons documents the denial reason codes of the authentication stage and its authenticators: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonMissingCredentials, Status: 401, Meaning: "The route needs a credential and the request carries none that the route's authenticators recognize.", Action: "Send the credential the WWW-Authenticate header asks for."},
		{Code: ReasonMalformed, Status: 401, Meaning: "The credential cannot be parsed (a bad token, two Authorization headers, an empty bearer token, a malformed API key).", Action: "Send exactly one well-formed credential."},
		{Code: ReasonTokenTooLarge, Status: 401, Meaning: "The token is larger than the authenticator's max_token_bytes.", Action: "Use a smaller token (fewer claims)."},
		{Code: ReasonAlgNotAllowed, Status: 401, Meaning: "The token's signature algorithm is not on the authenticator's allow list (never none).", Action: "Get a token from the expected issuer, signed with an accepted algorithm."},
		{Code: ReasonForeignKeyHeader, Status: 401, Meaning: "The token carries its own key or key URL (jwk, jku, x5u, x5c), which is never trusted.", Action: "Use a token from the expected issuer."},
		{Code: ReasonUnknownKey, Status: 401, Meaning: "The token names a key the issuer's key set does not hold.", Action: "Get a fresh token; if all fail, the issuer rotated keys the gateway cannot fetch."},
		{Code: ReasonBadSignature, Status: 401, Meaning: "The token's signature does not verify.", Action: "Get a new token from the issuer; never reuse a modified one."},
		{Code: ReasonMissingClaim, Status: 401, Meaning: "The token lacks a required claim (sub, exp, or one the config requires).", Action: "Get a token with the claims the API requires."},
		{Code: ReasonTokenExpired, Status: 401, Meaning: "The token's exp is past (beyond the allowed clock skew).", Action: "Refresh the token and retry."},
		{Code: ReasonNotYetValid, Status: 401, Meaning: "The token's nbf is in the future.", Action: "Check the client's clock; retry once the token is valid."},
		{Code: ReasonIssuedInFuture, Status: 401, Meaning: "The token's iat is in the future.", Action: "Check the issuer's and the client's clocks."},
		{Code: ReasonWrongAudience, Status: 401, Meaning: "The token's aud does not name this API.", Action: "Request a token for this API's audience."},
		{Code: ReasonWrongIssuer, Status: 401, Meaning: "The token's issuer is not one this route accepts.", Action: "Use a token from the issuer this API trusts."},
		{Code: ReasonTokenInactive, Status: 401, Meaning: "The introspection endpoint says the token is not active (revoked, expired, unknown).", Action: "Get a new token."},
		{Code: ReasonTokenRevoked, Status: 401, Meaning: "The token server revoked this token.", Action: "Get a new token."},
		{Code: ReasonClientRevoked, Status: 401, Meaning: "The OAuth client the token was issued to is no longer valid.", Action: "Ask for new client credentials."},
		{Code: ReasonIntrospectionUnavailable, Status: 503, Meaning: "The introspection endpoint could not be reached or answered badly; the token was not accepted.", Action: "Retry later (Retry-After)."},
		{Code: ReasonStoreUnavailable, Status: 503, Meaning: "The state store that holds API keys (or OAuth clients) did not answer in time; the credential was not accepted.", Action: "Retry later (Retry-After)."},
		{Code: ReasonBadCredentials, Status: 401, Meaning: "The API key is not known.", Action: "Check the key; create a new one if it was lost."},
		{Code: ReasonKeyRevoked, Status: 401, Meaning: "The API key was revoked.", Action: "Use another key."},
		{Code: ReasonKeyExpired, Status: 401, Meaning: "The API key's expiry is past.", Action: "Create or rotate to a new key."},
		{Code: ReasonKeyAddressNotAllowed, Status: 403, Meaning: "The API key may be used only from certain addresses, and this is not one.", Action: "Call from an address the key allows."},
		{Code: ReasonBadCertificate, Status: 401, Meaning: "The client certificate lacks the field that names the subject.", Action: "Use a certificate with the expected subject field."},
		{Code: ReasonCertificateNotAllowed, Status: 401, Meaning: "The client certificate's subject is not on the authenticator's allow list.", Action: "Use a certificate the API allows."},
	}
}
