//go:build !unix

package secretfile

import "errors"

func mkfifo(string) error { return errors.ErrUnsupported }
