package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The built vettool runs under go vet and reports a known finding of the
// testdata module at its position.
func TestGoVet(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rampart-vet")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building: %v\n%s", err, out)
	}
	cmd := exec.Command("go", "vet", "-vettool="+bin, "./...")
	cmd.Dir = "testdata/mod"
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("go vet succeeded, want it to report a finding:\n%s", out)
	}
	want := "main.go:11:19: SQL passed to Query is built with string concatenation"
	if !strings.Contains(string(out), want) {
		t.Errorf("go vet output lacks %q:\n%s", want, out)
	}
	if strings.Contains(string(out), "ListenAndServe") {
		t.Errorf("go vet reported a finding the module does not have:\n%s", out)
	}
}
