// Package findingstest holds test helpers for reports rendered by package
// findings: validation of a SARIF log against the official OASIS SARIF
// 2.1.0 schema (sarif-schema-2.1.0.json, from oasis-tcs/sarif-spec,
// embedded), and reading golden JSON reports to tell which rules they
// show. Only tests import it.
package findingstest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed sarif-schema-2.1.0.json
var sarifSchema []byte

// Schema compiles the SARIF 2.1.0 schema.
func Schema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sarifSchema))
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		tb.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		tb.Fatal(err)
	}
	return sch
}

// ValidateSARIF fails the test when log does not validate against the
// schema.
func ValidateSARIF(tb testing.TB, log []byte) {
	tb.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(log))
	if err != nil {
		tb.Fatalf("SARIF is not JSON: %v", err)
	}
	if err := Schema(tb).Validate(inst); err != nil {
		tb.Fatalf("SARIF does not validate: %v\n%s", err, log)
	}
}

// Covered returns the ids of the rules that have a finding in the JSON
// reports in files (golden files): a checker's goldens must show every
// rule it has. It reads only what it needs, so that package findings'
// own tests can use this package too.
func Covered(tb testing.TB, files ...string) map[string]bool {
	tb.Helper()
	seen := map[string]bool{}
	for _, file := range files {
		b, err := os.ReadFile(file) // #nosec G304 -- a test's golden file
		if err != nil {
			tb.Fatal(err)
		}
		var r struct {
			Findings []struct {
				RuleID string `json:"ruleId"`
			} `json:"findings"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		for _, f := range r.Findings {
			seen[f.RuleID] = true
		}
	}
	return seen
}
