package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/cliout"
)

func auditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit log"}
	var dataDir, dir, pubKey string
	prove := &cobra.Command{
		Use:   "prove REQUEST_ID",
		Short: "Print an inclusion proof of a request's event that anyone with the public key can check",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			d, k, err := auditDirKey(dataDir, dir, pubKey)
			if err != nil {
				return err
			}
			p, err := audit.Prove(d, k, a[0])
			if err != nil {
				return err
			}
			return cliout.WriteJSON(stdout, p)
		},
	}
	check := &cobra.Command{
		Use:   "check-proof FILE --pubkey KEYFILE",
		Short: "Check an inclusion proof (from rampart audit prove) against the log's public key, without the log",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			if pubKey == "" {
				return usageError{errors.New("check-proof needs --pubkey: the key you trust, not one that came with the proof")}
			}
			k, err := audit.ReadPublicKey(pubKey)
			if err != nil {
				return err
			}
			p, err := audit.ReadProof(a[0])
			if err != nil {
				return err
			}
			if err := audit.CheckProof(p, k); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "OK: event %d is in the signed tree of %d records\n", p.Index, p.TreeSize)
			return nil
		},
	}
	var subject, route, decision, since string
	var last int
	var follow bool
	query := &cobra.Command{
		Use:     "query",
		Aliases: []string{"tail"},
		Short:   "Print the events that match, one JSON line each (tail: the last 10 unless --last says; -f follows)",
		Args:    args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.CalledAs() == "tail" && last == 0 {
				last = 10
			}
			d := dir
			if d == "" {
				d = filepath.Join(dataDir, "audit")
			}
			from, err := parseSince(since, time.Now())
			if err != nil {
				return err
			}
			switch decision {
			case "", "allow", "deny", "error":
			default:
				return usageError{errors.New("--decision is allow, deny or error")}
			}
			ctx := cmd.Context()
			if follow {
				// Every new matching event as it is written, until ^C.
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
				defer stop()
			}
			opt := audit.QueryOptions{Filter: audit.Filter{Subject: subject, Route: route, Decision: decision, Since: from}, Last: last, Follow: follow}
			return audit.Query(ctx, d, opt, func(raw []byte) error {
				_, err := fmt.Fprintln(stdout, string(raw))
				return err
			})
		},
	}
	query.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing matching events as they are written, until interrupted")
	query.Flags().StringVar(&subject, "subject", "", "only this subject's events")
	query.Flags().StringVar(&route, "route", "", "only this route's events")
	query.Flags().StringVar(&decision, "decision", "", "only allowed (allow), refused (deny) or failed (error) requests")
	query.Flags().StringVar(&since, "since", "", "only events since a duration ago (1h) or an RFC 3339 time")
	query.Flags().IntVar(&last, "last", 0, "only the last N matching events")
	for _, c := range []*cobra.Command{prove, query} {
		c.Flags().StringVar(&dataDir, "data", "rampart-data", "data directory of the gateway (the log is in DIR/audit)")
		c.Flags().StringVar(&dir, "dir", "", "audit directory (instead of --data)")
	}
	prove.Flags().StringVar(&pubKey, "pubkey", "", "trusted verifier key (default: audit-key.pub in the audit directory)")
	check.Flags().StringVar(&pubKey, "pubkey", "", "the log's trusted verifier key (audit-key.pub)")
	cmd.AddCommand(verifyCmd(stdout), witnessCmd(stdout), prove, check, query, summaryCmd(stdout))
	return cmd
}

// parseSince reads --since: a duration back from now (1h) or an RFC 3339
// time; "" is no bound.
func parseSince(since string, now time.Time) (time.Time, error) {
	if since == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(since); err == nil {
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return time.Time{}, usageError{errors.New("--since is a duration such as 1h or an RFC 3339 time")}
	}
	return t, nil
}

func auditDirKey(dataDir, dir, pubKey string) (string, string, error) {
	if dir == "" {
		dir = filepath.Join(dataDir, "audit")
	}
	if pubKey == "" {
		pubKey = filepath.Join(dir, audit.PublicKeyFile)
	}
	k, err := audit.ReadPublicKey(pubKey)
	return dir, k, err
}

func summaryCmd(stdout io.Writer) *cobra.Command {
	var dataDir, dir, since, format string
	cmd := &cobra.Command{
		Use:   "summary",
		Short: "Review a period of the audit log: top subjects, denials by reason, sensitive data found, alerts, administrative actions",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = filepath.Join(dataDir, "audit")
			}
			d, err := time.ParseDuration(since)
			if err != nil || d <= 0 {
				return usageError{errors.New("--since is a duration such as 24h")}
			}
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			s, err := audit.Summarize(dir, time.Now().Add(-d))
			if err != nil {
				return err
			}
			return printSummary(stdout, f, s)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "rampart-data", "data directory of the gateway (the log is in DIR/audit)")
	cmd.Flags().StringVar(&dir, "dir", "", "audit directory (instead of --data)")
	cmd.Flags().StringVar(&since, "since", "24h", "the period to review, back from now")
	formatFlag(cmd, &format)
	return cmd
}
