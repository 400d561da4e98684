package main

import (
	"errors"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

func authzCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "authz", Short: "Explain authorization decisions"}
	var (
		path, host, body string
		id               pipeline.Identity
	)
	explain := &cobra.Command{
		Use:   "explain -c FILE --as SUBJECT [--role R] [--scope S] METHOD PATH",
		Short: "Say whether a request from an identity would be allowed, and by which rule",
		Long: "Runs routing and authorization from a config for a request from the given identity\n" +
			"(authentication taken as given) and prints the decision and the rule that made it.\n" +
			"Exits 0 when allowed, 1 when refused.",
		Args: args(2),
		RunE: func(cmd *cobra.Command, a []string) error {
			if path == "" {
				return usageError{errors.New("explain needs -c FILE")}
			}
			cfg, err := loadConfig(path, stderr)
			if err != nil {
				return err
			}
			var who *pipeline.Identity
			if id.Subject != "" {
				who = &id
			} else if len(id.Roles) > 0 || len(id.Scopes) > 0 || id.Tenant != "" {
				return usageError{errors.New("--role, --scope and --tenant describe an identity: give its subject with --as")}
			}
			ex, err := gateway.Explain(cfg, strings.ToUpper(a[0]), host, a[1], who, body)
			if err != nil {
				return err
			}
			if err := printExplanation(stdout, strings.ToUpper(a[0])+" "+a[1], who, ex); err != nil {
				return err
			}
			if !ex.Allowed {
				return errDenied
			}
			return nil
		},
	}
	explain.Flags().StringVarP(&path, "config", "c", "", "config file (rampart.yaml)")
	explain.Flags().StringVar(&id.Subject, "as", "", "the identity's subject (omit for an unauthenticated request)")
	explain.Flags().StringSliceVar(&id.Roles, "role", nil, "a role of the identity (repeatable)")
	explain.Flags().StringSliceVar(&id.Scopes, "scope", nil, "a scope of the identity (repeatable)")
	explain.Flags().StringVar(&id.Tenant, "tenant", "", "the identity's tenant")
	explain.Flags().StringVar(&host, "host", "localhost", "the request's host")
	explain.Flags().StringVar(&body, "body", "", "a JSON request body, for writable-field rules")
	cmd.AddCommand(explain)
	return cmd
}

// errDenied makes explain exit 1 after printing a refusal.
var errDenied = errors.New("the request would be refused")
