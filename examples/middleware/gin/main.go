// Command gin serves a gin engine behind Rampart's middleware. Rampart
// wraps the whole engine (an http.Handler), so it runs before gin's
// routing; handlers read what it established with rampart.FromRequest.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

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
	srv := &http.Server{Addr: *addr, Handler: mw.Wrap(app()), ReadHeaderTimeout: 10 * time.Second}
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

// app is the service.
func app() *gin.Engine {
	r := gin.New()
	r.GET("/health", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/api/items/:id", func(c *gin.Context) {
		info, _ := rampart.FromRequest(c.Request)
		c.JSON(http.StatusOK, gin.H{"id": c.Param("id"), "for": info.Identity.Subject})
	})
	return r
}
