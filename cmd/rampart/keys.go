package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/rampart-gw/rampart/internal/admin"
	"github.com/rampart-gw/rampart/internal/keyring"
	"github.com/rampart-gw/rampart/internal/lifecycle"
)

// dataKeyService is what the keys commands need; a running gateway's admin
// API and a data directory both offer it.
type dataKeyService interface {
	ListDataKeys(ctx context.Context, subject, after string, limit int) (admin.KeysPage, error)
	RotateDataKey(ctx context.Context, subject string) (admin.RotateResult, error)
	RewrapDataKeys(ctx context.Context) (keyring.RewrapResult, error)
	ShredSubject(ctx context.Context, subject string) (admin.ShredResult, error)
}

// dataKeyTarget is keyTarget for data keys: the offline form also needs
// the KEK and the audit log.
type dataKeyTarget struct{ keyTarget }

func (k *dataKeyTarget) open(ctx context.Context, stderr io.Writer) (dataKeyService, func(), error) {
	if k.configPath != "" && k.dataDir != "" {
		return nil, nil, usageError{errors.New("give -c FILE or --data DIR, not both")}
	}
	if k.configPath == "" && k.dataDir == "" {
		svc, done, err := k.keyTarget.open(ctx)
		if err != nil {
			return nil, nil, err
		}
		return svc.(*admin.Client), done, nil
	}
	if k.addr != "" {
		return nil, nil, usageError{errors.New("--addr is for a running gateway; drop it to work offline")}
	}
	cfg, err := k.offlineConfig()
	if err != nil {
		return nil, nil, err
	}
	keys, done, err := lifecycle.OpenOfflineKeys(ctx, cfg, stderr)
	if err != nil {
		return nil, nil, err
	}
	return keys, done, nil
}

// run opens the target, runs f on it and releases it: the body of every
// keys command.
func (k *dataKeyTarget) run(stderr io.Writer, f func(ctx context.Context, svc dataKeyService, a []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, a []string) error {
		svc, done, err := k.open(cmd.Context(), stderr)
		if err != nil {
			return err
		}
		defer done()
		return f(cmd.Context(), svc, a)
	}
}

func keysCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "List, rotate, rewrap and shred per-subject data keys",
		Long: "Manage the data keys that encrypt protected fields, on a running gateway (--addr, --token,\n" +
			"--cacert or RAMPART_ADDR, RAMPART_TOKEN, RAMPART_CACERT) or offline on a stopped gateway's\n" +
			"data directory (--data DIR) or config (-c FILE). Data keys are stored wrapped by the\n" +
			"key-encryption key (KEK); no command ever prints a key.\n\n" +
			"  rotate SUBJECT   new encryptions for SUBJECT use a new key version; old ones still decrypt\n" +
			"  kek-add          add a KEK version (offline, to the KEK file), then run rewrap\n" +
			"  rewrap           rewrap every data key under the newest KEK version (resumable)\n" +
			"  shred SUBJECT    destroy every key of SUBJECT: their encrypted data is unreadable for good",
	}
	cmd.AddCommand(keysList(stdout, stderr), keysRotate(stdout, stderr), keysRewrap(stdout, stderr), keysShred(stdout, stderr), keysKEKAdd(stdout))
	return cmd
}

func keysList(stdout, stderr io.Writer) *cobra.Command {
	var (
		t      dataKeyTarget
		after  string
		limit  int
		format string
	)
	cmd := &cobra.Command{
		Use:   "list [SUBJECT]",
		Short: "List data key versions (of one subject, or a page of all)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			f, err := parseFormat(format)
			if err != nil {
				return err
			}
			if limit < 1 || limit > 10000 {
				return usageError{errors.New("--limit must be from 1 to 10000")}
			}
			subject := ""
			if len(a) == 1 {
				subject = a[0]
			}
			svc, done, err := t.open(cmd.Context(), stderr)
			if err != nil {
				return err
			}
			defer done()
			page, err := svc.ListDataKeys(cmd.Context(), subject, after, limit)
			if err != nil {
				return err
			}
			return printDataKeys(stdout, f, page)
		},
	}
	t.flags(cmd)
	cmd.Flags().StringVar(&after, "after", "", "the cursor a previous page printed (paging)")
	cmd.Flags().IntVar(&limit, "limit", 1000, "at most this many keys")
	formatFlag(cmd, &format)
	return cmd
}

