package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rampart-gw/rampart/internal/findings"
)

// colorFlagUsage is the help of --color on the commands that print
// findings.
const colorFlagUsage = "colour the text report: auto (on a terminal, unless NO_COLOR is set or TERM=dumb), always, never"

// isTerminal reports whether w is a terminal. It asks os.File.Stat for
// a character device instead of importing golang.org/x/term (an ioctl):
// no new dependency, and the character devices it mistakes for
// terminals (/dev/null and the like) show neither colour nor progress
// to anyone.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// colorFor decides from --color whether the text report on w is
// coloured.
func colorFor(mode string, w io.Writer) (bool, error) {
	m, err := findings.ParseColorMode(mode)
	if err != nil {
		return false, fmt.Errorf("--color: %w", err)
	}
	return findings.UseColor(m, isTerminal(w), os.LookupEnv), nil
}
