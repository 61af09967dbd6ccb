package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
)

// listenerTimeout stands for the old listener-wide read and write
// timeouts (30s in production), scaled down; each API below allows far
// more with its own timeouts.
const listenerTimeout = 200 * time.Millisecond

// serveListener runs the gateway on a real listener whose read and write
// timeouts are listenerTimeout, and returns its base URL.
func serveListener(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: time.Second,
		ReadTimeout:       listenerTimeout,
		WriteTimeout:      listenerTimeout,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}

// publicAPI is an API on upstream whose one public operation is method
// path, with the given timeouts.
func publicAPI(name, upstream, method, path string, to catalog.Timeouts) catalog.API {
	return catalog.API{
		Name: name, BasePath: "/" + name, Upstream: upstream, Timeouts: to,
		Operations: []catalog.Operation{{Method: method, Path: path, Public: true}},
	}
}

// TestStreamOutlivesListenerTimeout: a server-sent event stream that
// lasts longer than the listener's write timeout, within its API's
// timeouts.response, reaches the client event by event: the upstream
// sends an event only once the client has read the one before.
func TestStreamOutlivesListenerTimeout(t *testing.T) {
	const events = 5
	ack := make(chan int)
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		rc := http.NewResponseController(w)
		for i := range events {
			fmt.Fprintf(w, "data: %d\n\n", i)
			if err := rc.Flush(); err != nil {
				return
			}
			select {
			case got := <-ack:
				if got != i {
					t.Errorf("client acknowledged event %d, want %d", got, i)
					return
				}
			case <-r.Context().Done():
				return
			}
			// Spread the stream past the listener's write timeout.
			time.Sleep(listenerTimeout / 2)
		}
	}))
	t.Cleanup(sse.Close)
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs = append(s.APIs, publicAPI("events", sse.URL, "GET", "/stream",
			catalog.Timeouts{Response: catalog.Duration(10 * listenerTimeout)}))
	})
	base := serveListener(t, e.gw)
	res, err := http.Get(base + "/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	br := bufio.NewReader(res.Body)
	for i := range events {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event %d: %v (the stream was cut)", i, err)
		}
		if want := fmt.Sprintf("data: %d\n", i); line != want {
			t.Fatalf("event %d: read %q, want %q", i, line, want)
		}
		if _, err := br.ReadString('\n'); err != nil { // the blank line
			t.Fatalf("event %d: %v", i, err)
		}
		ack <- i
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) != 0 {
		t.Errorf("after the last event: %q, %v; want a clean end", rest, err)
	}
}

// TestStreamCutAtResponseTimeout: past the API's timeouts.response the
// call ends, and the upstream request is cancelled rather than left
// open.
func TestStreamCutAtResponseTimeout(t *testing.T) {
	cancelled := make(chan struct{})
	sse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: 0\n\n")
		_ = http.NewResponseController(w).Flush()
		<-r.Context().Done() // a stream that never ends on its own
		close(cancelled)
	}))
	t.Cleanup(sse.Close)
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs = append(s.APIs, publicAPI("events", sse.URL, "GET", "/stream",
			catalog.Timeouts{Response: catalog.Duration(listenerTimeout)}))
	})
	base := serveListener(t, e.gw)
	res, err := http.Get(base + "/events/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "data: 0\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	_, _ = io.Copy(io.Discard, br) // returns once the call is cut
	<-cancelled
}

// TestUploadOutlivesListenerTimeout: a request body sent more slowly than
// the listener's read timeout allows, within its API's
// timeouts.request, reaches the upstream whole.
func TestUploadOutlivesListenerTimeout(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, strconv.Itoa(len(b)))
	}))
	t.Cleanup(up.Close)
	e := newEnv(t, func(s *catalog.Snapshot) {
		s.APIs = append(s.APIs, publicAPI("files", up.URL, "POST", "/upload",
			catalog.Timeouts{Request: catalog.Duration(10 * listenerTimeout), Response: catalog.Duration(10 * listenerTimeout)}))
	})
	base := serveListener(t, e.gw)
	const chunks, size = 5, 1000
	pr, pw := io.Pipe()
	go func() {
		for range chunks {
			_, _ = pw.Write([]byte(strings.Repeat("x", size)))
			time.Sleep(listenerTimeout / 2)
		}
		_ = pw.Close()
	}()
	res, err := http.Post(base+"/files/upload", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || string(body) != strconv.Itoa(chunks*size) {
		t.Errorf("upload: status %d, body %q; want 200 and %d bytes received", res.StatusCode, body, chunks*size)
	}
}
