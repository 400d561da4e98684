package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxFileSize bounds a config file.
const MaxFileSize = 8 << 20

// Load reads, decodes, defaults and validates the config file at path. On
// success it returns the config and its warnings; on failure an *Error
// listing every problem.
func Load(path string) (*Config, []Problem, error) { return LoadMode(path, Gateway) }

// LoadAny is Load for a config of either mode, for the offline commands
// that work on the same store, keys and audit log whatever serves them:
// the gateway's rules first, and the middleware's when those fail. On
// failure it returns the reading with fewer problems.
func LoadAny(path string) (*Config, []Problem, Mode, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, Gateway, err
	}
	return ParseAny(path, data)
}

// ParseAny is LoadAny for a document already read (once: both readings
// decode the same bytes); name is used in error messages.
func ParseAny(name string, data []byte) (*Config, []Problem, Mode, error) {
	if len(data) > MaxFileSize {
		return nil, nil, Gateway, fmt.Errorf("reading config %s: larger than %d bytes", name, MaxFileSize)
	}
	c, warnings, err := ParseMode(name, data, Gateway)
	if err == nil {
		return c, warnings, Gateway, nil
	}
	mc, mw, merr := ParseMode(name, data, Middleware)
	if merr == nil {
		return mc, mw, Middleware, nil
	}
	// Report the reading with fewer problems: a middleware config with a
	// typo should hear about the typo, not about its missing listeners.
	var ge, me *Error
	if errors.As(err, &ge) && errors.As(merr, &me) && len(me.Problems) < len(ge.Problems) {
		return nil, mw, Middleware, merr
	}
	return nil, warnings, Gateway, err
}

// LoadMode is Load for a mode (see Mode).
func LoadMode(path string, mode Mode) (*Config, []Problem, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseMode(path, data, mode)
}

// readFile reads the config file at path, at most MaxFileSize bytes.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the config file
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("reading config %s: larger than %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Parse decodes, defaults and validates a config document; name is used in
// error messages. See Load.
func Parse(name string, data []byte) (*Config, []Problem, error) {
	return ParseMode(name, data, Gateway)
}

// ParseMode is Parse for a mode (see Mode).
func ParseMode(name string, data []byte, mode Mode) (*Config, []Problem, error) {
	c := &Config{}
	pos, problems := decodeDocument(data, c)
	if mode == Middleware {
		// Present in the document, these would be accepted and do nothing:
		// middleware mode serves no admin listener, where they live.
		for path, why := range middlewareRefused {
			if _, ok := pos[path]; ok {
				problems = append(problems, Problem{Path: path, Message: why})
			}
		}
	}
	SetDefaults(c)
	for _, p := range ValidateMode(c, mode) {
		if !underAny(p.Path, problems) {
			problems = append(problems, p)
		}
	}
	for i := range problems {
		if problems[i].Line == 0 {
			problems[i].Line, problems[i].Column = locate(pos, problems[i].Path)
		}
	}
	sortProblems(problems)
	var warnings []Problem
	failed := false
	for _, p := range problems {
		if p.Warning {
			warnings = append(warnings, p)
		} else {
			failed = true
		}
	}
	if failed {
		return nil, warnings, &Error{File: name, Problems: problems}
	}
	return c, warnings, nil
}

// middlewareRefused are the sections ParseMode(Middleware) refuses when
// the document has them, with why.
var middlewareRefused = map[string]string{
	"admin":                  "middleware mode serves no admin listener; remove the section (the offline commands work on the same store)",
	"protect.encryption_api": "the encryption API is served on the admin listener, which middleware mode does not have",
	"identity_token":         "identity tokens are verified with keys published on the admin listener, which middleware mode does not have; read rampart.FromRequest instead",
}

// underAny reports whether path is at or below the path of a decoding
// problem, whose value is unknown and so cannot be validated.
func underAny(path string, decoded []Problem) bool {
	for _, p := range decoded {
		if p.Path == "" || p.Path == path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}

// locate finds the line of path, or of its nearest ancestor in the file.
func locate(pos map[string]position, path string) (int, int) {
	for {
		if p, ok := pos[path]; ok {
			return p.line, p.column
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			if p, ok := pos[""]; ok && path != "" {
				return p.line, p.column
			}
			return 0, 0
		}
		path = path[:i]
	}
}

// AsError returns err as an *Error, if it is one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
