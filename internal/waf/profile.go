package waf

import (
	"maps"
	"slices"
)

// ProfileNames returns the names Options.Profiles accepts, sorted, for
// config validation and docs.
func ProfileNames() []string { return slices.Sorted(maps.Keys(profiles)) }

// profile is a named set of tunings a kind of application needs: CRS
// settings (tx variables set before the rules run) and rule exclusions.
type profile struct {
	// methods replaces tx.allowed_methods when not empty.
	methods string
	// contentTypes replaces tx.allowed_request_content_type when not empty.
	contentTypes string
	// exclusions are applied like Options.Exclusions.
	exclusions []Exclusion
}

// profiles are the named exclusion profiles Options.Profiles may name.
//
// json-api: what the CRS refuses in an ordinary JSON API, each tuning
// measured by TestJSONAPIProfile (a legitimate request the CRS blocks or
// scores without it and passes with it):
//
//	| tuning                                 | rule   | PL | reason                                                                                          |
//	|----------------------------------------|--------|----|-------------------------------------------------------------------------------------------------|
//	| allowed methods + PUT PATCH DELETE     | 911100 | 1  | the CRS allows GET HEAD POST OPTIONS only; REST updates and deletes need the others              |
//	| allowed content types + JSON variants  | 920420 | 1  | the CRS allows application/json only; merge-patch+json, json-patch+json, problem+json and vnd.api+json are JSON APIs' own types (Coraza parses them as JSON all the same) |
//	| 920320 off (missing User-Agent)        | 920320 | 2  | machine clients often send none; 2 points that add up with any warning to a block                |
//	| 931130 off (off-domain URL in an arg)  | 931130 | 2  | URLs are data in a JSON API (website, avatar, webhook, redirect_uri); RFI is a PHP-include threat, and PL1's 931100-931120 stay on |
//
// The profile turns off no SQLi, XSS, RCE or traversal rule: free-text
// fields that false-positive at PL2 (942200 on "Coffee mug, blue", 942260
// on "select the blue one from the list, or ... if it's sold out") are
// excluded per field with a target exclusion (942200, ARGS:json.title),
// which keeps the rule on for the rest of the request.
var profiles = map[string]profile{
	"json-api": {
		methods: "GET HEAD POST OPTIONS PUT PATCH DELETE",
		contentTypes: "|application/x-www-form-urlencoded| |multipart/form-data| |text/xml| |application/xml| |application/soap+xml| |application/json|" +
			" |application/merge-patch+json| |application/json-patch+json| |application/problem+json| |application/vnd.api+json|",
		exclusions: []Exclusion{
			{Rules: []RuleRange{{920320, 920320}}},
			{Rules: []RuleRange{{931130, 931130}}},
		},
	},
}
