package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/scan"
	"github.com/rampart-gw/rampart/internal/scan/suite"
)

// errFindings makes a command exit 1 after printing its report.
var errFindings = errors.New("findings at or above the --fail-on severity")

type scanFlags struct {
	config, spec, target, format, failOn, baseline, cacert, color string
	identities, admins, subjects, outputs, checks, skip           []string
	seeds                                                         []string
	rate                                                          float64
	budget                                                        int
	timeout                                                       time.Duration
	allowWrites, dryRun, listChecks, quiet                        bool
}

func scanCmd(stdout, stderr io.Writer) *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan --spec openapi.yaml --target URL --identity NAME='Header: value' ...",
		Short: "Test a live API for the OWASP API Security Top 10 (dynamic analysis and penetration tests)",
		Long: `rampart scan reads an OpenAPI 3.0 or 3.1 spec, exercises every operation of the live API
at --target as each identity, learns real object ids, and runs the checks: BOLA across
identities, missing authentication, BFLA, mass assignment, sensitive data and undeclared
fields in responses, missing rate limits and size bounds.

Safe by default: only the target's host and port (and the scanner's own loopback canary) are
contacted, at most --rate requests per second and --budget requests in all; objects the scan did
not create are never written unless --allow-writes. Ctrl-C stops and reports what was found.

Exit codes: 0 no finding at or above --fail-on, 1 findings (or a failure), 2 usage errors.
See docs/scan.md.`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runScan(cmd, f, stdout, stderr) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "scan.yaml with the spec, target, identities and options (flags override it)")
	fl.StringVar(&f.spec, "spec", "", "the OpenAPI 3.0/3.1 document: a file or an http(s) URL, JSON or YAML")
	fl.StringVar(&f.target, "target", "", "the API's base URL (overrides the spec's servers)")
	fl.StringArrayVar(&f.identities, "identity", nil, "NAME='Header: value', for example alice='Authorization: Bearer ...' (repeatable)")
	fl.StringArrayVar(&f.seeds, "seed", nil, "a HAR file or Postman collection of recorded requests that feed discovery (repeatable)")
	fl.StringArrayVar(&f.admins, "admin", nil, "the NAME of a privileged identity (repeatable)")
	fl.StringArrayVar(&f.subjects, "subject", nil, "NAME=ID: the id of NAME's own objects (default: the sub claim of its JWT)")
	fl.Float64Var(&f.rate, "rate", 0, "requests per second at most (default 20)")
	fl.IntVar(&f.budget, "budget", 0, "requests in all at most (default 5000)")
	fl.DurationVar(&f.timeout, "timeout", 0, "timeout of each request (default 10s)")
	fl.BoolVar(&f.allowWrites, "allow-writes", false, "let checks change objects the scan did not create (PUT, PATCH, DELETE)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "list the planned requests and checks; send nothing")
	fl.StringVar(&f.format, "format", "text", "format of the report on stdout: text, json, sarif, html, junit")
	fl.StringArrayVar(&f.outputs, "output", nil, "also write the report to FILE, format from the extension (.json .sarif .html .xml) or FORMAT=FILE (repeatable)")
	fl.StringVar(&f.color, "color", "auto", colorFlagUsage)
	fl.StringVar(&f.failOn, "fail-on", "", "exit 1 when a finding is at or above this severity: info, low, medium, high, critical (default high)")
	fl.StringVar(&f.baseline, "baseline", "", "a baseline (or an earlier JSON report) whose findings are accepted")
	fl.StringArrayVar(&f.checks, "checks", nil, "run only these rule ids or prefixes (rampart.scan.api1)")
	fl.StringArrayVar(&f.skip, "skip", nil, "skip these rule ids or prefixes")
	fl.StringVar(&f.cacert, "cacert", "", "CA bundle (PEM) to verify an https target with")
	fl.BoolVar(&f.listChecks, "list-checks", false, "list every rule and exit")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	return cmd
}

func runScan(cmd *cobra.Command, f scanFlags, stdout, stderr io.Writer) error {
	if f.listChecks {
		return printRules(stdout, suite.Rules())
	}
	color, err := colorFor(f.color, stdout)
	if err != nil {
		return usageError{err}
	}
	p, err := prepareScan(f, stderr)
	if err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	spec, err := openapi.Load(ctx, p.file.Spec, openapi.Options{})
	if err != nil {
		return err
	}
	prog := newProgressPrinter(stderr, f.quiet || f.dryRun)
	p.opts.Spec, p.opts.Progress = spec, prog.update
	s, err := scan.New(p.opts)
	if err != nil {
		return usageError{err}
	}
	defer s.Close()
	if f.dryRun {
		for _, line := range s.Plan() {
			fmt.Fprintln(stdout, line)
		}
		return nil
	}
	report, err := s.Run(ctx)
	prog.done()
	if err != nil {
		return err
	}
	p.baseline.Apply(report)
	if err := findings.WriteWith(stdout, p.format, report, findings.Options{Color: color}); err != nil {
		return fmt.Errorf("writing the report: %w", err)
	}
	for _, o := range p.outputs {
		if err := writeReport(o.path, o.format, report, findings.Options{}); err != nil {
			return err
		}
	}
	if report.AtOrAbove(p.failOn) > 0 {
		return errFindings
	}
	return nil
}

