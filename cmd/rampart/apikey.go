package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/apikey"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/store"
)

// keyTarget says where the keys live: a config file's store and pepper, or
// a data directory's defaults.
type keyTarget struct {
	configPath, dataDir string
}

func (k *keyTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&k.configPath, "config", "c", "", "config file whose store and pepper to use")
	cmd.Flags().StringVar(&k.dataDir, "data", "", "data directory of a gateway (its rampart.db and apikey-pepper)")
}

func (k *keyTarget) open(ctx context.Context) (*store.Store, *apikey.Hasher, error) {
	var sc config.Store
	var pepper string
	switch {
	case (k.configPath == "") == (k.dataDir == ""):
		return nil, nil, usageError{errors.New("give exactly one of -c FILE or --data DIR")}
	case k.configPath != "":
		c, _, err := config.Load(k.configPath)
		if err != nil {
			return nil, nil, err
		}
		sc = c.Store
		pepper = filepath.Join(c.DataDir, "apikey-pepper")
		if len(c.Authn.APIKey) > 0 {
			pepper = c.Authn.APIKey[0].PepperFile
		}
	default:
		sc = config.Store{Driver: "sqlite", Path: filepath.Join(k.dataDir, "rampart.db")}
		pepper = filepath.Join(k.dataDir, "apikey-pepper")
	}
	s, err := store.Open(ctx, sc)
	if err != nil {
		return nil, nil, err
	}
	h, err := apikey.LoadOrCreatePepper(pepper)
	if err != nil {
		_ = s.Close()
		return nil, nil, err
	}
	return s, h, nil
}

func apikeyCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list, rotate and revoke API keys",
		Long: "Manage API keys in a gateway's store. The store keeps only a keyed hash of each secret:\n" +
			"a key is printed once, at creation or rotation, and cannot be shown again.",
	}
	cmd.AddCommand(apikeyCreate(stdout), apikeyList(stdout), apikeyRevoke(stdout), apikeyRotate(stdout))
	return cmd
}

func apikeyCreate(stdout io.Writer) *cobra.Command {
	var (
		t    keyTarget
		spec apikey.Spec
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print it once",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if spec.Subject == "" {
				return usageError{errors.New("create needs --subject (the key's owner)")}
			}
			s, h, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			key, rec, err := apikey.Create(cmd.Context(), s, h, spec, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "id:      %s\nsubject: %s\nexpires: %s\n\n%s\n\nStore it now: it cannot be shown again.\n", rec.ID, rec.Subject, when(rec.ExpiresAt), key)
			return nil
		},
	}
	t.flags(cmd)
	cmd.Flags().StringVar(&spec.Subject, "subject", "", "owner of the key (required)")
	cmd.Flags().StringVar(&spec.Name, "name", "", "what the key is for")
	cmd.Flags().StringSliceVar(&spec.Roles, "role", nil, "role granted (repeatable)")
	cmd.Flags().StringSliceVar(&spec.Scopes, "scope", nil, "scope granted (repeatable)")
	cmd.Flags().StringSliceVar(&spec.CIDRs, "cidr", nil, "only from this network (repeatable)")
	cmd.Flags().DurationVar(&spec.TTL, "expires-in", 0, "lifetime, such as 720h (default: no expiry)")
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func status(k store.APIKey, now time.Time) string {
	switch {
	case !k.RevokedAt.IsZero():
		return "revoked"
	case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
		return "expired"
	case len(k.PrevHash) > 0 && now.Before(k.PrevValidUntil):
		return "rotating"
	}
	return "active"
}

func apikeyList(stdout io.Writer) *cobra.Command {
	var (
		t      keyTarget
		format string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format must be text or json, got %q", format)}
			}
			s, _, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := s.ListAPIKeys(cmd.Context())
			if err != nil {
				return err
			}
			now := time.Now()
			if format == "json" {
				type out struct {
					ID, Name, Subject, Status string
					Roles, Scopes, CIDRs      []string
					Created, Expires, LastUse string
				}
				list := []out{}
				for _, k := range keys {
					list = append(list, out{k.ID, k.Name, k.Subject, status(k, now), k.Roles, k.Scopes, k.CIDRs, when(k.CreatedAt), when(k.ExpiresAt), when(k.LastUsedAt)})
				}
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tSUBJECT\tNAME\tROLES\tSCOPES\tSTATUS\tEXPIRES\tLAST USED")
			for _, k := range keys {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Subject, k.Name, strings.Join(k.Roles, ","), strings.Join(k.Scopes, " "),
					status(k, now), when(k.ExpiresAt), when(k.LastUsedAt))
			}
			return w.Flush()
		},
	}
	t.flags(cmd)
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func apikeyRevoke(stdout io.Writer) *cobra.Command {
	var t keyTarget
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key at once",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			s, _, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.RevokeAPIKey(cmd.Context(), a[0], time.Now()); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no api key %q", a[0])
				}
				return err
			}
			fmt.Fprintf(stdout, "revoked %s\n", a[0])
			return nil
		},
	}
	t.flags(cmd)
	return cmd
}

func apikeyRotate(stdout io.Writer) *cobra.Command {
	var (
		t     keyTarget
		grace time.Duration
	)
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Give an API key a new secret; the old one works for --grace",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if grace < 0 {
				return usageError{errors.New("--grace must not be negative")}
			}
			s, h, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			key, err := apikey.Rotate(cmd.Context(), s, h, a[0], grace, time.Now())
			if err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return fmt.Errorf("no active api key %q", a[0])
				}
				return err
			}
			fmt.Fprintf(stdout, "rotated %s; the old secret works for %s\n\n%s\n\nStore it now: it cannot be shown again.\n", a[0], grace, key)
			return nil
		},
	}
	t.flags(cmd)
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old secret keeps working")
	return cmd
}
