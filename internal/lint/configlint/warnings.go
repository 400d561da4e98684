package configlint

import (
	"strconv"
	"strings"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
)

// restating maps the rules that restate a warning of config validation,
// more precisely, to the last token of the warning's path: where config
// warns of every plaintext listener, plaintext-listener reports those on
// a network address at the same node; where it warns of every public
// route, public-write reports those that write.
var restating = map[string]string{
	RulePlaintextListener: "plaintext",
	RulePublicWrite:       "public",
}

// Unrestated returns the warnings of config validation that no finding
// in fs restates, in their order, so that config validate prints each
// problem once: the finding (with its rule id and severity) rather than
// the warning. A warning stays unless a restating rule's finding stands
// at the node of the warning's path.
func Unrestated(warnings []config.Problem, fs []findings.Finding) []config.Problem {
	at := map[string]bool{}
	for _, f := range fs {
		tok, ok := restating[f.RuleID]
		if !ok || f.Location == nil || !strings.HasSuffix(f.Location.Pointer, "/"+tok) {
			continue
		}
		at[dottedPath(f.Location.Pointer)] = true
	}
	var out []config.Problem
	for _, w := range warnings {
		if !at[w.Path] {
			out = append(out, w)
		}
	}
	return out
}

// dottedPath writes a JSON pointer as config writes a problem's path:
// /listeners/1/plaintext is listeners[1].plaintext.
func dottedPath(ptr string) string {
	var b strings.Builder
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	return b.String()
}
