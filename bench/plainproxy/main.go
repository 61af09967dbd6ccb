// Command plainproxy is the yardstick of the gateway load harness: a plain
// httputil.ReverseProxy with the same transport settings as the gateway,
// and nothing else. It listens on loopback only.
package main

import (
	"flag"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18091", "listen address (loopback)")
	upstream := flag.String("upstream", "http://127.0.0.1:18090", "upstream base URL")
	pool := flag.Bool("pool", false, "reuse copy buffers (httputil.BufferPool), as the gateway does")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("plainproxy listens on a loopback address only, got %q", *addr)
	}
	target, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.SetXForwarded()
		},
		Transport: transport,
	}
	if *pool {
		rp.BufferPool = &bufferPool{}
	}
	srv := &http.Server{
		Addr:              *addr,
		Handler:           rp,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}

// bufferPool hands the proxy 32 KiB copy buffers from a sync.Pool instead
// of allocating one per request.
type bufferPool struct{ p sync.Pool }

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32<<10)
}

func (b *bufferPool) Put(buf []byte) { b.p.Put(&buf) }
