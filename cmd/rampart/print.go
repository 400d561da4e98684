package main

// The text views of the commands' results, on the primitives of cliout:
// every table and every label: value block the commands print is here.

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/cliout"
	"github.com/rampart-gw/rampart/internal/findings"
	"github.com/rampart-gw/rampart/internal/gateway"
	"github.com/rampart-gw/rampart/internal/pipeline"
)

// formatFlag adds --format (-o) to cmd: text, the default, or json.
func formatFlag(cmd *cobra.Command, format *string) {
	cmd.Flags().StringVarP(format, "format", "o", string(cliout.Text), cliout.FormatUsage)
}

// parseFormat checks a --format value; a bad one is a usage error.
func parseFormat(s string) (cliout.Format, error) {
	f, err := cliout.ParseFormat(s)
	if err != nil {
		return "", usageError{fmt.Errorf("--format %w", err)}
	}
	return f, nil
}

// when prints a time in UTC, "-" for none.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// printNewKey shows a key just made, its secret once.
func printNewKey(w io.Writer, f cliout.Format, k admin.NewKey) error {
	return cliout.Print(w, f, k, func(w io.Writer) error {
		if err := cliout.WriteFields(w, cliout.Field{Label: "id", Value: k.ID}, cliout.Field{Label: "subject", Value: k.Subject},
			cliout.Field{Label: "expires", Value: when(k.ExpiresAt)}); err != nil {
			return err
		}
		_, err := fmt.Fprintf(w, "\n%s\n\nStore it now: it cannot be shown again.\n", k.Key)
		return err
	})
}

// printKeys lists API keys, never their secrets.
func printKeys(w io.Writer, f cliout.Format, keys []admin.KeyInfo) error {
	return cliout.Print(w, f, keys, func(w io.Writer) error {
		t := cliout.NewTable(w, "ID", "SUBJECT", "NAME", "ROLES", "SCOPES", "STATUS", "EXPIRES", "LAST USED")
		for _, k := range keys {
			t.Row(k.ID, k.Subject, k.Name, strings.Join(k.Roles, ","), strings.Join(k.Scopes, " "), k.Status, when(k.ExpiresAt), when(k.LastUsedAt))
		}
		return t.Flush()
	})
}

// printDataKeys lists a page of data key versions and the cursor of the
// next page.
func printDataKeys(w io.Writer, f cliout.Format, page admin.KeysPage) error {
	return cliout.Print(w, f, page, func(w io.Writer) error {
		t := cliout.NewTable(w, "SUBJECT", "VERSION", "KEY ID", "KEK", "CREATED", "USED")
		for _, k := range page.Keys {
			t.Row(k.Subject, fmt.Sprint(k.Version), k.KeyID, fmt.Sprint(k.KEKVersion), when(k.CreatedAt), fmt.Sprint(k.Used))
		}
		if err := t.Flush(); err != nil {
			return err
		}
		if page.Next != "" {
			_, err := fmt.Fprintf(w, "more: --after %s\n", page.Next)
			return err
		}
		return nil
	})
}

// printBans lists the bans in force.
func printBans(w io.Writer, f cliout.Format, bans []admin.BanInfo) error {
	return cliout.Print(w, f, bans, func(w io.Writer) error {
		t := cliout.NewTable(w, "NETWORK", "EXPIRES", "CREATED", "REASON")
		for _, b := range bans {
			t.Row(b.Network, when(b.ExpiresAt), when(b.CreatedAt), b.Reason)
		}
		return t.Flush()
	})
}

