package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/cliout"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/lifecycle"
	"github.com/rampart-gw/rampart/internal/witness"
)

func verifyCmd(stdout io.Writer) *cobra.Command {
	var dataDir, dir, pubKey, configPath, origin string
	var strict bool
	var witnesses, witnessed []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check the audit log's records, chain, signed checkpoints and the copies kept elsewhere; name the first bad one",
		Long: `Verify reads the audit log of a data directory (--data, the log in DIR/audit)
or of an audit directory (--dir) in one pass. It checks every record's
hash-chain link, every checkpoint's signature and Merkle root, the chain of
checkpoint records that binds each checkpoint to the one before it, the
start files of segments, and the signed retention records that name what
retention deleted. It says how many records no checked signature covers
(the unsigned tail): --strict (the default with -c) fails on any.

The key beside the log is only as trustworthy as the disk it is on: pass
--pubkey with a copy of audit-key.pub kept apart from the gateway.

Without a copy of a checkpoint kept away from the log's disk, an attacker
who can write the disk can roll the log back to an earlier signed state
and verify cannot tell; it says so. The copies that rule it out: -c FILE
checks the checkpoints the gateway copied to its state store and asks the
config's witnesses (audit.witnesses) for the newest checkpoint they
cosigned; --witness URL=KEY asks any other C2SP tlog-witness, and
--witness-checkpoint FILE=KEY reads a cosigned checkpoint saved earlier.
Each is checked with an RFC 6962 consistency proof from the log.

Exit status: 0 when the log verifies, 1 naming the first bad record or
checkpoint otherwise, 2 for a bad command line.`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			opt := audit.VerifyOptions{Origin: origin, Strict: strict}
			if configPath != "" {
				if !cmd.Flags().Changed("strict") {
					opt.Strict = true
				}
				cfg, _, _, err := config.LoadAny(configPath)
				if err != nil {
					return err
				}
				if !cfg.Audit.Enabled {
					return usageError{errors.New("the config has no audit log (audit.enabled)")}
				}
				if dir != "" || cmd.Flags().Changed("data") {
					return usageError{errors.New("-c names the log (audit.dir); drop --dir and --data")}
				}
				dir = cfg.Audit.Dir
				if opt.Origin == "" {
					opt.Origin = lifecycle.AuditOrigin(cfg)
				}
				if opt.Store, opt.Witnessed, err = lifecycle.AuditCopies(ctx, cfg, opt.Origin); err != nil {
					return err
				}
			}
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
			opt.PublicKey = key
			if opt.Origin == "" {
				// The witnesses are asked about the log's own origin, read
				// from its key's name; Verify checks that they agree.
				if v, err := note.NewVerifier(key); err == nil {
					opt.Origin = v.Name()
				}
			}
			for _, spec := range witnesses {
				prefix, v, err := splitKey("--witness", spec)
				if err != nil {
					return err
				}
				c, err := witness.NewClient(prefix, prefix, v, &http.Client{Timeout: 10 * time.Second})
				if err != nil {
					return usageError{fmt.Errorf("--witness %s: %w", prefix, err)}
				}
				w, err := c.Witnessed(ctx, opt.Origin)
				if err != nil {
					return fmt.Errorf("asking %s for its newest checkpoint: %w", c.Name(), err)
				}
				opt.Witnessed = append(opt.Witnessed, w)
			}
			for _, spec := range witnessed {
				file, v, err := splitKey("--witness-checkpoint", spec)
				if err != nil {
					return err
				}
				b, err := os.ReadFile(file) // #nosec G304 -- the user names the file
				if err != nil {
					return usageError{fmt.Errorf("--witness-checkpoint: %w", err)}
				}
				opt.Witnessed = append(opt.Witnessed, audit.Witnessed{Name: file, Note: b, Verifier: v})
			}
			rep, err := audit.Verify(dir, opt)
			if err != nil {
				return err
			}
			if err := printReport(stdout, dir, rep); err != nil {
				return err
			}
			if !rep.OK() {
				return errors.New("the audit log does not verify")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "rampart-data", "data directory of the gateway (the log is in DIR/audit)")
	cmd.Flags().StringVar(&dir, "dir", "", "audit directory (instead of --data)")
	cmd.Flags().StringVar(&pubKey, "pubkey", "", "trusted verifier key (default: audit-key.pub in the audit directory)")
	cmd.Flags().StringVarP(&configPath, "config", "c", "", "the gateway's config: its log, the checkpoint copies in its store and its witnesses")
	cmd.Flags().StringVar(&origin, "origin", "", "the log's expected origin (default: the config's, or the key's name)")
	cmd.Flags().BoolVar(&strict, "strict", false, "fail on records that no signed checkpoint covers (default true with -c)")
	cmd.Flags().StringArrayVar(&witnesses, "witness", nil, "a witness to check against, as URL=KEY (KEY: its cosignature vkey or a file holding it); repeatable")
	cmd.Flags().StringArrayVar(&witnessed, "witness-checkpoint", nil, "a cosigned checkpoint saved earlier, as FILE=KEY; repeatable")
	return cmd
}

// splitKey splits "X=KEY" where KEY is a cosignature verifier key or a
// file holding one. X may itself hold '=' (a URL's query): every '=' is
// tried from the left until the rest is a key.
func splitKey(flag, spec string) (string, note.Verifier, error) {
	var lastErr error
	for i := strings.Index(spec, "="); i >= 0; {
		x, k := spec[:i], spec[i+1:]
		v, err := cosignatureKey(k)
		if err == nil && x != "" {
			return x, v, nil
		}
		lastErr = err
		j := strings.Index(spec[i+1:], "=")
		if j < 0 {
			break
		}
		i += 1 + j
	}
	if lastErr == nil {
		lastErr = errors.New("no =KEY")
	}
	return "", nil, usageError{fmt.Errorf("%s %q: want X=KEY, where KEY is a witness's cosignature key or a file holding it: %v", flag, redactKey(spec), lastErr)}
}

