package oauth

import (
	"errors"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/scope"
	"github.com/portcullis/portcullis/internal/store"
)

// userinfo is OpenID Connect Core §5.3, protected by a bearer access token
// (RFC 6750): from the Authorization header, or the form body of a POST
// (§2.2); never the query string.
func (s *Server) userinfo(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	raw, ok := s.bearer(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	t, _, active, err := s.activeToken(ctx, raw)
	if err != nil {
		s.log.ErrorContext(ctx, "userinfo token", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	if !active || t.Kind != store.KindAccess || t.Subject == t.ClientID && t.AuthTime.IsZero() {
		s.bearerError(w, http.StatusUnauthorized, errInvalidToken, "")
		return
	}
	// RFC 8705 §3: the userinfo endpoint is a protected resource, and a
	// certificate-bound token is good only with its certificate.
	if b, err := boundTo(t.Claims); err != nil {
		s.log.ErrorContext(ctx, "userinfo token binding", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	} else if b.X5T != "" && !s.certMatches(r, b.X5T) {
		s.bearerError(w, http.StatusUnauthorized, errInvalidToken, "")
		return
	}
	scopes := scope.Split(t.Scope)
	if !slices.Contains(scopes, "openid") {
		s.bearerError(w, http.StatusForbidden, errInsufficientScope, "openid")
		return
	}
	u, err := s.o.Store.GetUser(ctx, t.Subject)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		s.bearerError(w, http.StatusUnauthorized, errInvalidToken, "")
		return
	} else if err != nil {
		s.log.ErrorContext(ctx, "userinfo user", "err", err)
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	claims := map[string]any{"sub": u.ID}
	if slices.Contains(scopes, "profile") {
		claims["preferred_username"] = u.Username
		for k, v := range s.userClaims(&u) {
			claims[k] = v
		}
	}
	writeJSON(w, http.StatusOK, claims)
}

// bearer extracts the access token per RFC 6750 §2.1 and §2.2. Exactly
// one method may be used (§2).
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (string, bool) {
	var tok string
	n := 0
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, v, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(v) == "" {
			s.bearerError(w, http.StatusUnauthorized, errInvalidRequest, "")
			return "", false
		}
		tok = strings.TrimSpace(v)
		n++
	}
	if r.Method == http.MethodPost {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.bearerError(w, http.StatusBadRequest, errInvalidRequest, "")
				return "", false
			}
			if v := r.PostForm["access_token"]; len(v) > 0 {
				if len(v) > 1 {
					n++
				}
				tok = v[0]
				n++
			}
		}
	}
	switch {
	case n == 0:
		// RFC 6750 §3.1: no error code when the request carried no token.
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+s.realm+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		return "", false
	case n > 1:
		s.bearerError(w, http.StatusBadRequest, errInvalidRequest, "")
		return "", false
	}
	return tok, true
}

func (s *Server) bearerError(w http.ResponseWriter, status int, code, scope string) {
	v := `Bearer realm="` + s.realm + `", error="` + code + `"`
	if scope != "" {
		v += `, scope="` + scope + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	writeJSON(w, status, map[string]string{"error": code})
}
