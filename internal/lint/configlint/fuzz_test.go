package configlint_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/lint/configlint"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// FuzzCheck feeds arbitrary bytes through config.Parse, yamlpos.New and
// the checker: no panic, and every finding has a known rule id and a
// location inside the file. The seeds are every config in testdata.
func FuzzCheck(f *testing.F) {
	seeds, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	rules, _ := filepath.Glob("testdata/rules/*/*.yaml")
	for _, p := range append(seeds, rules...) {
		if strings.HasSuffix(p, "openapi.yaml") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("version: 1\nroutes: [{path: /x}]\n"))
	known := map[string]bool{}
	for _, r := range (configlint.Checker{}).Rules() {
		known[r.ID] = true
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		idx, err := yamlpos.New(data)
		if err != nil {
			return
		}
		// YAML breaks lines at \n, \r\n and a lone \r.
		lines := bytes.Count(bytes.ReplaceAll(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\r"), []byte("\n")), []byte("\n")) + 1
		fs, _, err := configlint.Checker{}.Check(context.Background(), &lint.Input{Config: cfg, ConfigFile: "fuzz.yaml", ConfigIndex: idx})
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fs {
			if !known[fd.RuleID] {
				t.Fatalf("unknown rule id %q", fd.RuleID)
			}
			l := fd.Location
			if l == nil || l.File != "fuzz.yaml" || l.Line < 1 || l.Line > lines || l.Column < 1 {
				t.Fatalf("%s: location %+v outside the file of %d lines", fd.RuleID, l, lines)
			}
			if _, ok := idx[l.Pointer]; !ok {
				t.Fatalf("%s: pointer %q is not in the file", fd.RuleID, l.Pointer)
			}
		}
	})
}
