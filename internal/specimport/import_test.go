package specimport

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/openapi"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func load(t *testing.T, file string) *openapi.Spec {
	t.Helper()
	s, err := openapi.Load(context.Background(), file, openapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o600); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (go test -run %s -update to accept):\n--- got\n%s\n--- want\n%s", path, t.Name(), got, want)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, spec, golden string
		o                  Options
	}{
		{"demo", "../demo/openapi.yaml", "demo.golden.yaml", Options{Spec: "openapi.yaml", Upstream: "demo"}},
		{"cases", "testdata/cases.yaml", "cases.golden.yaml", Options{Spec: "testdata/cases.yaml", Auth: map[string]string{"oauth": "idp"}}},
		{"cases, second server", "testdata/cases.yaml", "cases-server1.golden.yaml", Options{Spec: "testdata/cases.yaml", Server: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := Import(load(t, tt.spec), tt.o)
			if err != nil {
				t.Fatal(err)
			}
			out := append([]byte(nil), res.YAML...)
			out = append(out, []byte("# warnings:\n")...)
			for _, w := range res.Warnings {
				out = append(out, []byte("#   "+w+"\n")...)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestOptionErrors(t *testing.T) {
	s := load(t, "testdata/cases.yaml")
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"unknown scheme", Options{Spec: "x", Auth: map[string]string{"nope": "idp"}}, `declares no security scheme "nope" (it has key, oauth)`},
		{"server out of range", Options{Spec: "x", Server: 2}, "--server 2: testdata/cases.yaml has 2 server(s)"},
		{"negative server", Options{Spec: "x", Server: -1}, "--server -1"},
		{"no spec path", Options{}, "spec path"},
		{"empty authenticator", Options{Spec: "x", Auth: map[string]string{"key": ""}}, "--auth key=: name the authenticator"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(s, tt.o)
			var oe *OptionError
			if err == nil || !errors.As(err, &oe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want an *OptionError with %q", err, tt.want)
			}
		})
	}
}