// preparedScan is a scan's settings from its flags and its --config file,
// checked, before anything is sent.
type preparedScan struct {
	file     *scan.File
	opts     scan.Options // all but the spec and the progress callback
	format   findings.Format
	outputs  []output
	failOn   findings.Severity
	baseline *findings.Baseline
}

// prepareScan merges the flags over the --config file (paths in the file
// are relative to it) and checks every setting; each error is a usage
// error that names its flag.
func prepareScan(f scanFlags, stderr io.Writer) (*preparedScan, error) {
	file, base, err := scanFile(f)
	if err != nil {
		return nil, err
	}
	target, err := url.Parse(file.Target)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		return nil, fmt.Errorf("--target %q: must be an http(s) URL such as http://127.0.0.1:8080", file.Target)
	}
	p := &preparedScan{file: file}
	if p.format, err = findings.ParseFormat(f.format); err != nil {
		return nil, fmt.Errorf("--format: %w", err)
	}
	if p.outputs, err = parseOutputs(f.outputs); err != nil {
		return nil, err
	}
	failName := cmp.Or(f.failOn, file.FailOn, "high")
	if p.failOn, err = findings.ParseSeverity(failName); err != nil {
		return nil, fmt.Errorf("--fail-on: %w", err)
	}
	if f.baseline != "" {
		if p.baseline, err = findings.LoadBaseline(f.baseline); err != nil {
			return nil, err
		}
	}
	ids, err := scanIdentities(f, file)
	if err != nil {
		return nil, err
	}
	tr, err := scanTransport(f.cacert)
	if err != nil {
		return nil, err
	}
	rate, budget := cmp.Or(f.rate, file.Rate), cmp.Or(f.budget, file.Budget)
	if rate < 0 || budget < 0 {
		return nil, errors.New("--rate and --budget must be positive")
	}
	seeds, err := scanSeeds(f, file, base, target, stderr)
	if err != nil {
		return nil, err
	}
	p.opts = scan.Options{Target: target, Identities: ids, Rate: rate, Budget: budget, Timeout: f.timeout,
		AllowWrites: f.allowWrites || file.AllowWrites, Transport: tr, AllowHosts: file.AllowHosts,
		Seeds: seeds, Checks: suite.Checks(), Only: append(file.Checks, f.checks...), Skip: append(file.Skip, f.skip...),
		Version: version}
	return p, nil
}

// scanFile reads --config (or starts empty) and lays --spec and --target
// over it; base is the directory the file's relative paths start from.
func scanFile(f scanFlags) (file *scan.File, base string, err error) {
	file, base = &scan.File{}, "."
	if f.config != "" {
		if file, err = scan.LoadFile(f.config); err != nil {
			return nil, "", err
		}
		base = filepath.Dir(f.config)
	}
	if f.spec != "" {
		file.Spec = f.spec
	} else if file.Spec != "" && !strings.Contains(file.Spec, "://") && !filepath.IsAbs(file.Spec) {
		file.Spec = filepath.Join(base, file.Spec)
	}
	if f.target != "" {
		file.Target = f.target
	}
	if file.Spec == "" || file.Target == "" {
		return nil, "", errors.New("scan needs --spec and --target (or a --config that sets them)")
	}
	return file, base, nil
}

// scanIdentities are the file's identities with --identity over them,
// then --admin and --subject applied by name.
func scanIdentities(f scanFlags, file *scan.File) ([]*scan.Identity, error) {
	ids, err := file.BuildIdentities()
	if err != nil {
		return nil, err
	}
	for _, v := range f.identities {
		id, err := scan.ParseIdentityFlag(v)
		if err != nil {
			return nil, err
		}
		ids = replaceIdentity(ids, id)
	}
	byName := map[string]*scan.Identity{}
	for _, id := range ids {
		byName[id.Name] = id
	}
	for _, a := range f.admins {
		id, ok := byName[a]
		if !ok {
			return nil, fmt.Errorf("--admin %s: no identity of that name", a)
		}
		id.Privileged = true
	}
	for _, v := range f.subjects {
		name, sub, ok := strings.Cut(v, "=")
		id, known := byName[name]
		if !ok || !known || sub == "" {
			return nil, fmt.Errorf("--subject %q: want NAME=ID for a given identity", v)
		}
		id.Subject = sub
	}
	return ids, nil
}

