package main

import (
	"encoding/json"
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
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(p)
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
			b, err := os.ReadFile(a[0]) // #nosec G304 -- the user names the file
			if err != nil {
				return err
			}
			var p audit.Proof
			if err := json.Unmarshal(b, &p); err != nil {
				return fmt.Errorf("%s: not a proof: %w", a[0], err)
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
			var from time.Time
			if since != "" {
				if dur, err := time.ParseDuration(since); err == nil {
					from = time.Now().Add(-dur)
				} else if from, err = time.Parse(time.RFC3339, since); err != nil {
					return usageError{errors.New("--since is a duration such as 1h or an RFC 3339 time")}
				}
			}
			switch decision {
			case "", "allow", "deny", "error":
			default:
				return usageError{errors.New("--decision is allow, deny or error")}
			}
			filter := audit.Filter{Subject: subject, Route: route, Decision: decision, Since: from}
			var out [][]byte
			next := int64(0)
			err := audit.Each(d, func(i int64, ev audit.Event, raw []byte) error {
				next = i + 1
				if !filter.Match(ev) {
					return nil
				}
				out = append(out, raw)
				if last > 0 && len(out) > last {
					out = out[1:]
				}
				return nil
			})
			for _, r := range out {
				fmt.Fprintln(stdout, string(r))
			}
			if err != nil || !follow {
				return err
			}
			// Then every new matching event as it is written, until ^C.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return audit.Follow(ctx, nil, d, next, 500*time.Millisecond, func(_ int64, ev audit.Event, raw []byte) error {
				if filter.Match(ev) {
					fmt.Fprintln(stdout, string(raw))
				}
				return nil
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
			if format != "text" && format != "json" {
				return usageError{errors.New("--format is text or json")}
			}
			s, err := audit.Summarize(dir, time.Now().Add(-d))
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			fmt.Fprintf(stdout, "since %s: %d requests, %d denied, %d failed\n", s.Since, s.Requests, s.Denied, s.Failed)
			fmt.Fprintln(stdout, "\ntop subjects:")
			for _, c := range s.TopSubjects {
				fmt.Fprintf(stdout, "  %6d  %s\n", c.N, c.Key)
			}
			fmt.Fprintln(stdout, "\ndenials by reason:")
			for _, c := range s.Denials {
				fmt.Fprintf(stdout, "  %6d  %s\n", c.N, c.Key)
			}
			fmt.Fprintln(stdout, "\nsensitive data in responses (kind, action):")
			for _, c := range s.Sensitive {
				fmt.Fprintf(stdout, "  %6d  %s\n", c.N, c.Key)
			}
			if len(s.Transit) > 0 {
				fmt.Fprintln(stdout, "\nencryption API calls:")
				for _, c := range s.Transit {
					fmt.Fprintf(stdout, "  %6d  %s\n", c.N, c.Key)
				}
			}
			fmt.Fprintf(stdout, "\nalerts: %d\n", len(s.Alerts))
			for _, a := range s.Alerts {
				fmt.Fprintf(stdout, "  %s  %s  %s  %s\n", a.Time, a.Action, a.ClientIP, a.Detail)
			}
			fmt.Fprintf(stdout, "\nadministrative actions: %d\n", len(s.Admin))
			for _, a := range s.Admin {
				fmt.Fprintf(stdout, "  %s  %s  %s  %s\n", a.Time, a.Action, a.Subject, a.Detail)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "rampart-data", "data directory of the gateway (the log is in DIR/audit)")
	cmd.Flags().StringVar(&dir, "dir", "", "audit directory (instead of --data)")
	cmd.Flags().StringVar(&since, "since", "24h", "the period to review, back from now")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}
