package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
)

// resolveStep turns the presented token into a verified JWT by the kinds
// the API accepts: a JWT is verified as is; an opaque token is
// introspected into its phantom JWT; anything else is taken as the
// signature half of a split token. Every path ends in a JWT verified
// against the issuer's keys.
type resolveStep struct {
	api                *apiRoute
	res                *resolvers
	jwt, opaque, split bool
	// anyOpaque: the issuer's opaque tokens have a format of their own
	// (token.OpaqueAny), which may look like anything, a JWT included.
	anyOpaque bool
	// challengeAudience is the RFC 6750 §3 challenge for a token meant
	// for another API: invalid_token, with a description saying so.
	challengeAudience []string
	// preAuth counts the request per client address before anything is
	// resolved; nil when there is no such limit.
	preAuth *preAuthLimit
	limitRT *limitRuntime
	next    http.Handler
}

func newResolve(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public {
		return next, nil
	}
	if c.api.resolvers == nil {
		return nil, errors.New("an operation needs a token but its api has no issuer to resolve tokens with")
	}
	return &resolveStep{
		api:       c.api,
		res:       c.api.resolvers,
		jwt:       c.api.accepts&acceptJWT != 0,
		opaque:    c.api.accepts&acceptOpaque != 0,
		split:     c.api.accepts&acceptSplit != 0,
		anyOpaque: c.api.resolvers.opaqueFormat == token.OpaqueAny,
		// RFC 6750 §3: error_description is for the developer; a fixed
		// text, in the characters §3 allows, naming no value.
		challengeAudience: []string{c.api.challengeInvalid[0] +
			`, error_description="the token is not meant for this API: its audience (aud) is none of those the API accepts"`},
		preAuth: c.preAuth,
		limitRT: c.limitRT,
		next:    next,
	}, nil
}

func (s *resolveStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	raw := ex.raw
	// Fail closed: without the issuer's keys nothing can be verified, and
	// a client should retry rather than throw its token away.
	if !s.res.keys.Ready() {
		ex.reason = "keys not loaded"
		ex.problem(problemUnavailable, decisionUnavailable)
		return
	}
	// Before any resolution: one address cannot make the gateway ask
	// about token after token faster than the limit.
	if s.preAuth != nil {
		if ok, retry := s.preAuth.allow(ex.client, ex.start); !ok {
			refusePreAuth(ex, s.limitRT, retry)
			return
		}
	}
	var (
		v   *token.Verified
		err error
	)
	ctx := r.Context()
	// The resolvers' calls (the issuer, the split-token store) are
	// children of this span; the request keeps its own context.
	rctx, span := ex.child(ctx, spanResolve)
	switch {
	case looksLikeJWT(raw) && (s.jwt || !s.anyOpaque):
		if !s.jwt {
			err = errKindRefused
			break
		}
		// Access tokens only (at+jwt): a phantom token presented by a
		// client is refused here, whatever it says.
		v, err = s.res.jwt.Verify(rctx, raw)
		traceKind(span, "jwt")
	case s.opaque && s.takesOpaque(raw):
		// Only the issuer's shape can be active: anything else is
		// refused here, before a cache, a discovery or an introspection.
		if !s.res.opaqueFormat.Allows(raw) {
			err = errOpaqueShape
			break
		}
		traceKind(span, "opaque")
		v, err = s.res.opaque.Resolve(rctx, raw)
	case s.split:
		if !token.IsSplitSignature(raw) {
			err = errSplitShape
			break
		}
		if s.res.split == nil {
			err = errNoSplitSource
			break
		}
		traceKind(span, "split")
		v, err = s.res.split.Resolve(rctx, raw)
	default:
		err = errKindRefused
	}
	if err == nil && (v == nil || v.Claims == nil) {
		err = errNoClaims // a resolver bug must not let a request through
	}
	endChild(span, err)
	if err != nil {
		s.deny(ctx, ex, err)
		return
	}
	ex.verified = v
	s.next.ServeHTTP(w, r)
}

// takesOpaque reports whether a token that is not taken as a JWT goes to
// introspection rather than to the split-token store: when the API
// takes no split tokens, when it has our opaque prefix, or, for an
// issuer with a format of its own, when it cannot be a JWS signature.
func (s *resolveStep) takesOpaque(raw string) bool {
	return !s.split || strings.HasPrefix(raw, token.PrefixAccess) ||
		s.anyOpaque && !token.IsSplitSignature(raw)
}

