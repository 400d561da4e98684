package speclint

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

// TestParallelExternalRef: one
// external $ref shared by operations that land in different forks. One
// run reports the referenced schema once, at the first $ref (r.external);
// each fork starts from the pre-fork r.external, walks it again at its
// own first $ref, a pointer of its own, so the merge's dedupe by rule and
// pointer keeps one copy per fork.
func TestParallelExternalRef(t *testing.T) {
	dir := t.TempDir()
	ext := "Name:\n  type: string\n"
	var b strings.Builder
	b.WriteString("openapi: 3.0.3\ninfo: {title: t, version: '1'}\nsecurity: []\npaths:\n")
	for i := range 300 {
		fmt.Fprintf(&b, "  /r%d:\n    post:\n      operationId: op%d\n      requestBody:\n        content:\n          application/json:\n            schema: {$ref: 'ext.yaml#/Name'}\n      responses: {'204': {description: ok}}\n", i, i)
	}
	for name, data := range map[string]string{"ext.yaml": ext, "openapi.yaml": b.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := openapi.Load(context.Background(), filepath.Join(dir, "openapi.yaml"), openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := New()
	count := func(workers int) (n int, all int) {
		r := newRun(context.Background(), s, c.secrets)
		if err := r.all(workers); err != nil {
			t.Fatal(err)
		}
		for _, f := range r.kept() {
			if f.RuleID == ruleStringMaxLength.ID {
				n++
			}
		}
		return n, len(r.kept())
	}
	want, wantAll := count(1)
	for _, workers := range []int{2, 8} {
		if got, gotAll := count(workers); got != want || gotAll != wantAll {
			t.Errorf("%d workers: %d string-max-length findings (%d in all), one run %d (%d)", workers, got, gotAll, want, wantAll)
		}
	}
}
