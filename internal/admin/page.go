package admin

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Page sizes of the list routes.
const (
	defaultLimit = 50
	maxLimit     = 200
)

// Page is one page of a list: Next is the cursor of the following page,
// empty on the last one.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next_cursor,omitempty"`
}

// pageParams reads ?limit and ?cursor; it answers 400 itself and reports
// false when either is malformed. The cursor is opaque to callers:
// base64url of the last key of the previous page.
func (a *API) pageParams(w http.ResponseWriter, r *http.Request, reqID string) (limit int, after string, ok bool) {
	q := r.URL.Query()
	limit = defaultLimit
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxLimit {
			a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request",
				"limit must be an integer from 1 to "+strconv.Itoa(maxLimit))
			return 0, "", false
		}
		limit = n
	}
	if c := q.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) == 0 {
			a.problem(w, reqID, http.StatusBadRequest, "invalid-request", "Invalid request", "cursor is not one this API handed out")
			return 0, "", false
		}
		after = string(b)
	}
	return limit, after, true
}

// paginate returns the page of items (sorted by key) after the key after.
func paginate[T any](items []T, key func(T) string, after string, limit int) Page[T] {
	i := 0
	if after != "" {
		for i < len(items) && key(items[i]) <= after {
			i++
		}
	}
	end := min(i+limit, len(items))
	p := Page[T]{Items: items[i:end]}
	if p.Items == nil {
		p.Items = []T{}
	}
	if end < len(items) {
		p.Next = base64.RawURLEncoding.EncodeToString([]byte(key(items[end-1])))
	}
	return p
}

// etag is the strong entity tag of a resource's representation: it
// changes whenever the resource does (its updated_at is part of it).
func etag(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return `""` // unreachable for the registry's views
	}
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}

// ifMatch checks If-Match (RFC 9110 §13.1.1, strong comparison) against
// the current tag. Absent, it passes: If-Match is optional here. A
// mismatch answers 412 and reports false.
func (a *API) ifMatch(w http.ResponseWriter, r *http.Request, reqID, current string) bool {
	h := r.Header.Values("If-Match")
	if len(h) == 0 {
		return true
	}
	for _, v := range h {
		for t := range strings.SplitSeq(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || t == current {
				return true
			}
		}
	}
	w.Header().Set("ETag", current)
	a.problem(w, reqID, http.StatusPreconditionFailed, "precondition-failed", "Precondition failed",
		"the resource changed since it was read (If-Match does not match its ETag)")
	return false
}
