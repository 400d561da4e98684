package golint

import (
	"go/ast"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// privileged are the (normalised) names of properties a client must not
// set on itself: who it is, what it may do, what it owns, what it has.
var privileged = map[string]bool{
	"role": true, "roles": true, "admin": true, "isadmin": true, "superuser": true, "issuperuser": true,
	"isstaff": true, "owner": true, "ownerid": true, "permission": true, "permissions": true,
	"balance": true, "isverified": true, "emailverified": true,
}

// MassAssign reports handlers that decode a request body into a struct
// with privileged properties.
var MassAssign = &analysis.Analyzer{
	Name: "massassign",
	Doc: `report request bodies decoded into structs with privileged fields (mass assignment)

A handler that decodes the request body (json.NewDecoder(r.Body).Decode,
json.Unmarshal of io.ReadAll(r.Body), gin's ShouldBindJSON and BindJSON)
into a struct with a field such as role, admin, is_admin, owner,
permissions or balance (by Go name or json tag) lets the client set that
field (OWASP API3:2023). Decode into a request type holding only what the
client may set, or tag the field json:"-".`,
	URL: "https://github.com/rampart-gw/rampart/blob/main/docs/lint/go.md#massassign",
	Run: runMassAssign,
}

func runMassAssign(pass *analysis.Pass) (any, error) {
	as := assignments(pass)
	for _, f := range pass.Files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			target, ok := decodeTarget(pass.TypesInfo, as, call)
			if !ok {
				return true
			}
			s, name := structOf(pass.TypesInfo.TypeOf(target))
			if s == nil {
				return true
			}
			var hits []string
			for _, fp := range encodedFields(s, "", 0, nil) {
				if privileged[normName(fp.json)] || privileged[normName(fp.path[strings.LastIndex(fp.path, ".")+1:])] {
					hits = append(hits, fp.path)
				}
			}
			if len(hits) > 0 {
				report(pass, call, "request body is decoded into %s, whose privileged %s %s the client can then set (mass assignment): decode into a type without them or tag them json:\"-\"",
					name, plural(len(hits), "field"), strings.Join(hits, ", "))
			}
			return true
		})
	}
	return nil, nil
}
