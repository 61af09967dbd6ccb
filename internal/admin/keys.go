package admin

import "net/http"

// RotateKeysRequest is the body of POST /admin/v1/keys/rotate; no uses
// means every use ("access" and "id").
type RotateKeysRequest struct {
	Uses []string `json:"uses,omitempty"`
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request, reqID string) {
	list, err := a.keys.List(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	if list == nil {
		list = []KeyView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": list})
}

func (a *API) rotateKeys(w http.ResponseWriter, r *http.Request, reqID string) {
	var req RotateKeysRequest
	if r.ContentLength != 0 && !a.decode(w, r, reqID, &req) {
		return
	}
	rotated, err := a.keys.Rotate(r.Context(), req.Uses)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	if rotated == nil {
		rotated = []KeyView{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"keys": rotated})
}
