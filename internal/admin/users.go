package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/registry"
)

// UserRequest is the body of POST /admin/v1/users. Password may be empty:
// login stays disabled until one is set.
type UserRequest struct {
	Username string            `json:"username"`
	Password string            `json:"password,omitempty"`
	Roles    []string          `json:"roles,omitempty"`
	Attrs    map[string]string `json:"attrs,omitempty"`
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	list, err := a.users.List(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	slices.SortFunc(list, func(x, y registry.UserInfo) int { return strings.Compare(x.Username, y.Username) })
	writeJSON(w, http.StatusOK, paginate(list, func(u registry.UserInfo) string { return u.Username }, after, limit))
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, reqID string) {
	u, err := a.users.Get(r.Context(), r.PathValue("username"))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", etag(u))
	writeJSON(w, http.StatusOK, u)
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, reqID string) {
	var req UserRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	// The registry's own rules, checked first so the caller hears which.
	roles, err := registry.CheckRoles(req.Roles)
	if err != nil {
		a.fail(w, reqID, &InputError{Detail: err.Error()})
		return
	}
	if err := registry.CheckAttrs(req.Attrs); err != nil {
		a.fail(w, reqID, &InputError{Detail: err.Error()})
		return
	}
	u, err := a.users.Create(r.Context(), req.Username, req.Password, roles, req.Attrs)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", etag(u))
	w.Header().Set("Location", "/admin/v1/users/"+u.Username)
	writeJSON(w, http.StatusCreated, u)
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, reqID string) {
	name := r.PathValue("username")
	if len(r.Header.Values("If-Match")) > 0 {
		u, err := a.users.Get(r.Context(), name)
		if err != nil {
			a.fail(w, reqID, err)
			return
		}
		if !a.ifMatch(w, r, reqID, etag(u)) {
			return
		}
	}
	if err := a.users.Delete(r.Context(), name); err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
