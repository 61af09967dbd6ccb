package gateway

import "net/http"

// bodyStep bounds the request body: a declared length over the limit is
// refused at once, an unknown one (chunked) is cut off when it passes it.
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
