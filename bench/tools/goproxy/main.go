// Command goproxy is the baseline of the benchmark: a bare
// net/http/httputil.ReverseProxy with nothing but Rewrite+SetURL and the
// default transport with a larger idle pool.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	upstream := flag.String("upstream", "http://127.0.0.1:8081", "upstream base URL")
	idle := flag.Int("idle", 256, "MaxIdleConns and MaxIdleConnsPerHost")
	bufpool := flag.Bool("bufpool", false, "lend ReverseProxy its 32 KiB copy buffers from a sync.Pool (off in the benchmark: the baseline is the plain ReverseProxy)")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // never via an environment proxy: loopback only
	tr.MaxIdleConns = *idle
	tr.MaxIdleConnsPerHost = *idle
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport: tr,
	}
	if *bufpool {
		rp.BufferPool = &pool{}
	}
	log.Fatal((&http.Server{Addr: *addr, Handler: rp}).ListenAndServe())
}

// pool is a sync.Pool-backed httputil.BufferPool.
type pool struct{ p sync.Pool }

func (b *pool) Get() []byte {
	if v := b.p.Get(); v != nil {
		return *(v.(*[]byte))
	}
	return make([]byte, 32<<10)
}

func (b *pool) Put(buf []byte) { b.p.Put(&buf) }
