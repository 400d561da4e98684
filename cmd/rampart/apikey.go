package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/cliout"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/lifecycle"
)

// keyService is what the apikey commands need; a running gateway's admin
// API (admin.Client) and a data directory (admin.LocalKeys) both offer it.
type keyService interface {
	CreateKey(context.Context, admin.CreateKeyRequest) (admin.NewKey, error)
	ListKeys(context.Context) ([]admin.KeyInfo, error)
	RevokeKey(context.Context, string) (admin.KeyInfo, error)
	RotateKey(context.Context, string, time.Duration) (admin.NewKey, error)
}

// keyTarget says where the keys live: a running gateway (--addr, --token,
// --cacert or RAMPART_ADDR, RAMPART_TOKEN, RAMPART_CACERT), a config
// file's store, or a data directory.
type keyTarget struct {
	configPath, dataDir string
	addr, token, caCert string
}

func (k *keyTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&k.addr, "addr", "", "admin API of a running gateway (default $RAMPART_ADDR)")
	cmd.Flags().StringVar(&k.token, "token", "", "admin token (default $RAMPART_TOKEN)")
	cmd.Flags().StringVar(&k.caCert, "cacert", "", "CA certificate of the admin listener (default $RAMPART_CACERT)")
	cmd.Flags().StringVarP(&k.configPath, "config", "c", "", "work offline on this config's store")
	cmd.Flags().StringVar(&k.dataDir, "data", "", "work offline on a stopped gateway's data directory")
}

func orEnv(v, env string) string {
	if v != "" {
		return v
	}
	return os.Getenv(env)
}

// open returns the key service and a function that releases it.
func (k *keyTarget) open(ctx context.Context) (keyService, func(), error) {
	offline := k.configPath != "" || k.dataDir != ""
	if k.configPath != "" && k.dataDir != "" {
		return nil, nil, usageError{errors.New("give -c FILE or --data DIR, not both")}
	}
	if !offline {
		addr := orEnv(k.addr, "RAMPART_ADDR")
		if addr == "" {
			return nil, nil, usageError{errors.New("give --addr (or RAMPART_ADDR) for a running gateway, or -c FILE / --data DIR to work offline")}
		}
		c, err := admin.NewClient(addr, orEnv(k.token, "RAMPART_TOKEN"), orEnv(k.caCert, "RAMPART_CACERT"))
		if err != nil {
			return nil, nil, usageError{err}
		}
		return c, func() {}, nil
	}
	if k.addr != "" {
		return nil, nil, usageError{errors.New("--addr is for a running gateway; drop it to work offline")}
	}
	cfg, err := k.offlineConfig()
	if err != nil {
		return nil, nil, err
	}
	keys, done, err := lifecycle.OpenOfflineAPIKeys(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return keys, done, nil
}

// offlineConfig returns the config the offline commands work on: the
// given one, or the defaults' for a data directory.
func (k *keyTarget) offlineConfig() (*config.Config, error) {
	if k.configPath != "" {
		c, _, _, err := config.LoadAny(k.configPath)
		return c, err
	}
	return lifecycle.DataDirConfig(k.dataDir), nil
}

func apikeyCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "apikey",
		Short: "Create, list, rotate and revoke API keys",
		Long: "Manage API keys on a running gateway (--addr, --token, --cacert, like Vault's CLI) or offline\n" +
			"on its data directory (--data DIR) or config (-c FILE). The store keeps only a keyed hash of\n" +
			"each secret: a key is printed once, at creation or rotation, and cannot be shown again.",
	}
	cmd.AddCommand(apikeyCreate(stdout), apikeyList(stdout), apikeyRevoke(stdout), apikeyRotate(stdout))
	return cmd
}

func apikeyCreate(stdout io.Writer) *cobra.Command {
	var (
		t      keyTarget
		req    admin.CreateKeyRequest
		ttl    time.Duration
		format string
	)
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print it once",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Subject == "" {
				return usageError{errors.New("create needs --subject (the key's owner)")}
			}
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			if ttl < 0 {
				return usageError{errors.New("--expires-in must not be negative")}
			}
			if ttl > 0 {
				req.ExpiresIn = ttl.String()
			}
			svc, done, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			k, err := svc.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			return printNewKey(stdout, f, k)
		},
	}
	t.flags(cmd)
	formatFlag(cmd, &format)
	cmd.Flags().StringVar(&req.Subject, "subject", "", "owner of the key (required)")
	cmd.Flags().StringVar(&req.Name, "name", "", "what the key is for")
	cmd.Flags().StringSliceVar(&req.Roles, "role", nil, "role granted (repeatable)")
	cmd.Flags().StringSliceVar(&req.Scopes, "scope", nil, "scope granted (repeatable)")
	cmd.Flags().StringSliceVar(&req.CIDRs, "cidr", nil, "only from this network (repeatable)")
	cmd.Flags().DurationVar(&ttl, "expires-in", 0, "lifetime, such as 720h (default: no expiry)")
	return cmd
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
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			svc, done, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			keys, err := svc.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			return printKeys(stdout, f, keys)
		},
	}
	t.flags(cmd)
	formatFlag(cmd, &format)
	return cmd
}

func apikeyRevoke(stdout io.Writer) *cobra.Command {
	var t keyTarget
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API key at once",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			svc, done, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			if _, err := svc.RevokeKey(cmd.Context(), a[0]); err != nil {
				return fmt.Errorf("revoking %q: %w", a[0], err)
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
		t      keyTarget
		grace  time.Duration
		format string
	)
	cmd := &cobra.Command{
		Use:   "rotate ID",
		Short: "Give an API key a new secret; the old one works for --grace",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if grace < 0 {
				return usageError{errors.New("--grace must not be negative")}
			}
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			svc, done, err := t.open(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			k, err := svc.RotateKey(cmd.Context(), a[0], grace)
			if err != nil {
				return fmt.Errorf("rotating %q: %w", a[0], err)
			}
			if f == cliout.Text {
				fmt.Fprintf(stdout, "rotated %s; the old secret works for %s\n\n", a[0], grace)
			}
			return printNewKey(stdout, f, k)
		},
	}
	t.flags(cmd)
	formatFlag(cmd, &format)
	cmd.Flags().DurationVar(&grace, "grace", 24*time.Hour, "how long the old secret keeps working")
	return cmd
}
