package speclint

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/openapi"
)

// FuzzCheck loads arbitrary bytes and checks whatever loads: no panic,
// every finding names a known rule and a place inside the document.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/rules/*/*.yaml")
	for _, file := range append(seeds, more...) {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{id}":{"x-rampart-lint-ignore":{"a":1},"get":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"$ref":"#/components/schemas/R"}}],"responses":{"200":{"description":"x"}}}}},"components":{"schemas":{"R":{"type":["integer","null"],"items":{"$ref":"#/components/schemas/R"}}}}}`))
	// YAML aliases that expand exponentially (found by this fuzz test:
	// the walks must stay bounded).
	f.Add([]byte("openapi: 3.0.0\ninfo: {title: t, version: \"1\"}\npaths: {}\ncomponents:\n  examples:\n    E:\n      value:\n" +
		"        a: &a [x, x, x, x, x, x, x, x]\n        b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n        c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"        d: &d [*c, *c, *c, *c, *c, *c, *c, *c]\n        e: &e [*d, *d, *d, *d, *d, *d, *d, *d]\n        f: [*e, *e, *e, *e, *e, *e, *e, *e]\n"))
	c := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := openapi.LoadData(context.Background(), data, "", openapi.Options{})
		if err != nil {
			return
		}
		fs, _, err := c.Check(context.Background(), &lint.Input{Spec: s})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, fi := range fs {
			if _, ok := ruleByID(fi.RuleID); !ok {
				t.Fatalf("finding with unknown rule %q", fi.RuleID)
			}
			l := fi.Location
			if l == nil || l.File != s.Source || l.Line < 1 || l.Line > lines || l.Column < 1 {
				t.Fatalf("finding %s outside the document (%d lines): %+v", fi.RuleID, lines, l)
			}
			if at, _ := s.Locate(l.Pointer); at != l.Pointer {
				t.Fatalf("finding %s names pointer %q, which the document does not have", fi.RuleID, l.Pointer)
			}
		}
	})
}
