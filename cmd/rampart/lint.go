package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"regexp"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/lint/configlint"
	"github.com/rampart-gw/rampart/internal/lint/golint"
	"github.com/rampart-gw/rampart/internal/lint/speclint"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

type lintFlags struct {
	spec, format, failOn, settings, color string
	goPatterns, outputs                   []string
	goDir                                 string
	listRules                             bool
}

// checkers are rampart lint's checkers, in report order.
func checkers() []lint.Checker {
	return []lint.Checker{speclint.New(), golint.Checker{}, configlint.Checker{}}
}

func lintCmd(stdout io.Writer) *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [openapi.yaml] [rampart.yaml] [--spec openapi.yaml] [--go ./...]",
		Short: "Static analysis of OpenAPI specs, Go API code and rampart.yaml, checked against each other",
		Long: `rampart lint checks, without running anything:
  - an OpenAPI 3.0/3.1 spec: every rule of Spectral's OWASP ruleset and rules of our own
    (docs/lint/spec.md);
  - Go API code (--go PATTERN...): handlers on net/http, chi and gin, mass assignment, exposure,
    SQL injection, timeouts, unbounded bodies, SSRF, secrets; with a spec, routes that drift from
    it (docs/lint/go.md);
  - a Rampart config: public writes, missing limits, fail-open, plaintext, the admin listener,
    audit, DLP, tokens; with a spec, operations no route covers and routes weaker than the spec
    (docs/lint/config.md).
Each FILE is told apart by its content. Settings (rules off or at another severity, excluded
paths, fail-on) come from .rampart-lint.yaml in the working directory or --settings.

Exit codes: 0 no finding at or above --fail-on, 1 findings (or a failure), 2 usage errors.
See docs/lint.md.`,
		RunE: func(cmd *cobra.Command, files []string) error { return runLint(cmd, f, files, checkers(), stdout) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.spec, "spec", "", "the OpenAPI spec to check the config and the Go code against (and lint)")
	fl.StringArrayVar(&f.goPatterns, "go", nil, "Go package patterns to analyse, for example ./... (repeatable)")
	fl.StringVar(&f.goDir, "go-dir", ".", "the directory the Go patterns are loaded from")
	fl.StringVar(&f.format, "format", "text", "format of the report on stdout: text, json, sarif, html, junit")
	fl.StringArrayVar(&f.outputs, "output", nil, "also write the report to FILE, format from the extension (.json .sarif .html .xml) or FORMAT=FILE (repeatable)")
	fl.StringVar(&f.color, "color", "auto", colorFlagUsage)
	fl.StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity (default: the settings' fail-on, else high)")
	fl.StringVar(&f.settings, "settings", "", "settings file (default: "+lint.SettingsFile+" when present)")
	fl.BoolVar(&f.listRules, "list-rules", false, "list every rule and exit")
	return cmd
}

