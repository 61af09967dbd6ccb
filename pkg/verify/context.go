package verify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// authKey is the context key of the request's authentication.
type authKey struct{}

// requestAuth is what the middleware learnt about a request: the claims,
// and how to phrase a later refusal (RequireScopes) the same way.
type requestAuth struct {
	claims *Claims
	scheme scheme
	params challengeParams
}

// NewContext returns a copy of ctx carrying c, as the middleware does for
// the requests it lets through. It is for tests of handlers that read
// FromContext, and for servers that verify by other means.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, authKey{}, &requestAuth{claims: c})
}

// FromContext returns the claims the middleware verified for this
// request; ok is false when the request did not pass through it.
func FromContext(ctx context.Context) (c *Claims, ok bool) {
	a, _ := ctx.Value(authKey{}).(*requestAuth)
	if a == nil || a.claims == nil {
		return nil, false
	}
	return a.claims, true
}

// RequireScopes wraps next so it runs only for requests whose verified
// token carries every one of scopes; others get 403 with an RFC 6750
// §3.1 insufficient_scope challenge. It is the per-route check, to be
// used behind the middleware: a request that did not pass through one is
// refused with 401, never let through. It panics when a scope is not an
// RFC 6749 §3.3 scope-token, as http.ServeMux does for a bad pattern: a
// mistake in the program, found when it starts.
func RequireScopes(next http.Handler, scopes ...string) http.Handler {
	for _, s := range scopes {
		if !validScopeToken(s) {
			panic(fmt.Sprintf("verify: RequireScopes: %q is not a valid scope", s))
		}
	}
	scope := strings.Join(scopes, " ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, _ := r.Context().Value(authKey{}).(*requestAuth)
		if a == nil || a.claims == nil {
			challengeParams{}.write(w, refusal{
				status: http.StatusUnauthorized, schemes: []scheme{schemeBearer},
				description: "an access token is required",
			})
			return
		}
		if err := a.claims.RequireScopes(scopes...); err != nil {
			a.params.write(w, refusal{
				status: http.StatusForbidden, schemes: []scheme{a.scheme},
				code: codeInsufficientScope, description: "the access token lacks a required scope", scope: scope,
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}
