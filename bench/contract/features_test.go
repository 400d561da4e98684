package contract

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
)

// TestFeatures runs the edge cases of the comparison against each
// validator on both dialects of the keyword spec and prints a matrix:
// "refused" or "accepted" and the first message, shortened. Each case
// says which verdict is right. go test -run TestFeatures -v
func TestFeatures(t *testing.T) {
	const uuid = "3f1c2a9e-8b4d-4c6e-9a1f-000000000001"
	cases := []struct {
		name, body string
		refuse     bool
	}{
		{"readOnly property in request", `{"id":"x"}`, true},
		{"writeOnly property in request", `{"secret":"s"}`, false},
		{"format uuid", `{"uuid":"nope"}`, true},
		{"format date-time", `{"dt":"yesterday"}`, true},
		{"format email", `{"email":"bob"}`, true},
		{"format uri", `{"uri":"not a uri"}`, true},
		{"format int32 overflow", `{"i32":2147483648}`, true},
		{"format int64 overflow", `{"i64":1e30}`, true},
		{"additionalProperties false", `{"typ":1,"discount":1}`, true},
		{"maxLength (runes)", `{"maxlen":"éééé"}`, false},
		{"exclusiveMinimum", `{"exmin":0}`, true},
		{"null where not nullable", `{"nonnul":null}`, true},
		{"null where nullable / type null", `{"nul":null}`, false},
		{"oneOf two match", `{"one":5}`, false},
		{"const (3.1)", `{"konst":"other"}`, true},
		{"uuid ok", `{"uuid":"` + uuid + `"}`, false},
	}
	var out strings.Builder
	for _, spec := range []string{"keywords-3.0", "keywords-3.1"} {
		file := "../../internal/contract/testdata/" + spec + ".yaml"
		fmt.Fprintf(&out, "\n### %s\n\n| case | right | kin | pb33f | rampart |\n|---|---|---|---|---|\n", spec)
		vs := map[string]validate{}
		for _, vd := range validators {
			vs[vd.name] = vd.new(t, file)
		}
		for _, c := range cases {
			if strings.Contains(c.name, "3.1") && spec == "keywords-3.0" {
				continue
			}
			right := "accept"
			if c.refuse {
				right = "refuse"
			}
			fmt.Fprintf(&out, "| %s | %s |", c.name, right)
			for _, vd := range validators {
				r := req("POST", "https://x.invalid/things", c.body)()
				errs := vs[vd.name](r)
				cell := "accept"
				if errs != nil {
					cell = "refuse: " + short(errs[0])
				}
				if (errs != nil) != c.refuse {
					cell = "**" + cell + "** ✗"
				}
				fmt.Fprintf(&out, " %s |", cell)
			}
			out.WriteString("\n")
		}
	}
	t.Log(out.String())
	if p := os.Getenv("FEATURES_OUT"); p != "" {
		_ = os.WriteFile(p, []byte(out.String()), 0o600)
	}
	_ = http.MethodPost
}

func short(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 90 {
		s = s[:90] + "…"
	}
	return s
}
