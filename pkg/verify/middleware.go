package verify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
)

// MiddlewareConfig says what a middleware requires of each request
// beyond a token the Verifier accepts. The zero value accepts any such
// token presented with the Bearer scheme.
type MiddlewareConfig struct {
	// Scopes are required of every request (all of them); per-route
	// requirements go in RequireScopes. Empty means none.
	Scopes []string
	// Realm is the realm of the WWW-Authenticate challenges (RFC 6750
	// §3); empty means none. It must be printable ASCII without '"' or
	// '\'.
	Realm string
	// CertificateBinding checks tokens bound to a client certificate
	// (cnf x5t#S256, RFC 8705 §3): such a token must arrive over TLS
	// whose client certificate has that thumbprint. Only for a backend
	// that clients reach with mutual TLS directly; behind the gateway,
	// the TLS peer is the gateway, which has checked the binding (unless
	// ClientCertificate reads the certificate the gateway forwards).
	// False ignores the binding.
	CertificateBinding bool
	// ClientCertificate, when set, is where CertificateBinding takes a
	// request's client certificate from instead of its TLS connection:
	// ClientCertFromHeader for the Client-Cert header the gateway sends
	// with forward_client_cert. It returns nil for a request that
	// presented none; an error refuses the request. Nil means
	// r.TLS.PeerCertificates[0].
	ClientCertificate func(r *http.Request) (*x509.Certificate, error)
	// DPoP, when set, accepts the DPoP scheme and enforces DPoP binding
	// (RFC 9449 §7). Nil refuses the DPoP scheme and ignores cnf.jkt,
	// which is right behind the gateway: it has checked the proof.
	DPoP *ProofOfPossession
	// OnError, when set, is told why each refused request was refused,
	// for logs and metrics. The error never holds the token.
	OnError func(r *http.Request, err error)
}

// middleware is the http.Handler NewMiddleware builds.
type middleware struct {
	v           *Verifier
	scopes      []string
	scope       string // scopes, space-separated, for challenges
	certBinding bool
	clientCert  func(*http.Request) (*x509.Certificate, error)
	pop         *possession // nil when DPoP is off
	onError     func(*http.Request, error)
	params      challengeParams
	retryAfter  int
	next        http.Handler
}

// NewMiddleware returns a handler that admits a request to next only when
// it carries a token v accepts and that meets cfg. It puts the claims in
// the request's context (FromContext). A refused request gets, per RFC
// 6750 §3 and RFC 9449 §7.1:
//
//   - 401 with a challenge naming no error when it carries no token;
//   - 400 invalid_request when its Authorization header is repeated or
//     malformed;
//   - 401 invalid_token when the token does not verify or its sender
//     constraint is not met (and invalid_dpop_proof or use_dpop_nonce for
//     a DPoP proof that does not);
//   - 403 insufficient_scope when it lacks a scope of cfg.Scopes;
//   - 503 when the issuer's keys cannot be had (fail closed).
func NewMiddleware(v *Verifier, cfg MiddlewareConfig, next http.Handler) (http.Handler, error) {
	if v == nil {
		return nil, errors.New("verify: middleware needs a verifier")
	}
	if next == nil {
		return nil, errors.New("verify: middleware needs a next handler")
	}
	for _, s := range cfg.Scopes {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("verify: middleware: %q is not a valid scope", s)
		}
	}
	if !validQuotedValue(cfg.Realm) {
		return nil, errors.New("verify: middleware: the realm must be printable ASCII without quotes or backslashes")
	}
	m := &middleware{
		v:           v,
		scopes:      slices.Clone(cfg.Scopes),
		scope:       strings.Join(cfg.Scopes, " "),
		certBinding: cfg.CertificateBinding,
		clientCert:  cfg.ClientCertificate,
		onError:     cfg.OnError,
		params:      challengeParams{realm: cfg.Realm},
		retryAfter:  int(math.Ceil(v.cfg.MinRefetchInterval.Seconds())),
		next:        next,
	}
	if cfg.DPoP != nil {
		p, err := newPossession(*cfg.DPoP, v)
		if err != nil {
			return nil, err
		}
		m.pop = p
		m.params.dpopAlgs = strings.Join(p.algs, " ")
	}
	return m, nil
}

