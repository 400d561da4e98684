package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImportOpenAPI(t *testing.T) {
	const cases = "../../internal/specimport/testdata/cases.yaml"
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
	}{
		{"demo", []string{"../../internal/demo/openapi.yaml", "--upstream", "demo"}, exitOK, "openapi: {spec: ../../internal/demo/openapi.yaml, operation: getUser}", ""},
		{"warnings on stderr, routes on stdout", []string{cases, "--auth", "oauth=idp"}, exitOK, "auth: [idp, key]", "cases.yaml:53:5: warning: GET /reports (listReports): the spec declares no security"},
		{"second server", []string{cases, "--server", "1"}, exitOK, "path: /v2/items", "import again with --server 0"},
		{"no argument", nil, exitUsage, "", "takes 1 argument(s)"},
		{"unknown scheme", []string{cases, "--auth", "nope=x"}, exitUsage, "", `declares no security scheme "nope"`},
		{"bad auth flag", []string{cases, "--auth", "oauth"}, exitUsage, "", "--auth"},
		{"server out of range", []string{cases, "--server", "5"}, exitUsage, "", "--server 5"},
		{"a URL", []string{"https://example.com/openapi.yaml"}, exitUsage, "", "download the spec first"},
		{"missing spec", []string{"testdata/none.yaml"}, exitFailure, "", "no such file"},
		{"not a spec", []string{"testdata/good.yaml"}, exitFailure, "", `missing "openapi" version field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append([]string{"config", "import-openapi"}, tt.args...), &out, &errOut)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout %q lacks %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderr) {
				t.Errorf("stderr %q lacks %q", errOut.String(), tt.stderr)
			}
		})
	}
}

func TestImportOpenAPIOutputFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "routes.yaml")
	var out, stdout, errOut bytes.Buffer
	if code := run([]string{"config", "import-openapi", "../../internal/demo/openapi.yaml", "-o", file}, &out, &errOut); code != exitOK {
		t.Fatalf("exit code %d: %s", code, errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want nothing with -o", out.String())
	}
	if !strings.Contains(errOut.String(), "7 route(s)") {
		t.Errorf("stderr %q lacks the count", errOut.String())
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"config", "import-openapi", "../../internal/demo/openapi.yaml"}, &stdout, &errOut); code != exitOK || stdout.String() != string(got) {
		t.Errorf("the file differs from stdout (exit %d)", code)
	}
}

// TestImportThenValidate: the demo's config with its routes replaced by
// the import of its spec validates, and config validate finds no drift
// between the routes and the spec they name.
func TestImportThenValidate(t *testing.T) {
	var routes, errOut bytes.Buffer
	if code := run([]string{"config", "import-openapi", "../../internal/demo/openapi.yaml", "--upstream", "demo", "--auth", "bearer=demo", "--auth", "apiKey=demo-keys"}, &routes, &errOut); code != exitOK {
		t.Fatalf("import: exit %d: %s", code, errOut.String())
	}
	demo, err := os.ReadFile("../../internal/demo/rampart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	head, _, ok := strings.Cut(string(demo), "\nroutes:\n")
	if !ok {
		t.Fatal("the demo config has no routes section")
	}
	file := filepath.Join(t.TempDir(), "rampart.yaml")
	if err := os.WriteFile(file, []byte(head+"\n"+routes.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	errOut.Reset()
	if code := run([]string{"config", "validate", "-c", file}, &out, &errOut); code != exitOK {
		t.Fatalf("validate: exit %d: %s%s", code, out.String(), errOut.String())
	}
	for _, rule := range []string{"not-in-spec", "weaker-than-spec"} {
		if strings.Contains(out.String(), rule) {
			t.Errorf("the imported routes drift from their spec:\n%s", out.String())
		}
	}
	if !strings.Contains(out.String(), ": valid") {
		t.Errorf("validate output %q lacks valid", out.String())
	}
}
