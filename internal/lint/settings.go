package lint

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// SettingsFile is the name rampart lint looks for in the working
// directory when no --settings is given.
const SettingsFile = ".rampart-lint.yaml"

// maxSettingsBytes bounds a settings file; real ones are a few lines.
const maxSettingsBytes = 1 << 20

// Settings are a project's choices about its lint run, read from a
// .rampart-lint.yaml:
//
//	fail-on: medium
//	rules:
//	  rampart.lint.spec.numeric-id: off       # one rule off
//	  rampart.lint.spec: low                 # every spec rule at low
//	  rampart.lint.go.sql-concat: critical   # the longest match wins
//	exclude:
//	  - testdata/**
//	  - vendor
//
// The zero value changes nothing.
type Settings struct {
	// File is where the settings were read from, "" for none.
	File string
	// FailOn is the severity gate the file asks for; nil means the
	// command's default.
	FailOn *findings.Severity
	// Rules are the per-rule choices, in file order.
	Rules []RuleSetting
	// Exclude are path patterns (slash-separated, relative to the working
	// directory; * and ? within a segment, ** for any number of segments);
	// a finding in a file that a pattern names, or below a directory it
	// names, is dropped.
	Exclude []string
}

// RuleSetting turns off, or sets the severity of, every rule whose id is
// Match or starts with Match and a dot.
type RuleSetting struct {
	Match string
	// Off drops the rule's findings; otherwise Severity replaces theirs.
	Off      bool
	Severity findings.Severity
	// Line and Column place the setting in File, for errors.
	Line, Column int
}

// SettingsError is a settings file that is not what rampart lint reads:
// bad YAML, an unknown key, a bad value, a rule id that names no rule.
type SettingsError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *SettingsError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// LoadSettings reads a settings file.
func LoadSettings(file string) (*Settings, error) {
	f, err := os.Open(file) // #nosec G304 -- the user's own settings file
	if err != nil {
		return nil, fmt.Errorf("lint settings: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSettingsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("lint settings %s: %w", file, err)
	}
	if len(data) > maxSettingsBytes {
		return nil, &SettingsError{File: file, Msg: fmt.Sprintf("larger than %d bytes", maxSettingsBytes)}
	}
	return ParseSettings(file, data)
}

// ParseSettings reads the settings in data; file names it in errors.
// Parsing is strict: an unknown key or a value of the wrong kind is an
// error at its line and column. Rule ids are checked against the rules by
// Check (Run calls it).
func ParseSettings(file string, data []byte) (*Settings, error) {
	s := &Settings{File: file}
	if blank(data) {
		return s, nil
	}
	// yamlpos keeps the last of two equal keys; the decoder refuses them.
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		line := 0
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		return nil, &SettingsError{File: file, Line: line, Column: 1, Msg: msg}
	}
	idx, err := yamlpos.New(data)
	if err != nil {
		var se *yamlpos.SyntaxError
		if errors.As(err, &se) {
			return nil, &SettingsError{File: file, Line: se.Line, Column: 1, Msg: se.Msg}
		}
		return nil, &SettingsError{File: file, Msg: err.Error()}
	}
	p := settingsParser{file: file, idx: idx, kids: map[string][]string{}}
	for k := range idx {
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			p.kids[k[:i]] = append(p.kids[k[:i]], k)
		}
	}
	children := p.children("")
	for _, key := range children {
		ptr := "/" + yamlpos.Escape(key)
		switch key {
		case "fail-on":
			p.failOn(s, ptr)
		case "rules":
			p.rules(s, ptr)
		case "exclude":
			p.exclude(s, ptr)
		default:
			p.fail(ptr, fmt.Sprintf("unknown key %q: want fail-on, rules or exclude", key))
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs[0]
	}
	return s, nil
}

var yamlLine = regexp.MustCompile(`^(?:unmarshal errors:\n\s*)?line (\d+): (.*)$`)

// blank reports whether data holds nothing but white space and comments.
func blank(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

type settingsParser struct {
	file string
	idx  yamlpos.Index
	kids map[string][]string // pointer -> its direct members' pointers
	errs []*SettingsError
}

func (p *settingsParser) fail(ptr, msg string) {
	pos := p.idx[ptr]
	p.errs = append(p.errs, &SettingsError{File: p.file, Line: pos.Line, Column: pos.Column, Msg: msg})
}

// children returns the tokens of ptr's direct members (keys of a mapping,
// indices of a sequence), in the order they are written.
func (p *settingsParser) children(ptr string) []string {
	type child struct {
		token     string
		line, col int
	}
	var cs []child
	for _, k := range p.kids[ptr] {
		pos := p.idx[k]
		cs = append(cs, child{unescape(k[len(ptr)+1:]), pos.Line, pos.Column})
	}
	slices.SortFunc(cs, func(a, b child) int {
		if a.line != b.line {
			return a.line - b.line
		}
		return a.col - b.col
	})
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.token
	}
	return out
}

func unescape(t string) string {
	return strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
}

// scalar returns the scalar at ptr, failing when it is a mapping or a
// sequence (an empty one is told apart from null by having no children
// and not being a scalar).
func (p *settingsParser) scalar(ptr, what string) (string, bool) {
	v, ok := p.idx.Scalar(ptr)
	if !ok {
		p.fail(ptr, what+" must be a single value, not a list or a mapping")
	}
	return v, ok
}

