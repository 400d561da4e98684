package configlint

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSameFile: a copy of a spec is that spec only when copies count
// (neither has external $refs, which two copies in different folders may
// resolve to different files); a path and a link are always.
func TestSameFile(t *testing.T) {
	const spec = "testdata/routespec/openapi.yaml"
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cp, link := filepath.Join(dir, "copy.yaml"), filepath.Join(dir, "link.yaml")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(spec)
	if err := os.Symlink(abs, link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b   string
		copies bool
		want   bool
	}{
		{spec, spec, false, true},
		{spec, abs, false, true},
		{spec, link, false, true},
		{spec, cp, true, true},
		{spec, cp, false, false},
		{spec, "testdata/routespec/good.yaml", true, false},
		{spec, "https://example.com/openapi.yaml", true, false},
	} {
		if got := sameFile(tc.a, tc.b, tc.copies); got != tc.want {
			t.Errorf("sameFile(%s, %s, copies %v) = %v, want %v", tc.a, tc.b, tc.copies, got, tc.want)
		}
	}
}