// printSummary shows a period of the audit log.
func printSummary(w io.Writer, f cliout.Format, s audit.Summary) error {
	return cliout.Print(w, f, s, func(w io.Writer) error {
		var b strings.Builder
		counts := func(title string, cs []audit.Count) {
			fmt.Fprintf(&b, "\n%s:\n", title)
			for _, c := range cs {
				fmt.Fprintf(&b, "  %6d  %s\n", c.N, c.Key)
			}
		}
		fmt.Fprintf(&b, "since %s: %d requests, %d denied, %d failed\n", s.Since, s.Requests, s.Denied, s.Failed)
		counts("top subjects", s.TopSubjects)
		counts("denials by reason", s.Denials)
		counts("sensitive data in responses (kind, action)", s.Sensitive)
		if len(s.Transit) > 0 {
			counts("encryption API calls", s.Transit)
		}
		fmt.Fprintf(&b, "\nalerts: %d\n", len(s.Alerts))
		for _, a := range s.Alerts {
			fmt.Fprintf(&b, "  %s  %s  %s  %s\n", a.Time, a.Action, a.ClientIP, a.Detail)
		}
		fmt.Fprintf(&b, "\nadministrative actions: %d\n", len(s.Admin))
		for _, a := range s.Admin {
			fmt.Fprintf(&b, "  %s  %s  %s  %s\n", a.Time, a.Action, a.Subject, a.Detail)
		}
		_, err := io.WriteString(w, b.String())
		return err
	})
}

// printReport writes what Verify found, one fact per line.
func printReport(w io.Writer, dir string, rep audit.Report) error {
	records := fmt.Sprintf("%d (%d events, %d the log's own", rep.Records, rep.Events, rep.Records-rep.Pruned-rep.Events)
	if rep.Pruned > 0 {
		records += fmt.Sprintf(", %d deleted by retention under a signed retention record", rep.Pruned)
	}
	rollback := "cannot be ruled out: no checkpoint kept away from this disk was checked (use -c or --witness)"
	if rep.Anchored > 0 {
		rollback = fmt.Sprintf("ruled out up to %d records by %s", rep.Anchored, strings.Join(rep.AnchoredBy, ", "))
	}
	err := cliout.WriteFields(w,
		cliout.Field{Label: "log", Value: dir},
		cliout.Field{Label: "origin", Value: rep.Origin},
		cliout.Field{Label: "records", Value: records + ")"},
		cliout.Field{Label: "checkpoints", Value: fmt.Sprintf("%d (store copies: %d, witnesses: %d)", rep.Checkpoints, rep.Copies, rep.Witnesses)},
		cliout.Field{Label: "signed", Value: fmt.Sprintf("%d records covered by a checked signature", rep.Signed)},
		cliout.Field{Label: "unsigned", Value: fmt.Sprintf("%d records after the newest checked checkpoint", rep.Unsigned)},
		cliout.Field{Label: "rollback", Value: rollback})
	if err != nil {
		return err
	}
	var b strings.Builder
	for _, m := range rep.Warnings {
		fmt.Fprintln(&b, "WARN:", m)
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(&b, "BAD:", p)
	}
	if rep.OK() {
		fmt.Fprintln(&b, "OK: every record is chained and covered as stated; every checkpoint is signed, chained and matches")
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// printExplanation shows an authorization decision and what made it.
func printExplanation(w io.Writer, request string, who *pipeline.Identity, ex gateway.Explanation) error {
	as := "nobody (unauthenticated)"
	if who != nil {
		as = fmt.Sprintf("%s roles=%v scopes=%v tenant=%q", who.Subject, who.Roles, who.Scopes, who.Tenant)
	}
	fs := []cliout.Field{{Label: "request", Value: request}, {Label: "as", Value: as}, {Label: "path", Value: ex.Path}}
	if ex.Route != "" {
		fs = append(fs, cliout.Field{Label: "route", Value: ex.Route})
	}
	if len(ex.Params) > 0 {
		var ps []string
		for _, pr := range ex.Params {
			ps = append(ps, pr.Name+"="+pr.Value)
		}
		fs = append(fs, cliout.Field{Label: "params", Value: strings.Join(ps, " ")})
	}
	if ex.Rule != "" {
		fs = append(fs, cliout.Field{Label: "rule", Value: ex.Rule})
	}
	decision := "ALLOW"
	if !ex.Allowed {
		decision = fmt.Sprintf("DENY by %s: %s (%s)", ex.Stage, ex.Reason, ex.Message)
	}
	return cliout.WriteFields(w, append(fs, cliout.Field{Label: "decision", Value: decision})...)
}

// printRules lists the scanner's rules in fixed columns.
func printRules(w io.Writer, rules []findings.Rule) error {
	var b strings.Builder
	for _, r := range rules {
		fmt.Fprintf(&b, "%-42s %-9s %-8s %s\n", r.ID, r.OWASP, r.Severity, r.Name)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