// scanTransport is TLS 1.2 and up, trusting --cacert when given.
func scanTransport(cacert string) (*http.Transport, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12}}
	if cacert == "" {
		return tr, nil
	}
	pem, err := os.ReadFile(cacert) // #nosec G304 -- the user's own --cacert file
	if err != nil {
		return nil, fmt.Errorf("--cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--cacert %s: no PEM certificate in it", cacert)
	}
	tr.TLSClientConfig.RootCAs = pool
	return tr, nil
}

// scanSeeds reads the --seed files and the file's seeds (relative to it).
func scanSeeds(f scanFlags, file *scan.File, base string, target *url.URL, stderr io.Writer) ([]scan.Seed, error) {
	var seeds []scan.Seed
	seedFiles := f.seeds
	for _, p := range file.Seeds {
		if !filepath.IsAbs(p) {
			p = filepath.Join(base, p)
		}
		seedFiles = append(seedFiles, p)
	}
	for _, p := range seedFiles {
		b, err := os.ReadFile(p) // #nosec G304 -- the user's own --seed file
		if err != nil {
			return nil, fmt.Errorf("--seed: %w", err)
		}
		got, skipped, err := scan.ParseSeeds(p, b, target)
		if err != nil {
			return nil, err
		}
		if skipped > 0 && !f.quiet {
			fmt.Fprintf(stderr, "scan: %s: %d recorded requests to other hosts or paths left out\n", p, skipped)
		}
		seeds = append(seeds, got...)
	}
	return seeds, nil
}

func replaceIdentity(ids []*scan.Identity, id *scan.Identity) []*scan.Identity {
	for i, old := range ids {
		if old.Name == id.Name {
			id.Privileged = old.Privileged
			ids[i] = id
			return ids
		}
	}
	return append(ids, id)
}

type output struct {
	format findings.Format
	path   string
}

func parseOutputs(vals []string) ([]output, error) {
	var out []output
	for _, v := range vals {
		if name, path, ok := strings.Cut(v, "="); ok {
			f, err := findings.ParseFormat(name)
			if err != nil {
				return nil, fmt.Errorf("--output %s: %w", v, err)
			}
			out = append(out, output{f, path})
			continue
		}
		var f findings.Format
		switch strings.ToLower(filepath.Ext(v)) {
		case ".json":
			f = findings.JSON
		case ".sarif":
			f = findings.SARIF
		case ".html", ".htm":
			f = findings.HTML
		case ".xml":
			f = findings.JUnit
		case ".txt":
			f = findings.Text
		default:
			return nil, fmt.Errorf("--output %s: cannot tell the format from the extension; use FORMAT=FILE (json, sarif, html, junit, text)", v)
		}
		out = append(out, output{f, v})
	}
	return out, nil
}

// writeReport writes r to path in format f, through a temporary file.
// Callers pass o without Color: colour is for terminals, never files.
func writeReport(path string, f findings.Format, r *findings.Report, o findings.Options) error {
	tmp := path + ".tmp"
	fh, err := os.Create(tmp) // #nosec G304 -- the user's own output path
	if err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := findings.WriteWith(fh, f, r, o); err != nil {
		_ = fh.Close()
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("writing report %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// progressPrinter shows a live bar on a terminal and one line per phase
// otherwise.
type progressPrinter struct {
	w        io.Writer
	tty, off bool
	phase    string
	last     time.Time
}

func newProgressPrinter(w io.Writer, off bool) *progressPrinter {
	return &progressPrinter{w: w, off: off, tty: isTerminal(w)}
}

func (p *progressPrinter) update(pr scan.Progress) {
	if p.off {
		return
	}
	if !p.tty {
		if pr.Phase != p.phase {
			p.phase = pr.Phase
			fmt.Fprintf(p.w, "scan: %s (step %d of %d, %d requests, %d findings, %s)\n", pr.Phase, pr.OpsDone+1, pr.Ops+1, pr.Requests, pr.Findings, pr.Elapsed.Round(time.Second))
		}
		return
	}
	if time.Since(p.last) < 100*time.Millisecond && pr.Phase == p.phase {
		return
	}
	p.phase, p.last = pr.Phase, time.Now()
	const width = 24
	done := 0
	if pr.Ops > 0 {
		done = width * pr.OpsDone / pr.Ops
	}
	left := "?"
	if pr.EstimatedTotal > 0 {
		left = (pr.EstimatedTotal - pr.Elapsed).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\x1b[K[%s%s] %-16s checks %d/%d  requests %d/%d  findings %d  %s elapsed, ~%s left",
		strings.Repeat("#", done), strings.Repeat(".", width-done), pr.Phase, pr.OpsDone, pr.Ops, pr.Requests, pr.Budget, pr.Findings, pr.Elapsed.Round(time.Second), left)
}

func (p *progressPrinter) done() {
	if p.tty && !p.off {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
}
