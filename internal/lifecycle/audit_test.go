package lifecycle

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	tnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/rampart-gw/rampart/internal/audit"
	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/gateway/gatewaytest"
	"github.com/rampart-gw/rampart/internal/store"
	"github.com/rampart-gw/rampart/internal/witness"
)

// TestServeAuditWitness runs the gateway with the audit log on, its
// checkpoints copied to the store and published to a witness named in
// audit.witnesses; after shutdown the log verifies strictly, and both
// copies rule a rollback out up to its last record.
func TestServeAuditWitness(t *testing.T) {
	up, _ := gatewaytest.Upstream(t)
	dir := t.TempDir()
	cfg := gatewaytest.Config(up.URL)
	cfg.DataDir = dir
	cfg.Audit = config.Audit{Enabled: true, Origin: "rampart.test/gw1"}
	cfg.Store = config.Store{Driver: "sqlite", Path: filepath.Join(dir, "rampart.db")}
	config.SetDefaults(cfg)
	origin := AuditOrigin(cfg)

	// The log's key exists before the witness is told about it.
	l, err := audit.Open(audit.Options{Dir: cfg.Audit.Dir, Origin: origin})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Close()
	vkey, err := audit.ReadPublicKey(filepath.Join(cfg.Audit.Dir, audit.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	skey, wvkey, err := note.GenerateKey(rand.Reader, "witness.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := tnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cosig, err := tnote.VKeyToCosignatureV1(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := witness.NewServer(witness.ServerOptions{Signer: signer, StateDir: t.TempDir(),
		Logs: []witness.Log{{Origin: origin, Verifier: logV}}})
	if err != nil {
		t.Fatal(err)
	}
	wsrv := httptest.NewServer(ws)
	defer wsrv.Close()
	cfg.Audit.Witnesses = []config.AuditWitness{{Name: "w1", URL: wsrv.URL, PublicKey: cosig}}
	for _, p := range config.Validate(cfg) {
		if !p.Warning {
			t.Fatal(p)
		}
	}

	started := make(chan Running, 1)
	done := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		done <- Serve(ctx, ServeOptions{Config: cfg, Stdout: io.Discard, Started: func(r Running) { started <- r }})
	}()
	var r Running
	select {
	case r = <-started:
	case err := <-done:
		t.Fatal(err)
	case <-time.After(20 * time.Second):
		t.Fatal("not started")
	}
	for range 5 {
		resp, err := http.Get("http://" + r.Listeners[0].String() + "/api/items/1")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(context.Background(), cfg.Store)
	if err != nil {
		t.Fatal(err)
	}
	copies, err := st.AuditCheckpoints(context.Background(), origin)
	_ = st.Close()
	if err != nil {
		t.Fatal(err)
	}
	clients, err := witness.FromConfig(cfg.Audit.Witnesses)
	if err != nil {
		t.Fatal(err)
	}
	w, err := clients[0].Witnessed(context.Background(), origin)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := audit.Verify(cfg.Audit.Dir, audit.VerifyOptions{PublicKey: vkey, Origin: origin, Strict: true,
		Store: copies, Witnessed: []audit.Witnessed{w}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Events != 5 || rep.Unsigned != 0 || rep.Anchored != rep.Records ||
		!slices.Contains(rep.AnchoredBy, "witness w1") || rep.Witnesses != 1 || rep.Copies == 0 {
		t.Fatalf("%+v", rep)
	}
}
