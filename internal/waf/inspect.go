package waf

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/corazawaf/coraza/v3/experimental/plugins/plugintypes"
)

// Request is what Inspect reads of a request.
type Request struct {
	// ID names the transaction (the gateway's request id).
	ID   string
	HTTP *http.Request
	// Body is the request body, already read and bounded.
	Body []byte
	// Client is the caller's address; zero when unknown.
	Client netip.Addr
	// PathNames and PathValues are the operation's path parameters,
	// inspected as ARGS_PATH (and so as ARGS).
	PathNames, PathValues []string
}

// transaction is the part of Coraza's transaction that reads its
// variables (the TX collection holds the anomaly scores).
type transaction interface {
	Variables() plugintypes.TransactionVariables
}

// Inspect runs the request phases over r.
func (w *WAF) Inspect(r Request) Verdict {
	tx := w.waf.NewTransactionWithID(r.ID)
	defer func() {
		tx.ProcessLogging()
		_ = tx.Close()
	}()
	hr := r.HTTP
	tx.ProcessConnection(clientText(r.Client), 0, "", 0)
	tx.ProcessURI(hr.URL.RequestURI(), hr.Method, hr.Proto)
	for k, vs := range hr.Header {
		for _, v := range vs {
			tx.AddRequestHeader(k, v)
		}
	}
	// net/http moves Host out of the header map, and a client request
	// (a test's) may carry its length only in ContentLength.
	if hr.ContentLength > 0 && hr.Header.Get("Content-Length") == "" {
		tx.AddRequestHeader("Content-Length", strconv.FormatInt(hr.ContentLength, 10))
	}
	if hr.Host != "" {
		tx.AddRequestHeader("Host", hr.Host)
		tx.SetServerName(hostOnly(hr.Host))
	}
	for i, n := range r.PathNames {
		if i < len(r.PathValues) {
			tx.AddPathRequestArgument(n, r.PathValues[i])
		}
	}
	if it := tx.ProcessRequestHeaders(); it != nil {
		return verdict(tx, true, inboundScore...)
	}
	if len(r.Body) > 0 && tx.IsRequestBodyAccessible() {
		if it, _, err := tx.WriteRequestBody(r.Body); it != nil || err != nil {
			return verdict(tx, true, inboundScore...)
		}
	}
	it, err := tx.ProcessRequestBody()
	return verdict(tx, it != nil || err != nil, inboundScore...)
}

// inboundScore are the TX variables of a request's score.
var inboundScore = []string{"blocking_inbound_anomaly_score", "inbound_anomaly_score_pl1"}

func hostOnly(h string) string {
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().String()
	}
	if i := strings.LastIndexByte(h, ':'); i > 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}
