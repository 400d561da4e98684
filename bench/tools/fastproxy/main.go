// Command fastproxy is a bare fasthttp reverse proxy: one HostClient to the
// upstream, hop-by-hop headers dropped, nothing else.
package main

import (
	"flag"
	"log"
	"time"

	"github.com/valyala/fasthttp"
)

var hopHeaders = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "127.0.0.1:8081", "upstream host:port (plain HTTP)")
	maxConns := flag.Int("maxconns", 1024, "HostClient.MaxConns")
	flag.Parse()
	hc := &fasthttp.HostClient{
		Addr:                *upstream,
		MaxConns:            *maxConns,
		MaxIdleConnDuration: 90 * time.Second,
		ReadTimeout:         30 * time.Second,
		WriteTimeout:        30 * time.Second,
	}
	handler := func(ctx *fasthttp.RequestCtx) {
		req := &ctx.Request
		resp := &ctx.Response
		for _, h := range hopHeaders {
			req.Header.Del(h)
		}
		if err := hc.Do(req, resp); err != nil {
			ctx.ResetBody()
			ctx.Error("bad gateway", fasthttp.StatusBadGateway)
			return
		}
		for _, h := range hopHeaders {
			resp.Header.Del(h)
		}
	}
	s := &fasthttp.Server{Handler: handler, Name: "fastproxy"}
	log.Fatal(s.ListenAndServe(*addr))
}
