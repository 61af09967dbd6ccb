package oauth

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// inactive is the whole answer for a token that is not active: RFC 7662
// §2.2 says nothing else may be revealed about it.
var inactive = map[string]bool{"active": false}

// introspect is RFC 7662. With Accept: application/jwt the answer for an
// active access token is the phantom token: a signed JWT with the RFC 9068
// claims of the token, for the gateway to forward to its backends, typed
// token.TypePhantomJWT so that the gateway never takes it from a client.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	r, span := s.startSpan(r, "oauth.introspect")
	if span != nil {
		defer span.End()
	}
	if e := parsePost(w, r); e != nil {
		s.fail(w, r, "introspect", e)
		return
	}
	client, e := s.authenticateClient(r)
	if e != nil {
		s.fail(w, r, "introspect", e)
		return
	}
	if !client.CanIntrospect {
		// RFC 7662 §4: the endpoint is for protected resources; a client
		// without the right must not learn anything about tokens.
		s.log.InfoContext(r.Context(), "introspection refused", "client_id", client.ID)
		s.fail(w, r, "introspect", newError(http.StatusForbidden, errUnauthorizedClient,
			"the client is not allowed to introspect tokens"))
		return
	}
	raw := r.PostForm.Get("token")
	if raw == "" {
		s.fail(w, r, "introspect", badRequest(errInvalidRequest, "token is required"))
		return
	}
	t, phantom, ok, err := s.activeToken(r.Context(), raw)
	if err != nil {
		s.fail(w, r, "introspect", s.serverError(r.Context(), "introspect", err))
		return
	}
	if span != nil {
		span.SetAttributes(attribute.String("oauth.client_id", client.ID), attribute.Bool("oauth.active", ok))
	}
	if !ok {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	if acceptsJWT(r.Header.Get("Accept")) {
		if t.Kind != store.KindAccess {
			// A refresh token must never become a credential the gateway
			// would forward.
			writeJSON(w, http.StatusOK, inactive)
			return
		}
		jws := phantom
		if jws == "" {
			jws, err = s.signAccess(t, t.ExpiresAt, token.TypePhantomJWT)
			if err != nil {
				s.fail(w, r, "introspect", s.serverError(r.Context(), "sign phantom token", err))
				return
			}
			s.tokens.setPhantom(t.Digest, jws)
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwt")
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
		writeBody(w, []byte(jws))
		return
	}
	c, err := s.accessClaims(t)
	if err != nil {
		s.fail(w, r, "introspect", s.serverError(r.Context(), "introspect claims", err))
		return
	}
	m := c.Map()
	m["active"] = true
	// RFC 7662 §2.2 token_type; refresh tokens are reported as such so a
	// resource server never mistakes one for an access token.
	if t.Kind == store.KindAccess {
		// RFC 9449 §6.2: a bound token is a DPoP token, and its cnf
		// (in m already) tells the resource server which key.
		m["token_type"] = tokenType(c.JKT)
	} else {
		m["token_type"] = "refresh_token"
	}
	writeJSON(w, http.StatusOK, m)
}

// activeToken finds the stored token a client presented and reports
// whether it is active: known, not revoked, not expired and, for a
// refresh token, not yet rotated. The phantom token comes along when the
// cache holds one.
func (s *Server) activeToken(ctx context.Context, raw string) (store.Token, string, bool, error) {
	if len(raw) > token.MaxLength {
		return store.Token{}, "", false, nil
	}
	now := s.now()
	t, phantom, err := s.tokens.get(ctx, s.o.Store, token.Digest(raw), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, "", false, nil
	} else if err != nil {
		return store.Token{}, "", false, err
	}
	if t.Revoked || !now.Before(t.ExpiresAt) {
		return store.Token{}, "", false, nil
	}
	if t.Kind == store.KindRefresh && !t.UsedAt.IsZero() && now.Sub(t.UsedAt) > s.cfg.RefreshReuseGrace {
		return store.Token{}, "", false, nil
	}
	return t, phantom, true, nil
}

// acceptsJWT reports whether the Accept header asks for application/jwt.
func acceptsJWT(accept string) bool {
	if accept == "" {
		return false
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "application/jwt" && params["q"] != "0" {
			return true
		}
	}
	return false
}
