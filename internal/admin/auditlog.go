package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/audit"
)

// AuditPage is a page of the audit trail.
type AuditPage struct {
	Items []audit.Record `json:"items"`
	Next  string         `json:"next_cursor,omitempty"`
}

// listAudit serves the trail with the filters of `portcullis audit
// export`: actor, action (a trailing ".*" matches a prefix), target
// ("type" or "type:id"), since and until (RFC 3339).
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, reqID string) {
	q := r.URL.Query()
	limit := defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
				"limit must be an integer from 1 to "+strconv.Itoa(maxLimit))
			return
		}
		limit = n
	}
	var after int64
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "cursor is not one this API handed out")
			return
		}
		after = n
	}
	f := audit.Filter{Actor: q.Get("actor"), Action: q.Get("action")}
	if t := q.Get("target"); t != "" {
		typ, id, found := strings.Cut(t, ":")
		f.TargetType = typ
		if found {
			f.TargetID = id
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", p.name+" must be an RFC 3339 time")
				return
			}
			*p.dst = t
		}
	}
	recs, next, err := a.audit.List(r.Context(), f, after, limit)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	page := AuditPage{Items: recs}
	if page.Items == nil {
		page.Items = []audit.Record{}
	}
	if next != 0 {
		page.Next = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, page)
}
