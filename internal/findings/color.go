package findings

import (
	"fmt"
	"strings"
)

// ColorMode is the --color choice: auto, always or never.
type ColorMode string

// Color modes.
const (
	// ColorAuto colours a terminal unless NO_COLOR is set or TERM is
	// dumb.
	ColorAuto ColorMode = "auto"
	// ColorAlways colours even a pipe or a file, and overrides NO_COLOR
	// (an explicit flag beats the environment, as no-color.org asks).
	ColorAlways ColorMode = "always"
	// ColorNever never colours.
	ColorNever ColorMode = "never"
)

// ParseColorMode reads a colour mode name; "" is auto.
func ParseColorMode(s string) (ColorMode, error) {
	switch m := ColorMode(strings.ToLower(s)); m {
	case "":
		return ColorAuto, nil
	case ColorAuto, ColorAlways, ColorNever:
		return m, nil
	}
	return "", fmt.Errorf("unknown colour mode %q: want auto, always or never", s)
}

// UseColor decides whether text output is coloured. isTerminal says
// whether it goes to a terminal; lookupEnv reads the environment (pass
// os.LookupEnv). In auto mode colour needs a terminal, NO_COLOR unset or
// empty (https://no-color.org: "when present and not an empty string")
// and TERM other than dumb.
func UseColor(m ColorMode, isTerminal bool, lookupEnv func(string) (string, bool)) bool {
	switch m {
	case ColorAlways:
		return true
	case ColorNever:
		return false
	}
	if !isTerminal {
		return false
	}
	if v, ok := lookupEnv("NO_COLOR"); ok && v != "" {
		return false
	}
	if v, _ := lookupEnv("TERM"); v == "dumb" {
		return false
	}
	return true
}

// SGR sequences (ECMA-48 Select Graphic Rendition) the text renderer
// uses.
const (
	sgrReset   = "\x1b[0m"
	sgrBold    = "\x1b[1m"
	sgrDim     = "\x1b[2m"
	sgrRed     = "\x1b[31m"
	sgrBoldRed = "\x1b[1;31m"
	sgrYellow  = "\x1b[33m"
	sgrCyan    = "\x1b[36m"
)

// palette colours text when on and leaves it alone otherwise.
type palette struct{ on bool }

func (p palette) wrap(sgr, s string) string {
	if !p.on || s == "" {
		return s
	}
	return sgr + s + sgrReset
}

func (p palette) bold(s string) string { return p.wrap(sgrBold, s) }

// severitySGR is the colour of each severity: critical bold red, high
// red, medium yellow, low cyan, info dim.
func severitySGR(s Severity) string {
	switch {
	case s >= Critical:
		return sgrBoldRed
	case s >= High:
		return sgrRed
	case s >= Medium:
		return sgrYellow
	case s >= Low:
		return sgrCyan
	}
	return sgrDim
}

// severity is s's name in upper case, padded to width; the padding stays
// outside the colour.
func (p palette) severity(s Severity, width int) string {
	name := strings.ToUpper(s.String())
	pad := strings.Repeat(" ", max(0, width-len(name)))
	return p.wrap(severitySGR(s), name) + pad
}

// count is s's name for the summary, coloured when there are findings of
// it.
func (p palette) count(s Severity, c [Critical + 1]int) string {
	if c[s] == 0 {
		return s.String()
	}
	return p.wrap(severitySGR(s), s.String())
}
