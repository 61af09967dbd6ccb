package admin

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/publish"
	"github.com/portcullis/portcullis/internal/registry"
)

// problemType prefixes the stable "type" URIs of the admin API's RFC 9457
// problems; clients may branch on them.
const problemType = "urn:portcullis:problem:admin:"

// Problem is an RFC 9457 problem detail as the admin API writes it.
type Problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail,omitempty"`
	RequestID string `json:"request_id"`
}

func (a *API) problem(w http.ResponseWriter, reqID string, status int, slug, title, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(Problem{ // the client went away; nothing to do
		Type: problemType + slug, Title: title, Status: status, Detail: detail, RequestID: reqID,
	})
}

// fail answers err: what the caller got wrong with its own words, anything
// else as a 5xx whose cause goes to the log only.
func (a *API) fail(w http.ResponseWriter, reqID string, err error) {
	var invalidClient *registry.InvalidClientError
	var input *InputError
	switch {
	case errors.As(err, &invalidClient):
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
			"invalid "+invalidClient.Field+": "+invalidClient.Reason)
	case errors.As(err, &input):
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", input.Detail)
	case errors.Is(err, registry.ErrNotFound):
		a.problem(w, reqID, http.StatusNotFound, "not-found", "Not found", err.Error())
	case errors.Is(err, registry.ErrExists):
		a.problem(w, reqID, http.StatusConflict, "conflict", "Conflict", err.Error())
	case errors.Is(err, publish.ErrNotFound):
		a.problem(w, reqID, http.StatusNotFound, "not-found", "Not found", err.Error())
	case errors.Is(err, publish.ErrInvalid):
		// The catalog's own reasons (validation, clashes, lifecycle
		// moves) name fields, objects and the configuration file's APIs;
		// a document holds no secret (its credentials are environment
		// variable names), so they are safe to show.
		a.problem(w, reqID, http.StatusUnprocessableEntity, "invalid-catalog", "Refused by the catalog's rules", boundedDetail(err.Error(), maxRefusalDetail))
	case errors.Is(err, errPrecondition):
		a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed", err.Error())
	case errors.Is(err, publish.ErrStale):
		a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed", err.Error())
	default:
		a.logger.Error("admin request failed", "request_id", reqID, "err", err)
		a.problem(w, reqID, http.StatusInternalServerError, "internal", "Internal error",
			"the request could not be completed; the request id is in the server log")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}

// maxBody bounds a request body: the largest legitimate one is a client
// with its JWKS (64 KiB).
const maxBody = 256 << 10

// decode reads r's JSON body into v, refusing unknown fields and trailing
// data; it answers 400 itself and reports false on failure.
func (a *API) decode(w http.ResponseWriter, r *http.Request, reqID string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "the body is not the JSON object this operation takes")
		return false
	}
	if dec.More() {
		a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "the body holds more than one JSON value")
		return false
	}
	return true
}