func runLint(cmd *cobra.Command, f lintFlags, files []string, cs []lint.Checker, stdout io.Writer) error {
	if f.listRules {
		var rules []findings.Rule
		for _, c := range cs {
			rules = append(rules, c.Rules()...)
		}
		return printRules(stdout, rules)
	}
	format, err := findings.ParseFormat(f.format)
	if err != nil {
		return usageError{fmt.Errorf("--format: %w", err)}
	}
	outputs, err := parseOutputs(f.outputs)
	if err != nil {
		return usageError{err}
	}
	color, err := colorFor(f.color, stdout)
	if err != nil {
		return usageError{err}
	}
	// Finding paths are relative to the working directory (lint.Run's
	// default); SARIF names it %SRCROOT%.
	root, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("lint: the working directory: %w", err)
	}
	settings, err := lintSettings(f.settings)
	if err != nil {
		// A settings file that is missing, unreadable or wrong is how
		// the command was called, like a bad flag: exit 2, so that CI
		// tells it apart from findings.
		return usageError{err}
	}
	if settings != nil {
		// A rule setting that matches no rule is a typo in how the
		// command was called too: checked here, before any work.
		var rules []findings.Rule
		for _, c := range cs {
			rules = append(rules, c.Rules()...)
		}
		if err := settings.Check(rules); err != nil {
			return usageError{err}
		}
	}
	failOn := findings.High
	if settings != nil && settings.FailOn != nil {
		failOn = *settings.FailOn
	}
	if f.failOn != "" {
		if failOn, err = findings.ParseSeverity(f.failOn); err != nil {
			return usageError{fmt.Errorf("--fail-on: %w", err)}
		}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	in := &lint.Input{GoPatterns: f.goPatterns, GoDir: f.goDir}
	specs := files
	if f.spec != "" {
		specs = append([]string{f.spec}, files...)
	}
	if len(specs) == 0 && len(f.goPatterns) == 0 {
		return usageError{errors.New("lint needs a FILE (an OpenAPI spec or a rampart.yaml) or --go PATTERN")}
	}
	for _, file := range specs {
		if err := lintInput(ctx, in, file); err != nil {
			return err
		}
	}
	report, err := lint.Run(ctx, in, cs, lint.Options{Settings: settings, Version: version, Dir: root})
	if err != nil {
		return err
	}
	if err := findings.WriteWith(stdout, format, report, findings.Options{Color: color, Root: root}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	for _, o := range outputs {
		if err := writeReport(o.path, o.format, report, findings.Options{Root: root}); err != nil {
			return err
		}
	}
	if !report.Complete {
		return fmt.Errorf("lint stopped early: %s", report.StopReason)
	}
	if report.AtOrAbove(failOn) > 0 {
		return errFindings
	}
	return nil
}

// lintSettings reads the settings file: the one named, or
// .rampart-lint.yaml when it exists.
func lintSettings(file string) (*lint.Settings, error) {
	if file == "" {
		// Only a file that is not there means no settings: one that is
		// there but cannot be read (a broken link, no permission) is an
		// error, not a silent default.
		if _, err := os.Lstat(lint.SettingsFile); errors.Is(err, fs.ErrNotExist) {
			return nil, nil //nolint:nilnil // no settings file: no settings
		}
		file = lint.SettingsFile
	}
	return lint.LoadSettings(file)
}

// specFirst matches a YAML or JSON document whose first key is openapi,
// after an optional byte order mark and comments.
var specFirst = regexp.MustCompile(`^(?:\x{FEFF})?(?:[ \t\r\n]*#[^\n]*\n)*[ \t\r\n]*(?:\{[ \t\r\n]*)?["']?openapi["']?[ \t]*:`)

// lintInput reads one file into in: an OpenAPI document or a Rampart
// config, told apart by its content.
func lintInput(ctx context.Context, in *lint.Input, file string) error {
	data, err := readBounded(file, openapi.MaxDocumentBytes)
	if err != nil {
		return err
	}
	if specFirst.Match(data) {
		// A document that starts with its openapi field is a spec: the
		// loader builds the index itself, beside its own parse.
		if in.Spec != nil {
			return usageError{fmt.Errorf("%s: lint takes one OpenAPI spec (already have %s)", file, in.Spec.Source)}
		}
		spec, err := openapi.LoadData(ctx, data, file, openapi.Options{})
		if err != nil {
			return err
		}
		in.Spec = spec
		return nil
	}
	idx, err := yamlpos.New(data)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	_, isSpec := idx["/openapi"]
	_, isSwagger := idx["/swagger"]
	switch {
	case isSpec || isSwagger:
		if in.Spec != nil {
			return usageError{fmt.Errorf("%s: lint takes one OpenAPI spec (already have %s)", file, in.Spec.Source)}
		}
		// The index is built already: the loader does not parse again.
		spec, err := openapi.LoadData(ctx, data, file, openapi.Options{Index: idx})
		if err != nil {
			return err
		}
		in.Spec = spec
	default:
		if in.Config != nil {
			return usageError{fmt.Errorf("%s: lint takes one Rampart config (already have %s)", file, in.ConfigFile)}
		}
		cfg, _, _, err := config.ParseAny(file, data)
		if err != nil {
			return err
		}
		in.Config, in.ConfigFile, in.ConfigIndex = cfg, file, idx
		// Each route with an openapi block is compared with its own
		// spec; one that does not load is an error, as in the gateway.
		if in.RouteSpecs, err = configlint.LoadRouteSpecs(ctx, cfg, file, idx); err != nil {
			return err
		}
	}
	return nil
}

// readBounded reads at most limit bytes of file, and refuses a larger one
// (a pipe or a device given by mistake included) instead of reading it
// whole.
func readBounded(file string, limit int64) ([]byte, error) {
	f, err := os.Open(file) // #nosec G304 -- the user names the files to lint
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", file, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d MiB, the most this command reads", file, limit>>20)
	}
	return data, nil
}