// redactKey keeps what precedes the first '=': the key part may be a
// path or a public key, but never print more than needed.
func redactKey(spec string) string {
	if i := strings.Index(spec, "="); i >= 0 {
		return spec[:i] + "=..."
	}
	return spec
}

// cosignatureKey reads a witness's cosignature verifier key, given as the
// key itself or as a file holding it.
func cosignatureKey(k string) (note.Verifier, error) {
	k = strings.TrimSpace(k)
	if v, err := tnote.NewVerifierForCosignatureV1(k); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(k) // #nosec G304 -- the user names the file
	if err != nil {
		return nil, errors.New("not a cosignature key, nor a readable file")
	}
	v, err := tnote.NewVerifierForCosignatureV1(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k, err)
	}
	return v, nil
}

func witnessCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "witness",
		Short: "A C2SP tlog-witness: it cosigns the audit log's checkpoints and keeps the newest one away from the log's disk",
	}
	var name, out string
	keygen := &cobra.Command{
		Use:   "keygen --name NAME --out PREFIX",
		Short: "Create a witness's signing key (PREFIX.key, mode 0600) and its cosignature verifier key (PREFIX.pub)",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" || out == "" {
				return usageError{errors.New("keygen needs --name and --out")}
			}
			skey, vkey, err := note.GenerateKey(rand.Reader, name)
			if err != nil {
				return usageError{fmt.Errorf("--name %q: %w", name, err)}
			}
			pub, err := tnote.VKeyToCosignatureV1(vkey)
			if err != nil {
				return err
			}
			if err := writeNew(out+".key", skey+"\n", 0o600); err != nil {
				return err
			}
			if err := writeNew(out+".pub", pub+"\n", 0o644); err != nil {
				return err
			}
			return cliout.WriteFields(stdout, cliout.Field{Label: "signing key", Value: out + ".key (keep it on the witness's machine only)"},
				cliout.Field{Label: "verifier key", Value: pub})
		},
	}
	keygen.Flags().StringVar(&name, "name", "", "the witness's name, as it appears in its cosignatures (e.g. witness.example.com)")
	keygen.Flags().StringVar(&out, "out", "", "path prefix of the key files")

	var listen, state, keyFile, certFile, certKey string
	var logs []string
	serve := &cobra.Command{
		Use:   "serve --key FILE --state DIR --log ORIGIN=VKEY...",
		Short: "Run a witness: POST /add-checkpoint cosigns consistent checkpoints, GET /checkpoint?origin= returns the newest",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if keyFile == "" || state == "" || len(logs) == 0 {
				return usageError{errors.New("serve needs --key, --state and at least one --log")}
			}
			if (certFile == "") != (certKey == "") {
				return usageError{errors.New("--tls-cert and --tls-key go together")}
			}
			b, err := os.ReadFile(keyFile) // #nosec G304 -- the user names the file
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			signer, err := tnote.NewSignerForCosignatureV1(strings.TrimSpace(string(b)))
			if err != nil {
				return usageError{fmt.Errorf("--key %s: not a signing key from rampart audit witness keygen", keyFile)}
			}
			opt := witness.ServerOptions{Signer: signer, StateDir: state, Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil))}
			for _, l := range logs {
				origin, vkey, ok := strings.Cut(l, "=")
				if !ok || origin == "" {
					return usageError{fmt.Errorf("--log %q: want ORIGIN=VKEY (VKEY: the log's audit-key.pub or its contents)", l)}
				}
				v, err := logKey(vkey)
				if err != nil {
					return usageError{fmt.Errorf("--log %s: %w", origin, err)}
				}
				opt.Logs = append(opt.Logs, witness.Log{Origin: origin, Verifier: v})
			}
			srv, err := witness.NewServer(opt)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return usageError{fmt.Errorf("--listen: %w", err)}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(stdout, "witness %s listening on %s\n", signer.Name(), ln.Addr())
			return srv.Serve(ctx, ln, certFile, certKey)
		},
	}
	serve.Flags().StringVar(&listen, "listen", "127.0.0.1:7380", "address to listen on")
	serve.Flags().StringVar(&state, "state", "", "directory for the newest cosigned checkpoint of each log")
	serve.Flags().StringVar(&keyFile, "key", "", "the witness's signing key (from keygen)")
	serve.Flags().StringArrayVar(&logs, "log", nil, "a log to witness, as ORIGIN=VKEY or ORIGIN=FILE (its audit-key.pub); repeatable")
	serve.Flags().StringVar(&certFile, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	serve.Flags().StringVar(&certKey, "tls-key", "", "the certificate's private key (PEM)")
	cmd.AddCommand(keygen, serve)
	return cmd
}

// logKey reads a log's verifier key, given as the key or as a file.
func logKey(k string) (note.Verifier, error) {
	if v, err := note.NewVerifier(strings.TrimSpace(k)); err == nil {
		return v, nil
	}
	b, err := os.ReadFile(k) // #nosec G304 -- the user names the file
	if err != nil {
		return nil, errors.New("not a verifier key, nor a readable file")
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a verifier key: %w", k, err)
	}
	return v, nil
}

// writeNew writes a file that must not exist yet.
func writeNew(path, data string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode) // #nosec G304 -- the user names the file
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.WriteString(data); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}
