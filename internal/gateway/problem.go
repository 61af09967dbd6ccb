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
	// problemInvalidRequest lists the violations of the API's contract
	// in "errors" (validate.go); problemUnsupportedMedia is a content
	// type the operation does not accept.
	problemInvalidRequest = newProblem(http.StatusBadRequest, "invalid-request", "Invalid request",
		"The request does not match the API's contract.")
	problemUnsupportedMedia = newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		"The operation does not accept the request's content type.")
	// problemRequestBlocked is the WAF's refusal; which rules matched
	// goes to the access log only ("blocked" is the abuse block's 429).
	problemRequestBlocked = newProblem(http.StatusForbidden, "request-blocked", "Request blocked",
		"The request was refused by the gateway's inspection.")
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
	ex.problemWith(p, d, nil)
}

// problemWith answers like problem, with more members after the request
// id: extra is JSON starting with a comma (`,"errors":[...]`).
func (ex *exchange) problemWith(p *problemKind, d decision, extra []byte) {
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
	b := make([]byte, 0, len(p.prefix)+len(ex.id)+len(extra)+4)
	b = append(b, p.prefix...)
	b = append(b, ex.id...)
	b = append(b, '"')
	b = append(b, extra...)
	b = append(b, "}\n"...)
	_, _ = ex.Write(b)
}
