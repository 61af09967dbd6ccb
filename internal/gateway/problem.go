package gateway

import (
	"net/http"
	"strconv"
)

// problemKind is one kind of RFC 9457 problem the gateway answers with. Its
// JSON, up to the request id, is rendered once; a response only appends
// the id. The "type" URIs are stable: clients may branch on them.
type problemKind struct {
	status int
	prefix []byte
}

func newProblem(status int, slug, title, detail string) *problemKind {
	b := []byte(`{"type":"urn:portcullis:problem:`)
	b = append(b, slug...)
	b = append(b, `","title":`...)
	b = strconv.AppendQuote(b, title)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(status), 10)
	if detail != "" {
		b = append(b, `,"detail":`...)
		b = strconv.AppendQuote(b, detail)
	}
	b = append(b, `,"request_id":"`...)
	return &problemKind{status: status, prefix: b}
}

// The problems. Details never say which check failed for a token (RFC
// 6750 §3: nothing that helps an attacker) and never name an upstream.
var (
	problemBadRequest = newProblem(http.StatusBadRequest, "bad-request", "Bad request",
		"The request path or credentials are malformed.")
	problemInvalidToken = newProblem(http.StatusUnauthorized, "invalid-token", "Invalid token",
		"A valid access token is required.")
	problemInsufficientScope = newProblem(http.StatusForbidden, "insufficient-scope", "Insufficient scope",
		"The access token does not grant the scopes this operation requires.")
	problemAccessDenied = newProblem(http.StatusForbidden, "access-denied", "Access denied", "")
	problemNotFound     = newProblem(http.StatusNotFound, "not-found", "Not found", "")
	problemMethod       = newProblem(http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "")
	problemTooLarge     = newProblem(http.StatusRequestEntityTooLarge, "payload-too-large", "Payload too large", "")
	problemBadGateway   = newProblem(http.StatusBadGateway, "bad-gateway", "Bad gateway",
		"The upstream service could not be reached or failed.")
	problemTimeout = newProblem(http.StatusGatewayTimeout, "gateway-timeout", "Gateway timeout",
		"The upstream service did not answer in time.")
	problemUnavailable = newProblem(http.StatusServiceUnavailable, "unavailable", "Service unavailable",
		"Access cannot be decided right now; retry later.")
)

// Header values shared by every problem response (never modified).
var (
	headerProblemType = []string{"application/problem+json"}
	headerNoStore     = []string{"no-store"}
	headerNoSniff     = []string{"nosniff"}
	headerRetryAfter  = []string{"5"}
)

// problem answers with p and records d, unless a response has already
// started (then only the decision is recorded).
func (ex *exchange) problem(p *problemKind, d decision) {
	ex.decision = d
	if ex.status != 0 {
		return
	}
	h := ex.rw.Header()
	// An upstream's headers are never in the map yet (the proxy copies
	// them only on success), but a step may have set Content-Length or
	// similar for its own reasons: start from known headers.
	delete(h, "Content-Length")
	delete(h, "Content-Encoding")
	h["Content-Type"] = headerProblemType
	h["Cache-Control"] = headerNoStore
	h["X-Content-Type-Options"] = headerNoSniff
	if p.status == http.StatusServiceUnavailable {
		h["Retry-After"] = headerRetryAfter
	}
	ex.WriteHeader(p.status)
	b := make([]byte, 0, len(p.prefix)+len(ex.id)+3)
	b = append(b, p.prefix...)
	b = append(b, ex.id...)
	b = append(b, "\"}\n"...)
	_, _ = ex.Write(b)
}
