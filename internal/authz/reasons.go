package authz

import "github.com/rampart-gw/rampart/internal/pipeline"

// Denial reason codes of the authorization stage (docs/reasons.md).
const (
	// ReasonNoRule means the route has no authorization rule for this method (deny by default).
	ReasonNoRule = "authz.no_rule"
	// ReasonNoIdentity means the rule needs an identity and the request has none.
	ReasonNoIdentity = "authz.no_identity"
	// ReasonMissingRole means the identity has none of the roles the rule requires.
	ReasonMissingRole = "authz.missing_role"
	// ReasonMissingScope means the credential lacks a scope the rule requires; WWW-Authenticate names it (insufficient_scope).
	ReasonMissingScope = "authz.missing_scope"
	// ReasonMissingPermission means the identity lacks a permission the rule requires.
	ReasonMissingPermission = "authz.missing_permission"
	// ReasonNotOwner means the object the request names belongs to someone else (an owner rule).
	ReasonNotOwner = "authz.not_owner"
	// ReasonPolicyDenied means a Cedar policy does not permit the request.
	ReasonPolicyDenied = "authz.policy_denied"
	// ReasonPolicyError means the policy could not be evaluated (a broken policy or attribute); denied by default.
	ReasonPolicyError = "authz.policy_error"
	// ReasonFieldNotWritable means the request sets a field or query parameter the identity may not write (property-level authorization).
	ReasonFieldNotWritable = "authz.field_not_writable"
	// ReasonBodyNotJsonObject means a route with property rules needs a JSON object body.
	ReasonBodyNotJsonObject = "authz.body_not_json_object"
	// ReasonResponseNotJson means a route with response field rules got a response that is not JSON; it is withheld rather than passed unfiltered.
	ReasonResponseNotJson = "authz.response_not_json"
	// ReasonResponseEncoded means a route with response field rules got a compressed response it cannot filter; withheld.
	ReasonResponseEncoded = "authz.response_encoded"
	// ReasonResponsePartial means a route with response field rules got a partial response (206), which cannot be filtered; withheld.
	ReasonResponsePartial = "authz.response_partial"
)

// Reasons documents the denial reason codes of the authorization stage: each
// code, the status it is sent with, what it means and what the client
// should do. docs/reasons.md is generated from it.
func Reasons() []pipeline.ReasonInfo {
	return []pipeline.ReasonInfo{
		{Code: ReasonNoRule, Status: 403, Meaning: "The route has no authorization rule for this method (deny by default).", Action: "Nothing to retry: the operation is not offered."},
		{Code: ReasonNoIdentity, Status: 403, Meaning: "The rule needs an identity and the request has none.", Action: "Authenticate first."},
		{Code: ReasonMissingRole, Status: 403, Meaning: "The identity has none of the roles the rule requires.", Action: "Use an account with the required role."},
		{Code: ReasonMissingScope, Status: 403, Meaning: "The credential lacks a scope the rule requires; WWW-Authenticate names it (insufficient_scope).", Action: "Request a token with the scope."},
		{Code: ReasonMissingPermission, Status: 403, Meaning: "The identity lacks a permission the rule requires.", Action: "Ask for the permission."},
		{Code: ReasonNotOwner, Status: 403, Meaning: "The object the request names belongs to someone else (an owner rule).", Action: "Use your own objects' ids."},
		{Code: ReasonPolicyDenied, Status: 403, Meaning: "A Cedar policy does not permit the request.", Action: "Nothing to retry; ask the operators if the policy is wrong."},
		{Code: ReasonPolicyError, Status: 403, Meaning: "The policy could not be evaluated (a broken policy or attribute); denied by default.", Action: "Report the request id; operators must fix the policy."},
		{Code: ReasonFieldNotWritable, Status: 403, Meaning: "The request sets a field or query parameter the identity may not write (property-level authorization).", Action: "Leave the field out."},
		{Code: ReasonBodyNotJsonObject, Status: 415, Meaning: "A route with property rules needs a JSON object body.", Action: "Send Content-Type: application/json with an object."},
		{Code: ReasonResponseNotJson, Status: 502, Meaning: "A route with response field rules got a response that is not JSON; it is withheld rather than passed unfiltered.", Action: "Report it: the API answered in a form the gateway cannot filter."},
		{Code: ReasonResponseEncoded, Status: 502, Meaning: "A route with response field rules got a compressed response it cannot filter; withheld.", Action: "Report it; operators should disable upstream compression on the route."},
		{Code: ReasonResponsePartial, Status: 502, Meaning: "A route with response field rules got a partial response (206), which cannot be filtered; withheld.", Action: "Ask for the whole resource (no Range header)."},
	}
}
