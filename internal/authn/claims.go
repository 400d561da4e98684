package authn

import "strings"

// Claim follows a dotted claim path ("realm_access.roles") in decoded JSON
// claims, returning nil where it leads nowhere.
func Claim(claims map[string]any, path string) any {
	var v any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[part]
	}
	return v
}

// ClaimStrings collects the string values of several claims: lists of
// strings, or strings (split on spaces when spaceSeparated, as OAuth's
// scope), without duplicates.
func ClaimStrings(claims map[string]any, paths []string, spaceSeparated bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range paths {
		switch v := Claim(claims, p).(type) {
		case string:
			if spaceSeparated {
				for _, f := range strings.Fields(v) {
					add(f)
				}
			} else {
				add(v)
			}
		case []any:
			for _, e := range v {
				if s, ok := e.(string); ok {
					add(s)
				}
			}
		}
	}
	return out
}
