//go:build unix

package secretfile

import (
	"errors"
	"os"
	"syscall"
)

// checkPerm: Unix permission bits say who may read a file.
const checkPerm = true

// openNoFollow opens path for reading without following a symbolic link
// in its last element (so the check and the read are of one file), and
// without blocking on a FIFO (which is then refused as not regular).
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0) // #nosec G304 -- the caller names its secret file
}

// syncDir makes a new directory entry durable. File systems that cannot
// sync a directory (EINVAL, ENOTSUP) are let be: the entry is there.
func syncDir(dir string) error {
	d, err := os.Open(dir) // #nosec G304 -- the directory of the caller's secret file
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
