// Command chi serves a chi router behind Rampart's middleware
// (r.Use(mw.Wrap)).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/rampart-gw/rampart"
)

func main() {
	config := flag.String("config", "rampart.yaml", "Rampart's middleware config")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, err := rampart.LoadConfig(*config)
	if err != nil {
		log.Fatal(err)
	}
	mw, err := rampart.New(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Addr: *addr, Handler: app(mw), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("listening on %s", *addr)
	select {
	case err := <-errc:
		log.Print(err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = srv.Shutdown(sctx) // returns once the handlers have finished
		cancel()
	}
	_ = mw.Close() // then the pipeline: every request's audit event is in
}

// app is the service, with Rampart first in chi's middleware chain: it
// runs before chi routes, on the raw request.
func app(mw *rampart.Middleware) http.Handler {
	r := chi.NewRouter()
	r.Use(mw.Wrap)
	r.Get("/health", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"status": "ok"})
	})
	r.Get("/api/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		info, _ := rampart.FromRequest(r)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"id": chi.URLParam(r, "id"), "for": info.Identity.Subject})
	})
	return r
}
