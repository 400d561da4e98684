package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/openapi"
	"github.com/rampart-gw/rampart/internal/specimport"
)

func importOpenAPICmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		o   specimport.Options
		out string
	)
	cmd := &cobra.Command{
		Use:   "import-openapi openapi.yaml [--upstream NAME] [--auth SCHEME=AUTHENTICATOR]... [--server N] [-o FILE]",
		Short: "Write the routes section for every operation of an OpenAPI spec, for review",
		Long: `Write a routes: section with one route per operation of an OpenAPI 3.0/3.1 spec, to paste
into rampart.yaml after review: the path under the base path of servers[N] (--server, default 0),
the method, the upstream (--upstream, default api), auth from the security requirements (each
scheme checked by the authenticator of its name, or as --auth maps it) with authz.scopes from
their scopes, public: true only where the spec says security: [], and an openapi block that
enforces the operation. Wherever a route cannot say exactly what the spec does, a comment says
so and the stricter route is written; an operation whose path no route pattern expresses is
left out (named in a comment and on stderr), and one with no security in the spec gets no access
and a TODO, so that the config refuses to load until someone decides (deny by default).
Warnings go to stderr. See docs/inputs.md.

Exit codes: 0 the routes are written (warnings or not), 1 a failure (the spec does not load),
2 usage errors.`,
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			spec := a[0]
			if strings.HasPrefix(spec, "http://") || strings.HasPrefix(spec, "https://") {
				return usageError{errors.New("import-openapi reads a spec file, which the routes' openapi blocks then name: download the spec first")}
			}
			s, err := openapi.Load(cmd.Context(), spec, openapi.Options{})
			if err != nil {
				return err
			}
			o.Spec = filepath.ToSlash(spec)
			res, err := specimport.Import(s, o)
			var oe *specimport.OptionError
			if errors.As(err, &oe) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			for _, w := range res.Warnings {
				fmt.Fprintln(stderr, w)
			}
			if out == "" {
				_, err = stdout.Write(res.YAML)
				return err
			}
			// Routes name no secret: readable like the config they go in.
			if err := os.WriteFile(out, res.YAML, 0o644); err != nil { // #nosec G306 -- see above
				return fmt.Errorf("writing the routes: %w", err)
			}
			fmt.Fprintf(stderr, "%s: %d route(s) for %s, %d operation(s) not imported\n", out, res.Routes, spec, res.Skipped)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&o.Upstream, "upstream", specimport.DefaultUpstream, "the upstream every route forwards to")
	fl.StringToStringVar(&o.Auth, "auth", nil, "map a security scheme to the authenticator that checks it, SCHEME=AUTHENTICATOR (repeatable, or comma-separated)")
	fl.IntVar(&o.Server, "server", 0, "the index in the spec's servers whose base path prefixes the routes' paths")
	fl.StringVarP(&out, "output", "o", "", "write the routes to FILE instead of stdout")
	return cmd
}
