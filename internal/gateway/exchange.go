package gateway

import (
	"bufio"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/token"
)

// exchange is one request's state and its response writer at once. The
// chain's steps find it by asserting the http.ResponseWriter they are
// given, so the hot path never copies the request for context.WithValue;
// exchanges are pooled, so a request costs no allocation for them either.
type exchange struct {
	rw     http.ResponseWriter
	status int
	bytes  int64

	start time.Time
	// id is the request id; idHeader the same as a header value, shared by
	// the upstream request and the response.
	id       string
	idHeader []string
	// peer is the connection's address; trusted means it is a configured
	// proxy whose forwarding headers are believed. client is the address
	// policies see.
	peer     netip.Addr
	peerText string
	trusted  bool
	client   netip.Addr

	api *apiRoute
	op  *operation
	// spas are the single-page apps' agents of the request's start (nil
	// when none); agent is the one answering it, when it is an agent's
	// call (tokenhandlers.go).
	spas  *spaSet
	agent *agent
	// preflight marks a CORS preflight, routed by the method it asks
	// about and answered by the CORS step.
	preflight bool
	// params holds the wildcard values of op's pattern, in order.
	params [maxParams]string

	// deadline is when the call must be over (the API's
	// timeouts.response from arrival, on the wall clock); zero when the
	// request matched no API.
	deadline time.Time

	// raw is the presented credential (never logged); verified what it
	// resolved to.
	raw      string
	verified *token.Verified
	// scheme is the Authorization scheme raw came with (schemeNone for
	// a session cookie); dpop what the DPoP check made of it (dpop.go).
	scheme authScheme
	dpop   dpopOutcome
	// mtls is what the certificate-binding check made of the token
	// (mtls.go); cert the client certificate it forwards upstream, nil
	// unless the API has forward_client_cert.
	mtls     mtlsOutcome
	cert     *x509.Certificate
	decision decision
	// reason says why a request was refused, for the access log: always a
	// fixed string of the gateway's, never client or token content.
	reason string

	// body is the request body as readBody read it, for the steps that
	// inspect it; bodyRead says it was read (body may be empty).
	body     []byte
	bodyRead bool

	// waf is what the WAF found, for the access log.
	waf wafOutcome
	// validation is what the validation step found, for the access log.
	validation validationOutcome
	// response is what response validation found (validate_response.go).
	response responseOutcome

	// tracer and span are the request's tracing (tracing.go): both nil
	// when tracing is off, and every step skips its span work then;
	// tracer is nil too when the sampler left the request out.
	tracer trace.Tracer
	span   trace.Span
}

var exchanges = sync.Pool{New: func() any { return new(exchange) }}

func getExchange(w http.ResponseWriter, start time.Time) *exchange {
	ex := exchanges.Get().(*exchange)
	ex.rw = w
	ex.start = start
	return ex
}

func putExchange(ex *exchange) {
	*ex = exchange{}
	exchanges.Put(ex)
}

// exchangeOf finds the exchange behind a writer the chain was given.
func exchangeOf(w http.ResponseWriter) *exchange {
	for {
		switch t := w.(type) {
		case *exchange:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			// Unreachable: every chain runs under Gateway.ServeHTTP.
			panic("gateway: step called outside a gateway exchange")
		}
	}
}

// Header implements http.ResponseWriter.
func (ex *exchange) Header() http.Header { return ex.rw.Header() }

