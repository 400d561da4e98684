package secretfile

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// errShort is what the test validator answers; the tests look for it
// with errors.Is.
var errShort = errors.New("shorter than 16 bytes")

func valid16(b []byte) error {
	if len(b) < 16 {
		return errShort
	}
	return nil
}

func random() ([]byte, error) {
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return []byte(hex.EncodeToString(b)), err
}

const existing = "an existing secret, long enough"

func TestLoadOrCreate(t *testing.T) {
	type setup func(t *testing.T, path string)
	write := func(content string, mode fs.FileMode) setup {
		return func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil { // WriteFile's mode passes the umask
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name    string
		setup   setup // nil: path does not exist
		path    string
		wantErr error  // nil: success
		want    string // on success; "" means freshly generated
		created bool
	}{
		{name: "exists", setup: write(existing, 0o600), want: existing},
		{name: "exists read-only", setup: write(existing, 0o400), want: existing},
		{name: "missing", created: true},
		{name: "missing parent directories", path: "a/b/secret", created: true},
		{name: "invalid content", setup: write("short", 0o600), wantErr: errShort},
		{name: "empty file", setup: write("", 0o600), wantErr: errShort},
		{name: "too large", setup: write(strings.Repeat("x", MaxSize+1), 0o600), wantErr: ErrTooLarge},

		// A secret others may read is leaked; one they may write can be
		// replaced by theirs.
		{name: "group readable", setup: write(existing, 0o640), wantErr: ErrPermissions},
		{name: "other readable", setup: write(existing, 0o604), wantErr: ErrPermissions},
		{name: "group writable", setup: write(existing, 0o620), wantErr: ErrPermissions},
		{name: "world everything", setup: write(existing, 0o777), wantErr: ErrPermissions},

		// Whoever plants a link chooses what is read as the secret; a
		// dangling one must not send the creation elsewhere nor loop.
		{name: "symlink to a valid file", wantErr: ErrSymlink, setup: func(t *testing.T, path string) {
			target := filepath.Join(filepath.Dir(path), "target")
			write(existing, 0o600)(t, target)
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "dangling symlink", wantErr: ErrSymlink, setup: func(t *testing.T, path string) {
			if err := os.Symlink(filepath.Join(filepath.Dir(path), "nowhere"), path); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "directory", wantErr: ErrNotRegular, setup: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "fifo", wantErr: ErrNotRegular, setup: func(t *testing.T, path string) {
			if err := mkfifo(path); err != nil {
				t.Skip("no FIFOs here:", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			rel := tt.path
			if rel == "" {
				rel = "secret"
			}
			path := filepath.Join(dir, rel)
			if errors.Is(tt.wantErr, ErrPermissions) && !checkPerm {
				t.Skip("modes are not checked on", runtime.GOOS)
			}
			if tt.setup != nil {
				tt.setup(t, path)
			}
			var generated []byte
			gen := func() ([]byte, error) {
				b, err := random()
				generated = b
				return b, err
			}
			b, created, err := LoadOrCreate(path, gen, valid16)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name %s", err, path)
				}
				if strings.Contains(err.Error(), existing) {
					t.Errorf("error %q quotes the file's content", err)
				}
				if generated != nil {
					t.Errorf("generated a secret although %s exists", path)
				}
				if _, err := os.Lstat(filepath.Join(dir, "nowhere")); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a link's target was created: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := tt.want
			if want == "" {
				want = string(generated)
			}
			if string(b) != want || created != tt.created {
				t.Fatalf("got %q created=%v, want %q created=%v", b, created, want, tt.created)
			}
			onDisk, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(onDisk, b) {
				t.Fatalf("file holds %q (%v), LoadOrCreate returned %q", onDisk, err, b)
			}
			if created {
				fi, _ := os.Stat(path)
				if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
					t.Errorf("created with mode %04o, want 0600", fi.Mode().Perm())
				}
				if fi, _ := os.Stat(filepath.Dir(path)); rel != "secret" && fi.Mode().Perm() != 0o700 {
					t.Errorf("parent created with mode %04o, want 0700", fi.Mode().Perm())
				}
			}
			noTemps(t, filepath.Dir(path))
		})
	}
}

// noTemps fails if a temporary file was left beside the secret.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestLoadOrCreateGenerateFails(t *testing.T) {
	for _, tt := range []struct {
		name string
		gen  func() ([]byte, error)
		want error
	}{
		{"generator error", func() ([]byte, error) { return nil, fs.ErrClosed }, fs.ErrClosed},
		{"generated content invalid", func() ([]byte, error) { return []byte("short"), nil }, errShort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			_, _, err := LoadOrCreate(path, tt.gen, valid16)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("err = %v, want %v naming the path", err, tt.want)
			}
			if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists after a failed creation", path)
			}
			noTemps(t, filepath.Dir(path))
		})
	}
}

