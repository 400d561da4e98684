package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a config file, located by its path in the
// document (routes[2].upstream) and, when known, its line and column.
type Problem struct {
	// Path is the dotted path of the offending value, "" for the document.
	Path string
	// Line and Column locate the value in the file; 0 when unknown.
	Line, Column int
	// Message says what is wrong.
	Message string
	// Warning marks a problem that does not stop the config from loading.
	Warning bool
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Warning {
		b.WriteString("warning: ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is returned by Parse and Load when a config has errors. It lists
// every error (and warning) at once, each with its file, line and path.
type Error struct {
	// File is the name of the config file.
	File string
	// Problems are sorted by line.
	Problems []Problem
}

// Error formats every problem on its own line.
func (e *Error) Error() string {
	var b strings.Builder
	n := 0
	for _, p := range e.Problems {
		if !p.Warning {
			n++
		}
	}
	fmt.Fprintf(&b, "%s: %d error(s)", e.File, n)
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(e.File)
		switch {
		case p.Line > 0 && p.Column > 0:
			fmt.Fprintf(&b, ":%d:%d", p.Line, p.Column)
		case p.Line > 0:
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		b.WriteString(": ")
		b.WriteString(p.String())
	}
	return b.String()
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Column < ps[j].Column
	})
}