// WriteHeader records the status and stamps the request id on every
// response, overriding one an upstream may have sent so the client and
// the logs agree. A response for an API version that announces its
// deprecation or sunset carries them, whoever made it: the upstream or
// the gateway itself (a refusal, a preflight).
func (ex *exchange) WriteHeader(code int) {
	if ex.status == 0 || code < 200 {
		if ex.idHeader != nil {
			ex.rw.Header()["X-Request-Id"] = ex.idHeader
		}
		if a := ex.api; a != nil && a.lifecycle.announces() {
			a.lifecycle.set(ex.rw.Header())
		}
		if code >= 200 || code == http.StatusSwitchingProtocols {
			ex.status = code
		}
	}
	ex.rw.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (ex *exchange) Write(b []byte) (int, error) {
	if ex.status == 0 {
		ex.WriteHeader(http.StatusOK)
	}
	n, err := ex.rw.Write(b)
	ex.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer (hijack
// for upgrades, deadlines).
func (ex *exchange) Unwrap() http.ResponseWriter { return ex.rw }

// FlushError flushes through http.ResponseController, which is how
// httputil.ReverseProxy streams.
func (ex *exchange) FlushError() error {
	if ex.status == 0 {
		ex.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(ex.rw).Flush()
}

// Flush implements http.Flusher for callers that do not use a
// ResponseController.
func (ex *exchange) Flush() { _ = ex.FlushError() }

// Hijack is reached through Unwrap by ResponseController; it is here too
// for code that asserts http.Hijacker directly.
func (ex *exchange) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(ex.rw).Hijack()
}

// writeGrace is how long after a call's deadline its connection may
// still be written to: long enough for the 504 that ends a call whose
// upstream ran out of time.
const writeGrace = time.Second

// unmatchedTimeout bounds reading and answering a request that matches no
// API (or is refused before it could): the gateway answers those itself,
// with a few hundred bytes.
const unmatchedTimeout = 10 * time.Second

// setDeadlines bounds reading the request (read) and the whole call
// (write) from now, on the connection itself (http.ResponseController),
// replacing the listener's timeouts for this request: an API's timeouts
// decide how long its uploads and streams may last. Deadlines are on the
// wall clock, whatever clock the gateway was given. A writer that does
// not support deadlines (a test recorder) is left alone.
func (ex *exchange) setDeadlines(read, write time.Duration) {
	now := time.Now()
	rc := http.NewResponseController(ex.rw)
	_ = rc.SetReadDeadline(now.Add(read))
	_ = rc.SetWriteDeadline(now.Add(write + writeGrace))
	ex.deadline = now.Add(write)
}

// paramMap returns the wildcard values by name, for policies (the only
// caller that needs a map, so only routes with policies pay for it).
func (ex *exchange) paramMap() map[string]string {
	names := ex.op.pattern.names
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for i, n := range names {
		m[n] = ex.params[i]
	}
	return m
}

// decision is what the gateway made of a request, for logs and metrics.
type decision uint8

const (
	decisionNone decision = iota
	decisionAllow
	decisionDenyToken
	decisionDenyScope
	decisionDenyPolicy
	decisionNotFound
	decisionMethodNotAllowed
	decisionBadRequest
	decisionTooLarge
	decisionUnavailable
	decisionBadGateway
	decisionTimeout
	decisionPreflight
	decisionDenyCORS
	decisionClientClosed
	decisionDenyRate
	decisionDenyBlocked
	decisionDenyWAF
	decisionInvalidRequest
	decisionUnsupportedMedia
	// decisionDenyCSRF: a call with a single-page app's cookies from an
	// origin the app does not list, or without its double-submit header.
	decisionDenyCSRF
	// decisionTokenHandler: a call to a single-page app's OAuth agent,
	// which answers it itself.
	decisionTokenHandler
	decisionCount
)

var decisionNames = [decisionCount]string{
	decisionNone:             "none",
	decisionAllow:            "allow",
	decisionDenyToken:        "deny_token",
	decisionDenyScope:        "deny_scope",
	decisionDenyPolicy:       "deny_policy",
	decisionNotFound:         "not_found",
	decisionMethodNotAllowed: "method_not_allowed",
	decisionBadRequest:       "bad_request",
	decisionTooLarge:         "too_large",
	decisionUnavailable:      "unavailable",
	decisionBadGateway:       "bad_gateway",
	decisionTimeout:          "timeout",
	decisionPreflight:        "cors_preflight",
	decisionDenyCORS:         "deny_cors",
	decisionClientClosed:     "client_closed",
	decisionDenyRate:         "deny_rate",
	decisionDenyBlocked:      "deny_blocked",
	decisionDenyWAF:          "deny_waf",
	decisionInvalidRequest:   "invalid_request",
	decisionUnsupportedMedia: "unsupported_media_type",
	decisionDenyCSRF:         "deny_csrf",
	decisionTokenHandler:     "token_handler",
}

func (d decision) String() string {
	if d < decisionCount {
		return decisionNames[d]
	}
	return "unknown"
}
