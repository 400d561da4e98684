// Package secretfile owns the load-or-create of the small files in which a
// gateway keeps the secrets it generates for itself on first start: the API
// key pepper, the admin token, the key-encryption keys of the signing keys
// and of the keyring, the audit log's signing key and the development CA's
// key (and the public halves written beside the last two).
//
// The threat is two gateways (or a gateway and a CLI command) starting at
// once on one data directory: with a plain "read, else write", each finds
// the file missing, each writes its own secret, the last write wins, and
// whatever the first one already did with its secret (API keys hashed
// with its pepper, a token it printed, data keys it wrapped) stops
// matching. LoadOrCreate makes the creation exclusive: the new content is
// written whole to a temporary file in the same directory, synced, and
// hard-linked to the final name with link(2), which fails if the name
// exists. Exactly one process wins; every other one reads the winner's
// file, which is complete from the moment its name appears, so nobody ever
// reads a half-written secret. The directory is synced after the link, so
// a created secret survives a crash once LoadOrCreate has returned it.
//
// An existing secret file is read only if it is a regular file (not a
// symbolic link, directory, FIFO or device), no larger than MaxSize, and,
// on Unix, has no permission bit for group or others (like OpenSSH's check
// of private keys): a secret that others can read is already leaked, one
// that others can write can be replaced, and either is refused with an
// error that names the path and the fix, never the content. Files that
// hold public halves (LoadOrCreatePublic) get the same exclusive creation
// and type checks, but any mode.
//
// It does not own what the files hold: callers generate and validate the
// content and keep their own file names, formats and modes. It does not
// lock anything after creation, rotate secrets, or protect against a
// process that can write the directory itself. It imports only the
// standard library.
package secretfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// MaxSize bounds the bytes read from a secret file. Rampart's secret files
// are a few hundred bytes (a KEK file grows by one line per rotation).
const MaxSize = 1 << 20

// SecretPerm is the mode LoadOrCreate creates secret files with.
const SecretPerm fs.FileMode = 0o600

// Refusals of an existing file, for errors.Is. The errors returned wrap
// them with the path (and for ErrPermissions the mode and the fix).
var (
	// ErrSymlink: the path is a symbolic link. A link lets whoever made it
	// choose which file is read as the secret.
	ErrSymlink = errors.New("is a symbolic link, not the secret file itself")
	// ErrNotRegular: the path is a directory, FIFO, device or socket.
	ErrNotRegular = errors.New("is not a regular file")
	// ErrPermissions: a secret file that group or others may read or
	// write.
	ErrPermissions = errors.New("lets group or others read or write it")
	// ErrTooLarge: the file is larger than MaxSize.
	ErrTooLarge = errors.New("is larger than a secret file can be")
)

// LoadOrCreate returns the content of the secret file at path. When path
// exists it is read (see the package doc for what is refused) and checked
// with valid; when it does not, generate makes the content, which is
// checked with valid, written to path exclusively with mode 0600 (see the
// package doc), and read back. If another process creates path first, its
// content is returned instead. Missing parent directories are created with
// mode 0700. created reports whether this call made the file.
//
// valid must not be nil, and neither it nor generate may put the content
// into an error: errors are returned wrapped with the path.
// LoadOrCreate is safe for concurrent use, by goroutines and by processes.
func LoadOrCreate(path string, generate func() ([]byte, error), valid func([]byte) error) (b []byte, created bool, err error) {
	return loadOrCreate(path, SecretPerm, true, generate, valid)
}

// LoadOrCreatePublic is LoadOrCreate for a file that holds no secret (a
// certificate, a verifier key) but must still be created once: it is made
// with perm and its mode is not checked on reading. Symbolic links and
// files that are not regular are refused as LoadOrCreate refuses them.
func LoadOrCreatePublic(path string, perm fs.FileMode, generate func() ([]byte, error), valid func([]byte) error) (b []byte, created bool, err error) {
	return loadOrCreate(path, perm.Perm(), false, generate, valid)
}

// Read returns the content of the existing secret file at path, refused
// and checked as LoadOrCreate refuses and checks it. A missing file is an
// error that matches fs.ErrNotExist.
func Read(path string, valid func([]byte) error) ([]byte, error) {
	b, err := readChecked(path, true)
	if err != nil {
		return nil, err
	}
	if err := valid(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

func loadOrCreate(path string, perm fs.FileMode, secret bool, generate func() ([]byte, error), valid func([]byte) error) ([]byte, bool, error) {
	b, err := readChecked(path, secret)
	if err == nil {
		if err := valid(b); err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return b, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	b, err = generate()
	if err != nil {
		return nil, false, fmt.Errorf("generating %s: %w", path, err)
	}
	if err := valid(b); err != nil {
		return nil, false, fmt.Errorf("generating %s: the new content is invalid: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating %s: %w", dir, err)
	}
	won, err := link(path, perm, b)
	if err != nil {
		return nil, false, err
	}
	got, err := readChecked(path, secret)
	if err != nil {
		return nil, false, err
	}
	if !won {
		// Another process created path first; its content is the one.
		if err := valid(got); err != nil {
			return nil, false, fmt.Errorf("%s: %w", path, err)
		}
		return got, false, nil
	}
	if !bytes.Equal(got, b) {
		return nil, false, fmt.Errorf("%s: the file read back differs from what was written", path)
	}
	return got, true, nil
}

// link writes b to a temporary file beside path and links it to path. It
// reports false, and no error, when path already exists.
func link(path string, perm fs.FileMode, b []byte) (bool, error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return false, fmt.Errorf("creating %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the link, path keeps the content
	_, err = f.Write(b)
	if err == nil && perm != 0o600 {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("creating %s (it is made by a hard link, which this file system must support): %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return false, fmt.Errorf("syncing %s after creating %s: %w", dir, path, err)
	}
	return true, nil
}

// readChecked reads path after checking, on the open file, that it may be
// a secret file; secret adds the mode check.
func readChecked(path string, secret bool) ([]byte, error) {
	f, err := openNoFollow(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s %w", path, ErrSymlink)
		}
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	switch {
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("%s %w (it is %s)", path, ErrNotRegular, kind(fi.Mode()))
	case secret && checkPerm && fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("%s: mode %04o %w; make it readable by its owner only (chmod 600)",
			path, fi.Mode().Perm(), ErrPermissions)
	case fi.Size() > MaxSize:
		return nil, fmt.Errorf("%s %w (%d bytes, at most %d)", path, ErrTooLarge, fi.Size(), MaxSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%s %w (at most %d bytes)", path, ErrTooLarge, MaxSize)
	}
	return b, nil
}

func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a plain file"
}
