// Package authz holds rampart scan's authorization checks, the ones a
// scanner needs two identities for: broken object level authorization
// (API1:2023, BOLA: one identity reads, changes or deletes another's
// object), broken function level authorization (API5:2023, BFLA: a
// low-privilege identity calls an administrative operation) and mass
// assignment (API3:2023: a caller sets a privileged property of its own
// object, proven by reading the object back).
//
// Each finding rests on a control: the owner's own view of the object
// (BOLA, judged by response similarity, not by status), a privileged
// identity's answer (BFLA), the object's state before the write (mass
// assignment).
package authz

import (
	"github.com/rampart-gw/rampart/internal/findings"
)

// Rules.
var (
	BOLA = findings.Rule{ID: "rampart.scan.api1.bola", Name: "Broken object level authorization",
		Description: "An identity reads, changes or deletes an object that belongs to another identity, by putting the other object's id in the path, a query parameter or a JSON body member.",
		Help:        "Check on every request that the caller owns (or may access) the object the id names, in the API or in the gateway (Rampart: authz.owner with a path or body parameter equal to a claim).",
		OWASP:       "API1:2023", Severity: findings.High}
	BFLA = findings.Rule{ID: "rampart.scan.api5.bfla", Name: "Broken function level authorization",
		Description: "A low-privilege identity calls an administrative operation and gets the same kind of answer as an administrator, or an administrative write takes effect on an administrator's object.",
		Help:        "Require a role or permission for administrative operations (Rampart: authz.roles or authz.permissions on the route, per method where needed).",
		OWASP:       "API5:2023", Severity: findings.High}
	MassAssignment = findings.Rule{ID: "rampart.scan.api3.mass-assignment", Name: "Mass assignment of a privileged property",
		Description: "A caller sets a property it should not control (role, admin flag, owner, ...) on its own object, and reading the object back shows the new value.",
		Help:        "Bind request bodies to an allowlist of writable fields (Rampart: authz.writable_fields), never to the stored model.",
		OWASP:       "API3:2023", Severity: findings.High}
)
