package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/admin"
)

// banTarget is the running gateway whose ban list the ban commands change:
// --addr, --token, --cacert or RAMPART_ADDR, RAMPART_TOKEN, RAMPART_CACERT,
// as for apikey. Bans live in a running gateway (or its Redis), so there is
// no offline mode.
type banTarget struct {
	addr, token, caCert string
}

func (b *banTarget) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&b.addr, "addr", "", "admin API of a running gateway (default $RAMPART_ADDR)")
	cmd.Flags().StringVar(&b.token, "token", "", "admin token (default $RAMPART_TOKEN)")
	cmd.Flags().StringVar(&b.caCert, "cacert", "", "CA certificate of the admin listener (default $RAMPART_CACERT)")
}

func (b *banTarget) open() (*admin.Client, error) {
	addr := orEnv(b.addr, "RAMPART_ADDR")
	if addr == "" {
		return nil, usageError{errors.New("give --addr (or RAMPART_ADDR): bans are managed on a running gateway")}
	}
	c, err := admin.NewClient(addr, orEnv(b.token, "RAMPART_TOKEN"), orEnv(b.caCert, "RAMPART_CACERT"))
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

func banCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ban",
		Short: "Ban, list and unban client networks on a running gateway",
		Long: "Refuse a client address or network for a while (403 firewall.banned), on a running gateway\n" +
			"through its admin API (--addr, --token, --cacert). With firewall.bans.backend redis, a ban\n" +
			"reaches every gateway that shares the Redis.",
	}
	cmd.AddCommand(banAdd(stdout), banList(stdout), banRemove(stdout))
	return cmd
}

func banAdd(stdout io.Writer) *cobra.Command {
	var (
		t      banTarget
		ttl    time.Duration
		reason string
	)
	cmd := &cobra.Command{
		Use:   "add NETWORK",
		Short: "Ban an address (203.0.113.7) or a CIDR (2001:db8::/48) for --ttl",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if ttl <= 0 {
				return usageError{errors.New("--ttl must be positive, such as 1h")}
			}
			c, err := t.open()
			if err != nil {
				return err
			}
			b, err := c.AddBan(cmd.Context(), admin.AddBanRequest{Network: a[0], TTL: ttl.String(), Reason: reason})
			if err != nil {
				return fmt.Errorf("banning %q: %w", a[0], err)
			}
			fmt.Fprintf(stdout, "banned %s until %s\n", b.Network, when(b.ExpiresAt))
			return nil
		},
	}
	t.flags(cmd)
	cmd.Flags().DurationVar(&ttl, "ttl", time.Hour, "how long the ban lasts (at most firewall.bans.max_ttl)")
	cmd.Flags().StringVar(&reason, "reason", "", "a note for other admins (up to 200 bytes)")
	return cmd
}

func banList(stdout io.Writer) *cobra.Command {
	var (
		t      banTarget
		format string
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the bans in force",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			c, err := t.open()
			if err != nil {
				return err
			}
			bans, err := c.ListBans(cmd.Context())
			if err != nil {
				return err
			}
			return printBans(stdout, f, bans)
		},
	}
	t.flags(cmd)
	formatFlag(cmd, &format)
	return cmd
}

func banRemove(stdout io.Writer) *cobra.Command {
	var t banTarget
	cmd := &cobra.Command{
		Use:   "remove NETWORK",
		Short: "Lift the ban on exactly this address or CIDR",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			c, err := t.open()
			if err != nil {
				return err
			}
			if err := c.RemoveBan(cmd.Context(), a[0]); err != nil {
				return fmt.Errorf("unbanning %q: %w", a[0], err)
			}
			fmt.Fprintf(stdout, "unbanned %s\n", a[0])
			return nil
		},
	}
	t.flags(cmd)
	return cmd
}