// ServeHTTP implements http.Handler.
func (m *middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tok, s, err := accessToken(r.Header.Values("Authorization"), m.pop != nil)
	if err != nil {
		m.refuse(w, r, s, err)
		return
	}
	c, err := m.v.Verify(r.Context(), tok)
	if err != nil {
		m.refuse(w, r, s, err)
		return
	}
	if err := m.checkBinding(r, tok, s, c); err != nil {
		m.refuse(w, r, s, err)
		return
	}
	if err := c.RequireScopes(m.scopes...); err != nil {
		m.refuse(w, r, s, err)
		return
	}
	ctx := r.Context()
	m.next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, authKey{}, &requestAuth{claims: c, scheme: s, params: m.params})))
}

// checkBinding enforces the sender constraints the middleware is
// configured for.
func (m *middleware) checkBinding(r *http.Request, tok string, s scheme, c *Claims) error {
	if m.pop != nil {
		if err := m.pop.check(r, tok, s, c); err != nil {
			return err
		}
	}
	if m.certBinding && c.Confirmation.CertificateThumbprint != "" {
		cert, err := m.certificate(r)
		if err != nil {
			return &bindingError{description: "the client certificate forwarded with the request is malformed"}
		}
		if cert == nil {
			return &bindingError{description: "the access token is bound to a client certificate the connection does not present"}
		}
		if !c.Confirmation.MatchesCertificate(cert) {
			return &bindingError{description: "the access token is bound to another client certificate"}
		}
	}
	return nil
}

// certificate is the client certificate r presented (RFC 8705 §3): that
// of this very connection, or what ClientCertificate finds; nil when
// none.
func (m *middleware) certificate(r *http.Request) (*x509.Certificate, error) {
	if m.clientCert != nil {
		return m.clientCert(r)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, nil
	}
	return r.TLS.PeerCertificates[0], nil
}

// refuse answers a refused request and reports err to OnError.
func (m *middleware) refuse(w http.ResponseWriter, r *http.Request, s scheme, err error) {
	if m.onError != nil {
		m.onError(r, err)
	}
	m.params.write(w, m.refusalFor(s, err))
}

// refusalFor maps err to the answer RFC 6750 §3.1 and RFC 9449 §7.1 ask
// for.
func (m *middleware) refusalFor(s scheme, err error) refusal {
	// A DPoP-bound token presented as Bearer, or an unbound one where
	// DPoP is required, is answered with a DPoP challenge (RFC 9449
	// §7.2): that is the scheme that would have worked.
	var be *bindingError
	if errors.As(err, &be) && be.wantDPoP {
		s = schemeDPoP
	}
	var scopeErr *InsufficientScopeError
	var dpopErr *DPoPError
	switch {
	case errors.Is(err, ErrNoToken):
		schemes := []scheme{schemeBearer}
		if m.pop != nil {
			schemes = append(schemes, schemeDPoP)
		}
		return refusal{status: http.StatusUnauthorized, schemes: schemes, description: "an access token is required"}
	case errors.Is(err, ErrInvalidRequest):
		return refusal{status: http.StatusBadRequest, schemes: []scheme{s}, code: codeInvalidRequest,
			description: "the authorization header must appear once and hold one token"}
	case errors.Is(err, ErrKeysUnavailable):
		// Fail closed, and say it is the server's fault: a 401 would
		// send the client after a new token that fares no better.
		return refusal{status: http.StatusServiceUnavailable, description: "the issuer's keys are unavailable; try again later",
			retryAfter: m.retryAfter}
	case errors.As(err, &scopeErr):
		return refusal{status: http.StatusForbidden, schemes: []scheme{s}, code: codeInsufficientScope,
			description: "the access token lacks a required scope", scope: m.scope}
	case errors.As(err, &dpopErr):
		f := refusal{status: http.StatusUnauthorized, schemes: []scheme{schemeDPoP}, code: dpopErr.Code,
			description: dpopErr.Description}
		if !validQuotedValue(f.code) || !validQuotedValue(f.description) {
			f.code, f.description = DPoPCodeInvalidProof, "the DPoP proof is invalid"
		}
		if f.code == DPoPCodeUseNonce && m.pop.newNonce != nil {
			f.nonce = m.pop.newNonce()
		}
		return f
	case errors.Is(err, errProofUnavailable):
		return refusal{status: http.StatusServiceUnavailable, description: "DPoP proofs cannot be checked now; try again later",
			retryAfter: 1}
	}
	return refusal{status: http.StatusUnauthorized, schemes: []scheme{s}, code: codeInvalidToken, description: describe(err)}
}