// TestLoadOrCreateLosesRace: another process creates the file between our
// read and our link; its content is returned, ours is discarded.
func TestLoadOrCreateLosesRace(t *testing.T) {
	for _, tt := range []struct {
		name    string
		theirs  string
		wantErr error
	}{
		{"winner valid", existing, nil},
		{"winner invalid", "short", errShort},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "secret")
			gen := func() ([]byte, error) {
				if err := os.WriteFile(path, []byte(tt.theirs), 0o600); err != nil {
					return nil, err
				}
				return random()
			}
			b, created, err := LoadOrCreate(path, gen, valid16)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), path) {
					t.Fatalf("err = %v, want %v naming the path", err, tt.wantErr)
				}
				return
			}
			if err != nil || created || string(b) != tt.theirs {
				t.Fatalf("got %q created=%v err=%v, want the winner's %q", b, created, err, tt.theirs)
			}
			noTemps(t, filepath.Dir(path))
		})
	}
}

func TestLoadOrCreatePublic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "cert.pem")
	b, created, err := LoadOrCreatePublic(path, 0o644, random, valid16)
	if err != nil || !created {
		t.Fatalf("created=%v err=%v", created, err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %04o, want 0644", fi.Mode().Perm())
	}
	again, created, err := LoadOrCreatePublic(path, 0o644, random, valid16)
	if err != nil || created || !bytes.Equal(again, b) {
		t.Fatalf("second call: %q created=%v err=%v", again, created, err)
	}
	// The same file is a refused secret: others may read it.
	if _, _, err := LoadOrCreate(path, random, valid16); checkPerm && !errors.Is(err, ErrPermissions) {
		t.Errorf("a 0644 file as a secret: err = %v, want ErrPermissions", err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadOrCreatePublic(link, 0o644, random, valid16); !errors.Is(err, ErrSymlink) {
		t.Errorf("a symlink: err = %v, want ErrSymlink", err)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret")
	if _, err := Read(path, valid16); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing: err = %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Read created the file")
	}
	if err := os.WriteFile(path, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(path, valid16); err != nil || string(b) != existing {
		t.Fatalf("got %q, %v", b, err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, valid16); checkPerm && !errors.Is(err, ErrPermissions) {
		t.Fatalf("group readable: err = %v", err)
	}
}

// TestLoadOrCreateGoroutines: many goroutines released at once agree on
// one secret, and exactly one of them created it.
func TestLoadOrCreateGoroutines(t *testing.T) {
	for round := range 20 {
		path := filepath.Join(t.TempDir(), "secret")
		const n = 16
		start := make(chan struct{})
		got := make([][]byte, n)
		made := make([]bool, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				got[i], made[i], errs[i] = LoadOrCreate(path, random, valid16)
			})
		}
		close(start)
		wg.Wait()
		creators := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, goroutine %d: %v", round, i, errs[i])
			}
			if !bytes.Equal(got[i], got[0]) {
				t.Fatalf("round %d: goroutine %d got another secret than goroutine 0", round, i)
			}
			if made[i] {
				creators++
			}
		}
		onDisk, _ := os.ReadFile(path)
		if creators != 1 || !bytes.Equal(onDisk, got[0]) {
			t.Fatalf("round %d: %d creators, file equals the secret: %v", round, creators, bytes.Equal(onDisk, got[0]))
		}
		noTemps(t, filepath.Dir(path))
	}
}

func ExampleLoadOrCreate() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "pepper")
	gen := func() ([]byte, error) {
		b := make([]byte, 32)
		_, err := rand.Read(b)
		return b, err
	}
	valid := func(b []byte) error {
		if len(b) < 32 {
			return errors.New("shorter than 32 bytes")
		}
		return nil
	}
	first, created, _ := LoadOrCreate(path, gen, valid)
	fmt.Println("created:", created)
	second, created, _ := LoadOrCreate(path, gen, valid)
	fmt.Println("created:", created, "same:", bytes.Equal(first, second))
	// Output:
	// created: true
	// created: false same: true
}
