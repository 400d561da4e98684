package keyring

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rampart-gw/rampart/internal/secretfile"
)

// TestKEKFileRefused: a KEK file the gateway should not trust, or cannot
// parse, is an error naming it once, for loading with and without create
// and for adding a version; nothing is written over it.
func TestKEKFileRefused(t *testing.T) {
	good, _ := NewKEKLine(1)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		link    bool
		want    error
		wantMsg string
	}{
		{name: "group readable", content: good + "\n", mode: 0o640, want: secretfile.ErrPermissions},
		{name: "symlink", content: good + "\n", mode: 0o600, link: true, want: secretfile.ErrSymlink},
		{name: "bad entry", content: "# c\n1:AAAA\n", mode: 0o600, wantMsg: "entry 1 (version 1): key must be 32 bytes"},
		{name: "empty", content: "", mode: 0o600, wantMsg: "no key-encryption key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path, file := filepath.Join(dir, "kek"), filepath.Join(dir, "kek")
			if tt.link {
				file = filepath.Join(dir, "real")
				if err := os.Symlink(file, path); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(file, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(file, tt.mode); err != nil {
				t.Fatal(err)
			}
			calls := map[string]func() error{
				"load":        func() error { _, err := LoadKEKFile(path, false); return err },
				"load+create": func() error { _, err := LoadKEKFile(path, true); return err },
				"add version": func() error { _, err := AddKEKVersion(path); return err },
			}
			for what, call := range calls {
				err := call()
				if err == nil || strings.Count(err.Error(), path) != 1 ||
					(tt.want != nil && !errors.Is(err, tt.want)) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("%s: err = %v, want %v %q naming %s once", what, err, tt.want, tt.wantMsg, path)
				}
				if err != nil && strings.Contains(err.Error(), good[2:]) {
					t.Errorf("%s: error quotes key material", what)
				}
			}
			if b, _ := os.ReadFile(file); string(b) != tt.content {
				t.Error("the KEK file was changed")
			}
		})
	}
	if _, err := LoadKEKFile(filepath.Join(t.TempDir(), "missing"), false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file without create: err = %v, want fs.ErrNotExist", err)
	}
}

// TestKEKFileCreated: the created file keeps its format and mode, and a
// version added to it is read back.
func TestKEKFileCreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "kek")
	k, err := LoadKEKFile(path, true)
	if err != nil || k.Current() != 1 {
		t.Fatalf("current %v, %v", k, err)
	}
	b, _ := os.ReadFile(path)
	if lines := strings.Split(string(b), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "# ") || !strings.HasPrefix(lines[1], "1:") {
		t.Errorf("format changed: %d lines", len(lines))
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o", fi.Mode().Perm())
	}
	if v, err := AddKEKVersion(path); err != nil || v != 2 {
		t.Fatalf("added %d, %v", v, err)
	}
	if k, err := LoadKEKFile(path, false); err != nil || k.Current() != 2 || !k.Has(1) {
		t.Fatalf("after adding: %v, %v", k, err)
	}
}
