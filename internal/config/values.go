package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written as a Go duration string ("1.5s",
// "10m", "720h"). A bare number is refused: its unit would be a guess.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

func (d *Duration) parseScalar(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("must be a duration such as \"10s\" or \"5m\", got %q", s)
	}
	if v < 0 {
		return fmt.Errorf("must not be negative, got %q", s)
	}
	*d = Duration(v)
	return nil
}

// ByteSize is a size in bytes, written as a whole number or with a unit:
// "512KiB", "10MiB", "1GiB" (also KB, MB, GB as powers of 1000).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

func (b *ByteSize) parseScalar(s string) error {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("must be a size such as 65536, \"64KiB\" or \"10MiB\", got %q", s)
	}
	if n > (1<<62)/factor {
		return fmt.Errorf("size %q is too large", s)
	}
	*b = ByteSize(n * factor)
	return nil
}
