package speclint

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestCallbacksAndWebhooks checks that the operations of callbacks and
// 3.1 webhooks are walked, with pointers into them, by the rules that
// apply to a request the API sends (callbacks.go says which), and that
// the rules about the API's own endpoints stay silent there. The
// findings are pinned in testdata/golden/callbacks.txt.
func TestCallbacksAndWebhooks(t *testing.T) {
	fs, notes := check(t, filepath.Join("testdata", "callbacks.yaml"))
	if len(notes) != 0 {
		t.Errorf("notes: %v", notes)
	}
	notHere := map[string]bool{}
	for _, ru := range []*rule{&ruleWriteUnauthenticated, &ruleReadUnauthenticated, &ruleWeakerSibling, &ruleResponse400, &ruleResponse401,
		&ruleResponse429, &ruleResponse500, &ruleRateLimitHeaders, &ruleRetryAfter, &ruleCORSOrigin, &ruleBOLASurface, &ruleNumericID,
		&ruleURLParameter, &ruleURLProperty, &rulePagination, &ruleMassAssignment, &ruleUploadBounds, &ruleDeprecated} {
		notHere[ru.ID] = true
	}
	var b strings.Builder
	for _, f := range fs {
		ptr := f.Location.Pointer
		inCallback := strings.Contains(ptr, "/callbacks/") || strings.HasPrefix(ptr, "/webhooks/")
		if inCallback && notHere[f.RuleID] {
			t.Errorf("%s reported in a callback or webhook: %s", f.RuleID, ptr)
		}
		fmt.Fprintf(&b, "%s %s %s|%s %s %s| %s\n", strings.TrimPrefix(f.RuleID, rulePrefix), ptr, f.Key, f.Method, f.PathTemplate, f.OperationID, f.Message)
	}
	golden(t, filepath.Join("testdata", "golden", "callbacks.txt"), []byte(b.String()))
}
