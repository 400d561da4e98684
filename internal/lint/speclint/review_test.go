package speclint

import (
	"path/filepath"
	"testing"
)

// TestSensitiveResponseCollections: a response property named after a
// secret whose values are strings held in an array or a map
// (refresh_tokens: [string], api_keys: {string: string}) still hands out
// secrets; mayHoldScalar must not treat it like a boolean flag or a
// settings object.
func TestSensitiveResponseCollections(t *testing.T) {
	fs, _ := check(t, filepath.Join("testdata", "review", "sensitive-array.yaml"))
	got := map[string]bool{}
	for _, f := range ofRule(fs, ruleSensitiveResponse.ID) {
		got[f.Key] = true
	}
	for _, name := range []string{"refresh_tokens", "api_keys"} {
		if !got[name] {
			t.Errorf("sensitive-response misses %s; findings: %v", name, ids(fs))
		}
	}
}