func (p *settingsParser) failOn(s *Settings, ptr string) {
	v, ok := p.scalar(ptr, "fail-on")
	if !ok {
		return
	}
	sev, err := findings.ParseSeverity(v)
	if err != nil {
		p.fail(ptr, "fail-on: "+err.Error())
		return
	}
	s.FailOn = &sev
}

func (p *settingsParser) rules(s *Settings, ptr string) {
	if p.idx[ptr].IsScalar {
		if p.idx[ptr].Scalar != "" {
			p.fail(ptr, "rules must be a mapping of rule ids (or id prefixes) to off or a severity")
		}
		return
	}
	if isSequence(p.children(ptr)) {
		p.fail(ptr, "rules must be a mapping of rule ids (or id prefixes) to off or a severity, not a list")
		return
	}
	for _, id := range p.children(ptr) {
		cp := ptr + "/" + yamlpos.Escape(id)
		v, ok := p.scalar(cp, "rules."+id)
		if !ok {
			continue
		}
		pos := p.idx[cp]
		if !validRuleMatch(id) {
			p.fail(cp, fmt.Sprintf("rules: %q is not a rule id or id prefix (like rampart.lint.spec)", id))
			continue
		}
		rs := RuleSetting{Match: id, Line: pos.Line, Column: pos.Column}
		if strings.EqualFold(v, "off") {
			rs.Off = true
		} else {
			sev, err := findings.ParseSeverity(v)
			if err != nil {
				p.fail(cp, fmt.Sprintf("rules.%s: want off or a severity (info, low, medium, high, critical), got %q", id, v))
				continue
			}
			rs.Severity = sev
		}
		s.Rules = append(s.Rules, rs)
	}
}

// validRuleMatch accepts dot-separated words of letters, digits, - and _.
func validRuleMatch(id string) bool {
	if id == "" {
		return false
	}
	for _, part := range strings.Split(id, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// isSequence reports whether tokens are 0, 1, 2, ... as a sequence's are.
func isSequence(tokens []string) bool {
	if len(tokens) == 0 {
		return false
	}
	for i, t := range tokens {
		if t != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

func (p *settingsParser) exclude(s *Settings, ptr string) {
	if p.idx[ptr].IsScalar {
		if p.idx[ptr].Scalar != "" {
			p.fail(ptr, "exclude must be a list of paths")
		}
		return
	}
	items := p.children(ptr)
	if len(items) > 0 && !isSequence(items) {
		p.fail(ptr, "exclude must be a list of paths, not a mapping")
		return
	}
	for _, i := range items {
		cp := ptr + "/" + i
		v, ok := p.scalar(cp, "exclude entry")
		if !ok {
			continue
		}
		if err := checkPattern(v); err != nil {
			p.fail(cp, fmt.Sprintf("exclude %q: %v", v, err))
			continue
		}
		s.Exclude = append(s.Exclude, path.Clean(v))
	}
}

func checkPattern(pat string) error {
	if pat == "" {
		return errors.New("empty pattern")
	}
	if path.IsAbs(pat) || strings.Contains(pat, `\`) {
		return errors.New("want a slash-separated path relative to the working directory")
	}
	for _, seg := range strings.Split(path.Clean(pat), "/") {
		if seg == ".." {
			return errors.New("a pattern cannot leave the working directory")
		}
		if _, err := path.Match(seg, ""); err != nil {
			return err
		}
	}
	return nil
}

// Excluded reports whether file (slash-separated, relative) is named by
// one of the exclude patterns, itself or through a directory above it.
func (s *Settings) Excluded(file string) bool {
	if len(s.Exclude) == 0 {
		return false
	}
	segs := strings.Split(path.Clean(file), "/")
	for _, pat := range s.Exclude {
		if matchPrefix(strings.Split(pat, "/"), segs) {
			return true
		}
	}
	return false
}

// matchPrefix reports whether pat matches segs or a leading part of it.
func matchPrefix(pat, segs []string) bool {
	if len(pat) == 0 {
		return true
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchPrefix(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	ok, _ := path.Match(pat[0], segs[0])
	return ok && matchPrefix(pat[1:], segs[1:])
}

// Check reports the first rule setting that matches none of rules: a
// typo must not silently turn off nothing.
func (s *Settings) Check(rules []findings.Rule) error {
	for _, rs := range s.Rules {
		if !slices.ContainsFunc(rules, func(r findings.Rule) bool { return matches(rs.Match, r.ID) }) {
			return &SettingsError{File: s.File, Line: rs.Line, Column: rs.Column,
				Msg: fmt.Sprintf("rules: %q matches no rule (see rampart lint --list-rules)", rs.Match)}
		}
	}
	return nil
}

func matches(match, id string) bool {
	return id == match || strings.HasPrefix(id, match+".")
}

// setting returns the most specific setting for the rule id: the longest
// match; on a tie, the later in the file.
func (s *Settings) setting(id string) (RuleSetting, bool) {
	var best RuleSetting
	found := false
	for _, rs := range s.Rules {
		if matches(rs.Match, id) && (!found || len(rs.Match) >= len(best.Match)) {
			best, found = rs, true
		}
	}
	return best, found
}
