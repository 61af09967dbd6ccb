package gateway

import "net/http"

// bodyStep bounds the request body: a declared length over the limit is
// refused at once, before the upstream is contacted; an unknown one
// (chunked) is cut off when it passes it. The cut is an error from the
// body's Read, never an early EOF, so the transport aborts the upstream
// request (HTTP/1.1: the connection closes before the last chunk;
// HTTP/2: RST_STREAM) and the upstream's read fails rather than end as
// if the body were complete; the client gets 413 (upstream.fail).
type bodyStep struct {
	limit int64
	next  http.Handler
}

func newBodyLimit(c *stepConfig, next http.Handler) (http.Handler, error) {
	return &bodyStep{limit: c.api.maxBody, next: next}, nil
}

func (s *bodyStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	switch {
	case r.ContentLength > s.limit:
		ex.problem(problemTooLarge, decisionTooLarge)
		return
	case r.ContentLength < 0 && r.Body != nil && r.Body != http.NoBody:
		// The server's own writer, so an overflow also closes the
		// connection rather than reading the rest.
		r.Body = http.MaxBytesReader(ex.rw, r.Body, s.limit)
	}
	// A known length within the limit needs no wrapper: the server never
	// reads past Content-Length.
	s.next.ServeHTTP(w, r)
}
