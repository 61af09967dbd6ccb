package oauth

import (
	"errors"
	"net/http"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// revoke is RFC 7009. Unknown tokens, and tokens of other clients, get
// the same 200 as a successful revocation (§2.2), so the endpoint cannot be
// used to learn which tokens exist.
func (s *Server) revoke(w http.ResponseWriter, r *http.Request) {
	if e := parsePost(w, r); e != nil {
		s.fail(w, r, "revoke", e)
		return
	}
	client, e := s.authenticateClient(r)
	if e != nil {
		s.fail(w, r, "revoke", e)
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		s.fail(w, r, "revoke", badRequest(errInvalidRequest, "token is required"))
		return
	}
	ctx := r.Context()
	if len(raw) <= token.MaxLength {
		digest := token.Digest(raw)
		t, err := s.o.Store.GetToken(ctx, digest)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.fail(w, r, "revoke", s.serverError(ctx, "load token to revoke", err))
			return
		case t.ClientID != client.ID:
			s.log.InfoContext(ctx, "revocation of another client's token ignored", "client_id", client.ID)
		case t.Kind == store.KindRefresh && t.GrantID != "":
			// RFC 7009 §2.1: revoking a refresh token also invalidates the
			// access tokens of the same grant.
			if _, err := s.revokeGrant(ctx, t.GrantID); err != nil {
				s.fail(w, r, "revoke", s.serverError(ctx, "revoke grant", err))
				return
			}
		default:
			if err := s.revokeToken(ctx, digest); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.fail(w, r, "revoke", s.serverError(ctx, "revoke token", err))
				return
			}
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
