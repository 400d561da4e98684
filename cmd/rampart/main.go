// Command rampart is the API security gateway and toolkit. This file parses
// flags and calls into the internal packages; no logic lives here.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/demo"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/lifecycle"
	"github.com/rampart-gw/rampart/internal/lint"
	"github.com/rampart-gw/rampart/internal/lint/configlint"
	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/yamlpos"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes shared by every command.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2
	defaultAdmin = "127.0.0.1:9443"
)

// usageError marks errors caused by how the command was called.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "rampart:", err)
	var u usageError
	if errors.As(err, &u) {
		return exitUsage
	}
	return exitFailure
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "rampart",
		Short:         "Rampart: the API security gateway and toolkit",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args: func(_ *cobra.Command, a []string) error {
			if len(a) > 0 {
				return usageError{fmt.Errorf("unknown command %q; see rampart --help", a[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return usageError{errors.New("a command is required; see rampart --help")}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(serveCmd(stdout, stderr), demoCmd(stdout, stderr), configCmd(stdout, stderr), apikeyCmd(stdout), keysCmd(stdout, stderr), banCmd(stdout), auditCmd(stdout), authzCmd(stdout, stderr), scanCmd(stdout, stderr), lintCmd(stdout), versionCmd(stdout))
	return root
}

func args(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) != n {
			return usageError{fmt.Errorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(a))}
		}
		return nil
	}
}

func logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// loadConfig loads a config file and prints its warnings.
func loadConfig(path string, warn io.Writer) (*config.Config, error) {
	c, warnings, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	for _, w := range warnings {
		fmt.Fprintf(warn, "%s:%d:%d: %s\n", path, w.Line, w.Column, w)
	}
	return c, nil
}

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway",
		Long:  "Run the gateway with the given config. SIGHUP reloads the config; SIGINT or SIGTERM shut down gracefully.",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{errors.New("serve needs -c FILE")}
			}
			cfg, err := loadConfig(path, stderr)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			return lifecycle.Serve(ctx, lifecycle.ServeOptions{
				Config: cfg, Logger: logger(stderr), Stdout: stdout, Version: version, Reload: reload,
				Load: func() (*config.Config, error) { return loadConfig(path, stderr) },
			})
		},
	}
	cmd.Flags().StringVarP(&path, "config", "c", "", "config file (rampart.yaml)")
	return cmd
}

func demoCmd(stdout, stderr io.Writer) *cobra.Command {
	o := demo.Options{Out: stdout, Version: version}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the gateway with self-signed TLS in front of a built-in demo API",
		Long: "Run the gateway with self-signed TLS in front of a built-in, deliberately naive demo API.\n" +
			"Prints the URLs and credentials and writes them to DATA/demo-credentials.json.",
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.UnprotectedPort < 0 || o.UnprotectedPort > 65535 {
				return usageError{fmt.Errorf("--unprotected-port must be from 1 to 65535, got %d", o.UnprotectedPort)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			o.Logger = logger(stderr)
			return demo.Run(ctx, o)
		},
	}
	cmd.Flags().StringVar(&o.Listen, "listen", "127.0.0.1:8443", "gateway address")
	cmd.Flags().StringVar(&o.Admin, "admin", defaultAdmin, "admin address")
	cmd.Flags().StringVar(&o.DataDir, "data", "rampart-demo", "data directory (CA, credentials, logs)")
	cmd.Flags().IntVar(&o.UnprotectedPort, "unprotected-port", 0, "also serve the demo API bare on 127.0.0.1:PORT")
	return cmd
}

func configCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Validate configs, print their schema, write routes from an OpenAPI spec"}
	var path string
	validate := &cobra.Command{
		Use:   "validate",
		Short: "Check a config file and report every problem with its line",
		Long: "Check a config file and report every problem with its line: errors, which stop it from\n" +
			"loading (exit 1), then warnings and the findings of rampart lint's config rules\n" +
			"(docs/lint/config.md), which do not (exit 0). Each route with an openapi block is\n" +
			"compared with its spec: methods that reach no operation of it and access weaker than\n" +
			"its security are findings; a spec that does not load, or an openapi.operation it\n" +
			"lacks, is an error.",
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageError{errors.New("validate needs -c FILE")}
			}
			// Read once: the checks and the positions they print come
			// from the same bytes.
			data, err := readBounded(path, config.MaxFileSize)
			if err != nil {
				return err
			}
			cfg, warnings, mode, err := config.ParseAny(path, data)
			if err != nil {
				return err
			}
			idx, err := yamlpos.New(data)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			// The routes' own specs: those that load are compared with
			// their routes below; those that do not, and operations
			// they lack, fail the command after the findings.
			specs, specErr := configlint.LoadRouteSpecs(cmd.Context(), cfg, path, idx)
			if err := printConfigFindings(cmd.Context(), stdout, path, idx, cfg, warnings, specs); err != nil {
				return err
			}
			if specErr != nil {
				return specErr
			}
			if err := gateway.Check(cfg); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if mode == config.Middleware {
				fmt.Fprintf(stdout, "%s: valid (middleware mode: no listeners or upstreams, for package rampart)\n", path)
				return nil
			}
			fmt.Fprintf(stdout, "%s: valid\n", path)
			return nil
		},
	}
	validate.Flags().StringVarP(&path, "config", "c", "", "config file (rampart.yaml)")
	schema := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of rampart.yaml, for editors",
		Args:  args(0),
		RunE: func(_ *cobra.Command, _ []string) error {
			b, err := config.JSONSchema()
			if err != nil {
				return err
			}
			_, err = stdout.Write(b)
			return err
		},
	}
	cmd.AddCommand(validate, schema, importOpenAPICmd(stdout, stderr))
	return cmd
}

// printConfigFindings runs rampart lint's config checker alone on a config
// (idx its position index), comparing the routes that have an openapi
// block with their specs, and prints the config's warnings (those no
// finding restates), then each finding as file:line:col: severity
// rule-id: message, in the order of the file. Findings are warnings: they
// never fail the command.
func printConfigFindings(ctx context.Context, w io.Writer, path string, idx yamlpos.Index, cfg *config.Config, warnings []config.Problem, specs map[string]*openapi.Spec) error {
	fs, _, err := configlint.Checker{}.Check(ctx, &lint.Input{Config: cfg, ConfigFile: path, ConfigIndex: idx, RouteSpecs: specs})
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, p := range configlint.Unrestated(warnings, fs) {
		fmt.Fprintf(w, "%s:%d:%d: %s\n", path, p.Line, p.Column, p)
	}
	slices.SortStableFunc(fs, func(a, b findings.Finding) int {
		return cmp.Or(cmp.Compare(a.Location.Line, b.Location.Line), cmp.Compare(a.Location.Column, b.Location.Column))
	})
	for _, f := range fs {
		fmt.Fprintf(w, "%s:%d:%d: %s %s: %s\n", f.Location.File, f.Location.Line, f.Location.Column, f.Severity, f.RuleID, f.Message)
	}
	return nil
}

func versionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(0),
		Run:   func(_ *cobra.Command, _ []string) { fmt.Fprintln(stdout, "rampart", version) },
	}
}
