package gatewaytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// Request is what an upstream received.
type Request struct {
	Method  string
	Path    string
	RawPath string
	Query   string
	Host    string
	Header  http.Header
	Body    []byte
}

// Upstream is a backend that records every request and answers 200 with
// a small JSON body, unless Handler says otherwise.
type Upstream struct {
	srv *httptest.Server

	mu       sync.Mutex
	handler  http.HandlerFunc
	requests []Request
	record   bool
}

// NewUpstream starts a recording upstream; it stops with the test.
func NewUpstream(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{record: true}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

// NewBenchUpstream starts an upstream that records nothing, for
// benchmarks.
func NewBenchUpstream(t testing.TB) *Upstream {
	t.Helper()
	u := &Upstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

// URL is the upstream's base URL.
func (u *Upstream) URL() string { return u.srv.URL }

// Close stops the upstream early (to test an unreachable backend).
func (u *Upstream) Close() { u.srv.Close() }

var okBody = []byte(`{"ok":true}` + "\n")

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	h := u.handler
	u.mu.Unlock()
	if u.record {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.requests = append(u.requests, Request{
			Method:  r.Method,
			Path:    r.URL.Path,
			RawPath: r.URL.RawPath,
			Query:   r.URL.RawQuery,
			Host:    r.Host,
			Header:  r.Header.Clone(),
			Body:    body,
		})
		u.mu.Unlock()
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if h != nil {
		h(w, r)
		return
	}
	w.Header()["Content-Type"] = []string{"application/json"}
	_, _ = w.Write(okBody)
}

// SetHandler makes h answer after the request is recorded (nil restores
// the default answer).
func (u *Upstream) SetHandler(h http.HandlerFunc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.handler = h
}

// Requests returns what was received so far.
func (u *Upstream) Requests() []Request {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Request(nil), u.requests...)
}

// Last returns the latest request; ok is false when there was none.
func (u *Upstream) Last() (Request, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.requests) == 0 {
		return Request{}, false
	}
	return u.requests[len(u.requests)-1], true
}

// Reset forgets the requests received.
func (u *Upstream) Reset() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.requests = nil
}
