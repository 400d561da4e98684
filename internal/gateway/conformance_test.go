package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rampart-gw/rampart/internal/config"
	"github.com/rampart-gw/rampart/internal/engine/enginetest"
	"github.com/rampart-gw/rampart/internal/server"
)

// TestEngineConformance runs the engine conformance suite on the
// net/http engine: the whole gateway behind the listener package serves,
// with the routes and limits the suite documents.
func TestEngineConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, upstream string) string {
		c := &config.Config{
			Version:   1,
			DataDir:   filepath.Join(os.TempDir(), "rampart-gateway-test-unused"),
			Listeners: []config.Listener{{Address: "127.0.0.1:0", Plaintext: true}},
			Server: config.Server{
				MaxHeaderBytes:    enginetest.MaxHeaderBytes,
				MaxBodyBytes:      enginetest.MaxBodyBytes,
				ReadHeaderTimeout: config.Duration(enginetest.ReadHeaderTimeout),
				IdleTimeout:       config.Duration(enginetest.IdleTimeout),
			},
			Upstreams: map[string]config.Upstream{"api": {URL: upstream}},
			Routes:    []config.Route{{Name: "public", Path: "/public/{rest...}", Methods: []string{"GET", "HEAD", "POST"}, Upstream: "api", Public: true}},
		}
		config.SetDefaults(c)
		g, err := New(c, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		grp, err := server.Start([]server.Listener{{Name: "conformance", Address: "127.0.0.1:0", Handler: g}}, c.Server, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = grp.Shutdown(ctx)
		})
		return grp.Addrs()[0].String()
	})
}
