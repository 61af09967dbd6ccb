package admin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/audit"
)

// Audience is the audience an access token must carry to be accepted by
// the admin API (RFC 8707 resource indicator of the admin API).
const Audience = "urn:portcullis:admin"

// Role is an admin role, carried in an access token as a scope.
type Role string

// The admin roles. A token holds one or more of them as scopes; each
// route admits the roles of its row in the route table.
const (
	RolePlatform  Role = "admin:platform"
	RolePublisher Role = "admin:publisher"
	RoleApprover  Role = "admin:approver"
	RoleDeveloper Role = "admin:developer"
	RoleAuditor   Role = "admin:auditor"
)

// Roles lists every admin role, in the order the docs show them.
var Roles = []Role{RolePlatform, RolePublisher, RoleApprover, RoleDeveloper, RoleAuditor}

// Principal is what a verified access token says about its bearer.
type Principal struct {
	Subject  string
	ClientID string
	Scopes   []string
}

// TokenVerifier checks an access token of the issuer: signature, issuer,
// the Audience, expiry. Any error means the token is not accepted; its
// text is logged, never shown.
type TokenVerifier interface {
	VerifyAdminToken(ctx context.Context, raw string) (Principal, error)
}

// caller is who is calling, as recorded in the audit trail.
type caller struct {
	actor audit.Actor
	roles []Role
}

// guard authenticates the caller, checks the route's roles and runs the
// route's handler with the caller as the audit actor and the request's
// origin on the context.
func (a *API) guard(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqID := newRequestID()
		w.Header().Set("X-Request-Id", reqID)
		if !a.enabled() {
			a.problem(w, reqID, http.StatusForbidden, "admin-api-off", "Admin API off",
				"the admin API is off: set "+TokenEnv+" to a random value (openssl rand -base64 32) or run the authz role on this node")
			return
		}
		c, ok := a.authenticate(w, r, reqID)
		if !ok {
			return
		}
		if !slices.ContainsFunc(c.roles, func(role Role) bool { return slices.Contains(rt.roles, role) }) {
			// RFC 6750 §3.1: insufficient_scope names the scopes that would do.
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="insufficient_scope", scope="`+joinRoles(rt.roles)+`"`)
			a.problem(w, reqID, http.StatusForbidden, "insufficient-scope", "Insufficient scope",
				"this operation needs one of the roles "+joinRoles(rt.roles))
			return
		}
		if rt.part != nil && !rt.part(a) {
			a.problem(w, reqID, http.StatusNotFound, "not-found", "Not found", "this part does not run on this node")
			return
		}
		ctx := audit.WithActor(r.Context(), c.actor)
		ctx = audit.WithOrigin(ctx, audit.Origin{SourceIP: sourceIP(r), RequestID: reqID})
		rt.handle(a, w, r.WithContext(ctx), reqID)
	})
}

// authenticate finds the caller of r, or answers 401 and reports false.
func (a *API) authenticate(w http.ResponseWriter, r *http.Request, reqID string) (caller, bool) {
	raw, ok := bearer(r)
	if !ok {
		// RFC 6750 §3.1: a request without credentials gets no error code.
		w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
		a.problem(w, reqID, http.StatusUnauthorized, "unauthorized", "Unauthorized", "an admin access token is required")
		return caller{}, false
	}
	if a.breakGlass {
		sum := sha256.Sum256([]byte(raw))
		if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) == 1 {
			return caller{
				actor: audit.Actor{Kind: audit.KindBreakGlass, Subject: "break-glass", Roles: []string{string(RolePlatform)}},
				roles: []Role{RolePlatform},
			}, true
		}
	}
	if a.verifier != nil {
		p, err := a.verifier.VerifyAdminToken(r.Context(), raw)
		if err == nil {
			return newCaller(p), true
		}
		a.logger.Info("admin token refused", "request_id", reqID, "err", err)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin", error="invalid_token"`)
	a.problem(w, reqID, http.StatusUnauthorized, "invalid-token", "Invalid token",
		"the access token is not valid for the admin API")
	return caller{}, false
}

// newCaller is the caller a verified token names: a client acting for
// itself (client credentials: sub is the client id) or a user through a
// client. Only admin:* scopes count as roles.
func newCaller(p Principal) caller {
	c := caller{actor: audit.Actor{Kind: audit.KindUser, Subject: p.Subject, ClientID: p.ClientID}}
	if p.Subject == "" || p.Subject == p.ClientID {
		c.actor.Kind, c.actor.Subject = audit.KindClient, p.ClientID
	}
	for _, s := range p.Scopes {
		if slices.Contains(Roles, Role(s)) && !slices.Contains(c.roles, Role(s)) {
			c.roles = append(c.roles, Role(s))
			c.actor.Roles = append(c.actor.Roles, s)
		}
	}
	return c
}

// bearer returns the token of an Authorization: Bearer header (RFC 6750
// §2.1; the scheme is case-insensitive).
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", false
	}
	return tok, true
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, " ")
}

// sourceIP is the peer's address. The admin listener is internal and
// reached directly, so forwarding headers are not trusted.
func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
