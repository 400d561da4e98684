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

// TestExampleSecretStructuredKey: placeholderSecret is meant only for
// the name-based detector, "a value with the structure of a real key
// (AWS, GitHub, a JWT, a private key) is reported whatever it says";
// but under a key-like name the name-based detector answers first, so a
// random AWS access key id whose letters happen to spell a placeholder word
// (AKIAZ7QK3TEST4MPLVTR) is taken for made up.
func TestExampleSecretStructuredKey(t *testing.T) {
	fs, _ := check(t, filepath.Join("testdata", "review", "structured-secret.yaml"))
	if len(ofRule(fs, ruleExampleSecret.ID)) == 0 {
		t.Errorf("example-secret misses an AWS key id under access_key_id; findings: %v", ids(fs))
	}
}