func keysRotate(stdout, stderr io.Writer) *cobra.Command {
	var t dataKeyTarget
	cmd := &cobra.Command{
		Use:   "rotate SUBJECT",
		Short: "Make a new data key version for SUBJECT",
		Args:  args(1),
		RunE: t.run(stderr, func(ctx context.Context, svc dataKeyService, a []string) error {
			res, err := svc.RotateDataKey(ctx, a[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: new encryptions use data key version %d; older versions still decrypt\n", res.Subject, res.Version)
			return nil
		}),
	}
	t.flags(cmd)
	return cmd
}

func keysRewrap(stdout, stderr io.Writer) *cobra.Command {
	var t dataKeyTarget
	cmd := &cobra.Command{
		Use:   "rewrap",
		Short: "Rewrap every data key (and reseal every signing key) under the newest KEK version",
		Long: "Rewrap rereads the KEK and rewraps every data key wrapped by an older KEK version with the\n" +
			"newest one, without touching any data, then reseals the identity-token and token-server signing\n" +
			"keys the same way (same keys, same kids). It can be interrupted and run again: it resumes with\n" +
			"what is left. Keep the old KEK versions until it reports every key on the new one.",
		Args: args(0),
		RunE: t.run(stderr, func(ctx context.Context, svc dataKeyService, _ []string) error {
			res, err := svc.RewrapDataKeys(ctx)
			if err != nil {
				return err
			}
			if res.Remaining > 0 {
				return fmt.Errorf("rewrapped %d data keys, but %d of %d are still wrapped by an older KEK version (a gateway has not reread the KEK yet): run rewrap again, and keep the old versions until it reports none", res.Rewrapped, res.Remaining, res.Total)
			}
			fmt.Fprintf(stdout, "rewrapped %d data keys; all %d are wrapped by KEK version %d\n", res.Rewrapped, res.Total, res.KEKVersion)
			if res.SigningKeysRemaining > 0 {
				return fmt.Errorf("rewrapped every data key, but %d signing keys are still sealed by an older KEK version (a gateway has not reread the KEK yet): run rewrap again, and keep the old versions until it reports none", res.SigningKeysRemaining)
			}
			if res.SigningKeysResealed > 0 {
				fmt.Fprintf(stdout, "resealed %d signing keys with KEK version %d\n", res.SigningKeysResealed, res.KEKVersion)
			}
			return nil
		}),
	}
	t.flags(cmd)
	return cmd
}

func keysShred(stdout, stderr io.Writer) *cobra.Command {
	var t dataKeyTarget
	cmd := &cobra.Command{
		Use:   "shred SUBJECT",
		Short: "Destroy every data key of SUBJECT (crypto-shredding)",
		Long: "Shred deletes every data key version of SUBJECT, so that everything ever encrypted for them\n" +
			"is unreadable everywhere at once (other gateways drop their cached keys within seconds).\n" +
			"It cannot be undone. The shred is recorded in the audit log.",
		Args: args(1),
		RunE: t.run(stderr, func(ctx context.Context, svc dataKeyService, a []string) error {
			res, err := svc.ShredSubject(ctx, a[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: %d data key versions destroyed; their data can no longer be decrypted\n", res.Subject, res.Destroyed)
			return nil
		}),
	}
	t.flags(cmd)
	return cmd
}

func keysKEKAdd(stdout io.Writer) *cobra.Command {
	var t dataKeyTarget
	var file string
	cmd := &cobra.Command{
		Use:   "kek-add",
		Short: "Add a key-encryption key version to the KEK file",
		Long: "kek-add appends a new, random KEK version to the KEK file (--kek-file, or the one of -c FILE\n" +
			"or --data DIR). Running gateways reread the file within seconds and wrap new data keys with\n" +
			"it; run rewrap to move the existing ones, and remove an old version only once rewrap reports\n" +
			"none left on it. Every gateway of a cluster needs the new file.",
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file == "" {
				if t.configPath == "" && t.dataDir == "" {
					return usageError{errors.New("give --kek-file, -c FILE or --data DIR")}
				}
				cfg, err := t.offlineConfig()
				if err != nil {
					return err
				}
				if cfg.Protect.Keys.KEKFile == "" {
					return usageError{errors.New("this config reads the KEK from an environment variable: add the version there")}
				}
				file = cfg.Protect.Keys.KEKFile
			}
			v, err := keyring.AddKEKVersion(file)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: added KEK version %d; run rampart keys rewrap to move every data key to it\n", file, v)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "kek-file", "", "the KEK file")
	cmd.Flags().StringVarP(&t.configPath, "config", "c", "", "the KEK file of this config")
	cmd.Flags().StringVar(&t.dataDir, "data", "", "the KEK file of this data directory")
	return cmd
}
