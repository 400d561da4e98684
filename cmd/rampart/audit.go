package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/audit"
)

func auditCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "The tamper-evident audit log"}
	var dataDir, dir, pubKey string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the audit log's hash chain and signed checkpoints; name the first bad record or checkpoint",
		Long: `Verify reads the audit log of a data directory (--data, the log in DIR/audit)
or of an audit directory (--dir) and checks every record's hash-chain link
and every checkpoint's signature and Merkle root. It exits 0 when the log
is intact and 1 naming the first bad record or checkpoint otherwise.

Pass --pubkey with a copy of audit-key.pub kept apart from the gateway:
the key beside the log is only as trustworthy as the disk it is on.`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = filepath.Join(dataDir, "audit")
			}
			if pubKey == "" {
				pubKey = filepath.Join(dir, audit.PublicKeyFile)
			}
			key, err := audit.ReadPublicKey(pubKey)
			if err != nil {
				return err
			}
			rep, err := audit.Verify(dir, key)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "log:         %s\nrecords:     %d\ncheckpoints: %d\n", dir, rep.Records, rep.Checkpoints)
			if rep.OK() {
				fmt.Fprintln(stdout, "OK: every record is chained and every checkpoint is signed and matches")
				return nil
			}
			for _, p := range rep.Problems {
				fmt.Fprintln(stdout, "BAD:", p)
			}
			return errors.New("the audit log does not verify")
		},
	}
	verify.Flags().StringVar(&dataDir, "data", "rampart-data", "data directory of the gateway (the log is in DIR/audit)")
	verify.Flags().StringVar(&dir, "dir", "", "audit directory (instead of --data)")
	verify.Flags().StringVar(&pubKey, "pubkey", "", "trusted verifier key (default: audit-key.pub in the audit directory)")
	cmd.AddCommand(verify)
	return cmd
}
