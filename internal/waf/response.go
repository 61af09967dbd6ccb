package waf

import (
	"mime"
	"net/http"
	"strings"
)

// Response is what InspectResponse reads of an upstream's answer.
type Response struct {
	// ID names the transaction (the gateway's request id).
	ID string
	// Request is the request answered: its method and URI fill the
	// request variables the CRS initialization reads. Its headers and
	// body are not read again.
	Request *http.Request
	Status  int
	Header  http.Header
	// Body is the first bytes of the body (ResponseBodyLimit at most;
	// more are ignored) when InspectsBody accepts its type, nil when it
	// does not.
	Body []byte
}

// InspectResponse runs the CRS response rules over r: error messages of
// SQL databases, stack traces and errors of Java, PHP, IIS/ASP.NET and
// Ruby, directory listings, web shells. An answer that reaches the
// outbound anomaly threshold (4: one error-level match) is Interrupted.
// A WAF compiled without InspectResponse finds nothing.
func (w *WAF) InspectResponse(r Response) Verdict {
	if w.resp == nil {
		return Verdict{}
	}
	tx := w.resp.NewTransactionWithID(r.ID)
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	hr := r.Request
	// Phases 1 and 2 run the CRS initialization only: this rule set has
	// no request rules.
	tx.ProcessURI(hr.URL.RequestURI(), hr.Method, hr.Proto)
	if it := tx.ProcessRequestHeaders(); it != nil {
		return verdict(tx, true, outboundScore...)
	}
	if it, err := tx.ProcessRequestBody(); it != nil || err != nil {
		return verdict(tx, true, outboundScore...)
	}
	for k, vs := range r.Header {
		for _, v := range vs {
			tx.AddResponseHeader(k, v)
		}
	}
	if it := tx.ProcessResponseHeaders(r.Status, "HTTP/1.1"); it != nil {
		return verdict(tx, true, outboundScore...)
	}
	if body := r.Body[:min(int64(len(r.Body)), w.respLimit)]; len(body) > 0 {
		if it, _, err := tx.WriteResponseBody(body); it != nil || err != nil {
			return verdict(tx, true, outboundScore...)
		}
	}
	it, err := tx.ProcessResponseBody()
	return verdict(tx, it != nil || err != nil, outboundScore...)
}

// outboundScore are the TX variables of an answer's score.
var outboundScore = []string{"blocking_outbound_anomaly_score", "outbound_anomaly_score_pl1"}

// InspectsBody reports whether a body of this Content-Type is read by
// InspectResponse: text (but an event stream, which must flow as it
// comes), JSON, XML and JavaScript, and a body of no declared type. The
// leaks the response rules look for are text; images, archives and
// other binary answers are not held or read.
func InspectsBody(contentType string) bool {
	if strings.TrimSpace(contentType) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		// A type the gateway cannot read may be anything: read it.
		return true
	}
	top, sub, _ := strings.Cut(mt, "/")
	switch {
	case top == "text":
		return sub != "event-stream"
	case top != "application":
		return false
	}
	switch sub {
	case "json", "xml", "javascript", "x-javascript", "ecmascript", "xhtml+xml":
		return true
	}
	return strings.HasSuffix(sub, "+json") || strings.HasSuffix(sub, "+xml")
}