// Resolution failures of the gateway's own making.
var (
	errKindRefused   = errors.New("token kind not accepted by this api")
	errNoSplitSource = errors.New("split tokens cannot be resolved on this node")
	errNoClaims      = errors.New("resolver returned no claims")
	errOpaqueShape   = errors.New("not shaped like an opaque access token")
	errSplitShape    = errors.New("not shaped like a split token signature")
)

func (s *resolveStep) deny(ctx context.Context, ex *exchange, err error) {
	switch {
	case ctx.Err() != nil:
		ex.reason = "client went away"
		ex.problem(problemUnavailable, decisionClientClosed)
	case errors.Is(err, phantom.ErrBusy):
		// RFC 9110 §15.6.4: the cap of introspections in flight is
		// reached; the client may retry shortly.
		ex.reason = "introspections at capacity"
		ex.problem(problemUnavailable, decisionUnavailable)
	case errors.Is(err, phantom.ErrUnavailable):
		// Fail closed with a hint to retry (RFC 9110 §10.2.3).
		ex.reason = "token service unavailable"
		ex.problem(problemUnavailable, decisionUnavailable)
	case errors.Is(err, token.ErrAudience):
		ex.reason = denyReason(err)
		ex.rw.Header()["Www-Authenticate"] = s.api.dpop.forScheme(ex.scheme, dpopAudience, s.challengeAudience)
		ex.problem(problemInvalidToken, decisionDenyToken)
	default:
		ex.reason = denyReason(err)
		ex.rw.Header()["Www-Authenticate"] = s.api.dpop.forScheme(ex.scheme, dpopInvalidToken, s.api.challengeInvalid)
		ex.problem(problemInvalidToken, decisionDenyToken)
	}
}

// denyReason names why a token was refused, for the access log: a fixed
// string, never the error text (which might quote the token).
func denyReason(err error) string {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{token.ErrExpired, "expired"},
		{token.ErrNotYetValid, "not yet valid"},
		{token.ErrIssuer, "wrong issuer"},
		{token.ErrAudience, "wrong audience"},
		{token.ErrAlgorithm, "algorithm not allowed"},
		{token.ErrUnknownKey, "unknown key"},
		{token.ErrTooLarge, "too large"},
		{token.ErrSignature, "bad signature"},
		{token.ErrType, "wrong type"},
		{token.ErrMalformed, "malformed"},
		{phantom.ErrInactive, "inactive"},
		{errKindRefused, "kind not accepted"},
		{errNoSplitSource, "split tokens unavailable"},
		{errNoClaims, "no claims"},
		{errOpaqueShape, "malformed"},
		{errSplitShape, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	return "invalid"
}

// looksLikeJWT reports whether s has the shape of a compact JWS: three
// non-empty base64url parts. Unlike token.LooksLikeJWT it allocates
// nothing, which matters on every request.
func looksLikeJWT(s string) bool {
	dots, partLen := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if partLen == 0 {
				return false
			}
			dots++
			partLen = 0
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_':
			partLen++
		default:
			return false
		}
	}
	return dots == 2 && partLen > 0
}

// scopeStep is RFC 6750 §3.1 insufficient_scope: every scope the
// operation names must be granted.
type scopeStep struct {
	scopes    []string
	challenge []string
	// dpopChallenge answers a token presented with the DPoP scheme (RFC
	// 9449 §7.1); nil when the API takes none.
	dpopChallenge []string
	next          http.Handler
}

func newScope(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public || len(c.op.scopes) == 0 {
		return next, nil
	}
	s := &scopeStep{scopes: c.op.scopes, challenge: c.op.scopeChallenge, next: next}
	s.challenge, s.dpopChallenge = c.api.dpop.scopeChallenges(c.op.scopes, s.challenge)
	return s, nil
}

func (s *scopeStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	granted := ex.verified.Claims.Scopes
	for _, want := range s.scopes {
		if !contains(granted, want) {
			ex.reason = "missing scope"
			ex.rw.Header()["Www-Authenticate"] = s.challenge
			if ex.scheme == schemeDPoP && s.dpopChallenge != nil {
				ex.rw.Header()["Www-Authenticate"] = s.dpopChallenge
			}
			ex.problem(problemInsufficientScope, decisionDenyScope)
			return
		}
	}
	s.next.ServeHTTP(w, r)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
