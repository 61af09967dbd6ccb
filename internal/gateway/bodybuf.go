package gateway

import (
	"bytes"
	"io"
	"net/http"
)

// readBody reads the request body once for every step that inspects it
// (validation, the WAF), within the limit the body step set, and puts
// back a reader over the same bytes for the next step and the proxy. The
// bytes are kept on the exchange: a second call returns them without
// reading again. A body over the limit is an error (*http.MaxBytesError
// for a chunked one); the caller answers 413.
//
// Only steps an operation enables call it, so an operation that inspects
// nothing streams its body to the upstream untouched.
func readBody(ex *exchange, r *http.Request, limit int64) ([]byte, error) {
	if ex.bodyRead {
		return ex.body, nil
	}
	if r.Body == nil || r.Body == http.NoBody {
		ex.bodyRead = true
		return nil, nil
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 && r.ContentLength <= limit {
		buf.Grow(int(r.ContentLength))
	}
	// One byte more than the limit tells "at the limit" from "over it".
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	ex.body, ex.bodyRead = buf.Bytes(), true
	r.Body = io.NopCloser(bytes.NewReader(ex.body))
	return ex.body, nil
}
