// Command upstream is the benchmark's origin server: a plain net/http server
// that answers every GET with the same small JSON body.
//
// GET /_bench/conns answers the number of connections accepted so far, so
// the harness can see whether a proxy reuses its upstream connections.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
)

// body is 150 bytes, a typical small API response.
var body = []byte(`{"id":42,"name":"widget","price":19.99,"currency":"EUR","tags":["bench","rampart"],"in_stock":true,"updated":"2025-01-01T00:00:00Z","owner":"u-1234"}` + "\n")

func main() {
	addr := flag.String("addr", "127.0.0.1:8081", "listen address")
	flag.Parse()
	n := strconv.Itoa(len(body))
	var accepted atomic.Int64
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "/_bench/conns" {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strconv.FormatInt(accepted.Load(), 10) + "\n"))
			return
		}
		hd := w.Header()
		hd.Set("Content-Type", "application/json")
		hd.Set("Content-Length", n)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	})
	srv := &http.Server{
		Addr:    *addr,
		Handler: h,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				accepted.Add(1)
			}
		},
	}
	log.Fatal(srv.ListenAndServe())
}
