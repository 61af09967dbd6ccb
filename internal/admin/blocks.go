package admin

import (
	"net/http"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

func (a *API) listBlocks(w http.ResponseWriter, r *http.Request, reqID string) {
	if a.blocks == nil {
		writeJSON(w, http.StatusOK, map[string]any{"blocks": []ratelimit.Block{}})
		return
	}
	list, err := a.blocks.List(r.Context(), a.now())
	if err != nil {
		a.logger.Warn("blocks unavailable", "request_id", reqID, "err", err)
		a.problem(w, reqID, http.StatusServiceUnavailable, "unavailable", "Service unavailable", "blocks unavailable")
		return
	}
	if list == nil {
		list = []ratelimit.Block{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocks": list})
}

func (a *API) liftBlock(w http.ResponseWriter, r *http.Request, reqID string) {
	if a.blocks == nil {
		a.problem(w, reqID, http.StatusNotFound, "not-found", "Not found", "no blocks: the gateway role is not running")
		return
	}
	if err := a.blocks.Lift(r.Context(), r.PathValue("key")); err != nil {
		a.logger.Warn("blocks unavailable", "request_id", reqID, "err", err)
		a.problem(w, reqID, http.StatusServiceUnavailable, "unavailable", "Service unavailable", "blocks unavailable")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) quota(w http.ResponseWriter, r *http.Request, reqID string) {
	if a.quotas == nil {
		a.problem(w, reqID, http.StatusNotFound, "not-found", "Not found", "the gateway role is not running")
		return
	}
	v, err := a.quotas.ClientQuotas(r.Context(), r.PathValue("client_id"))
	if err != nil {
		a.logger.Warn("quota state unavailable", "request_id", reqID, "err", err)
		a.problem(w, reqID, http.StatusServiceUnavailable, "unavailable", "Service unavailable", "quota state unavailable")
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (a *API) openAPI(w http.ResponseWriter, _ *http.Request, _ string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(a.openapi) // the client went away; nothing to do
}
