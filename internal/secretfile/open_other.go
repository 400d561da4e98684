//go:build !unix

package secretfile

import (
	"fmt"
	"io/fs"
	"os"
)

// checkPerm: outside Unix, permission bits do not say who may read a file
// (Windows has ACLs), so the mode is not checked.
const checkPerm = false

// openNoFollow refuses a symbolic link, then opens path. Without
// O_NOFOLLOW the link could be swapped in between; the type is checked
// again on the open file.
func openNoFollow(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, fmt.Errorf("%w", ErrSymlink)
	}
	return os.Open(path) // #nosec G304 -- the caller names its secret file
}

// syncDir is a no-op: directories cannot be synced here.
func syncDir(string) error { return nil }
