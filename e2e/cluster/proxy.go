package cluster

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP proxy on a loopback port in front of one or more
// backends (round robin per connection). It stands between the nodes and
// PostgreSQL or Redis so a scenario can cut them off and restore them
// without touching the shared servers, and in front of the two
// authorization servers as the issuer's load balancer.
type Proxy struct {
	addr     string
	backends []string
	next     atomic.Uint64

	mu    sync.Mutex
	ln    net.Listener // nil while cut
	conns map[net.Conn]struct{}
}

// NewProxy listens on a free loopback port; t's cleanup closes it.
func NewProxy(t testing.TB, backends ...string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), backends: backends, conns: map[net.Conn]struct{}{}}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go p.serve(ln)
	t.Cleanup(p.Cut)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Cut closes the listener and every proxied connection: clients of the
// backend see their connections reset and new ones refused, as when the
// backend's host goes away.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	clear(p.conns)
}

// Restore listens again on the same address.
func (p *Proxy) Restore() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.ln = ln
	go p.serve(ln)
	return nil
}

func (p *Proxy) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return // closed by Cut
		}
		go p.pipe(c)
	}
}

// track registers c, or reports false when the proxy was cut meanwhile.
func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.conns, c)
	}
}

func (p *Proxy) pipe(c net.Conn) {
	defer c.Close()
	backend := p.backends[int(p.next.Add(1)-1)%len(p.backends)]
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	if !p.track(c, b) {
		return
	}
	defer p.untrack(c, b)
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, err := io.Copy(dst, src)
		if err == nil || errors.Is(err, net.ErrClosed) {
			// Half-close so the peer sees the end of the stream.
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
		}
		done <- struct{}{}
	}
	go cp(b, c)
	go cp(c, b)
	<-done
	<-done
}
