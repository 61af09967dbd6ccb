package oauth

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// grantTokenExchange is the grant type of RFC 8693 §2.1.
const grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Token type identifiers of RFC 8693 §3.
const (
	tokenTypeAccess = "urn:ietf:params:oauth:token-type:access_token"
	tokenTypeID     = "urn:ietf:params:oauth:token-type:id_token"
	tokenTypeJWT    = "urn:ietf:params:oauth:token-type:jwt"
)

// Defaults and bounds of the token exchange.
const (
	// defaultExchangeTTL is the life of an exchanged token when
	// ExchangeOptions.MaxTTL is zero.
	defaultExchangeTTL = 5 * time.Minute
	// maxActDepth bounds the act chain (RFC 8693 §4.1): each exchange
	// nests the previous actors one level deeper, and a chain longer
	// than this is a loop or an abuse rather than a call path.
	maxActDepth = 5
	// maxAudienceLen bounds one audience value.
	maxAudienceLen = 512
)

// ExchangeOptions turn on the token exchange grant (RFC 8693). A nil
// *ExchangeOptions in Options leaves the grant unsupported.
type ExchangeOptions struct {
	// Policy decides who may exchange what for which audience; nil denies
	// every exchange.
	Policy *policy.Exchange
	// MaxTTL caps an exchanged token's life; zero means 5m. The token
	// never outlives its subject token (or actor token) either.
	MaxTTL time.Duration
	// Issuers verify the JWTs of trusted external issuers, by issuer.
	Issuers map[string]*token.Verifier
}

// exchanged is what the token exchange adds to a grant: the subject the
// token is about, its claims (act included) and its shorter life.
type exchanged struct {
	subject  string
	claims   map[string]any
	ttl      time.Duration
	authTime time.Time
}

// grantTypesSupported is discovery's grant_types_supported (RFC 8414 §2):
// token exchange only when it is on.
func (s *Server) grantTypesSupported() []string {
	gt := []string{"authorization_code", "client_credentials", "refresh_token"}
	if s.o.Exchange != nil {
		gt = append(gt, grantTokenExchange)
	}
	return gt
}

// tokenExchange is RFC 8693 §2. The issued token keeps the subject
// token's subject, narrows its audience and scopes to what the exchange
// policy allows (never wider than the subject token), lives at most
// MaxTTL and no longer than the subject token, carries the act chain
// (§4.1) and comes without a refresh token.
//
// Errors follow §2.2.2: a missing or malformed parameter, and a subject or
// actor token that is invalid or unacceptable (may_act), are
// invalid_request ("MUST"); a target the policy does not allow for this
// client, subject and actor is invalid_target (the policy denies by
// default); a scope beyond the subject token or the policy is
// invalid_scope (RFC 6749 §5.2).
//
// A DPoP proof on the request binds the issued token to its key (RFC 9449
// §5), as for every other grant.
func (s *Server) tokenExchange(r *http.Request, c store.Client, snd sender) (tokenResponse, error) {
	ctx := r.Context()
	f := r.PostForm
	subjectRaw, subjectType := f.Get("subject_token"), f.Get("subject_token_type")
	if subjectRaw == "" {
		return tokenResponse{}, badRequest(errInvalidRequest, "subject_token is required")
	}
	if subjectType == "" {
		return tokenResponse{}, badRequest(errInvalidRequest, "subject_token_type is required")
	}
	actorRaw, actorType := f.Get("actor_token"), f.Get("actor_token_type")
	switch {
	case actorRaw != "" && actorType == "":
		return tokenResponse{}, badRequest(errInvalidRequest, "actor_token_type is required with actor_token")
	case actorRaw == "" && actorType != "":
		// §2.1: actor_token_type "MUST NOT be included otherwise".
		return tokenResponse{}, badRequest(errInvalidRequest, "actor_token_type without actor_token")
	}
	issuedType, err := exchangeTokenType(f.Get("requested_token_type"), c)
	if err != nil {
		return tokenResponse{}, err
	}
	targets, err := exchangeTargets(f)
	if err != nil {
		return tokenResponse{}, err
	}
	requested, err := parseScope(f, nil)
	if err != nil {
		return tokenResponse{}, err
	}

	now := s.now()
	subject, err := s.exchangeToken(ctx, subjectRaw, subjectType, "subject_token", now)
	if err != nil {
		return tokenResponse{}, err
	}
	// Without an actor token the client itself is the acting party.
	actor := policy.Party{Sub: c.ID, Issuer: s.cfg.Issuer, ClientID: c.ID, Scopes: c.Scopes}
	actorExp := time.Time{}
	if actorRaw != "" {
		at, err := s.exchangeToken(ctx, actorRaw, actorType, "actor_token", now)
		if err != nil {
			return tokenResponse{}, err
		}
		actor, actorExp = at.party, at.expiresAt
	}
	// §4.4: a subject token naming who may act for it admits no one else.
	if subject.mayAct != nil && !mayAct(subject.mayAct, actor, subject.party.Issuer) {
		s.log.InfoContext(ctx, "token exchange refused: actor not allowed by may_act",
			"client_id", c.ID, "subject", subject.party.Sub, "actor", actor.Sub)
		return tokenResponse{}, badRequest(errInvalidRequest, "the actor is not allowed to act for the subject (may_act)")
	}

	policyScopes := requested
	if !f.Has("scope") {
		policyScopes = subject.party.Scopes
	}
	d := s.o.Exchange.Policy.Decide(policy.ExchangeInput{
		ClientID:  c.ID,
		Subject:   subject.party,
		Actor:     actor,
		Audiences: targets,
		Scopes:    policyScopes,
		Time:      now,
	})
	if !d.Allowed {
		s.log.InfoContext(ctx, "token exchange refused by policy",
			"client_id", c.ID, "subject", subject.party.Sub, "audiences", targets)
		return tokenResponse{}, badRequest(errInvalidTarget,
			"the token exchange policy does not allow this client to obtain a token for the requested audience")
	}
	granted, err := exchangeScopes(requested, f.Has("scope"), subject.party.Scopes, d.Scopes)
	if err != nil {
		return tokenResponse{}, err
	}

	claims := subject.carry
	if actorRaw != "" || !d.Impersonation {
		act, err := actClaim(actor, s.cfg.Issuer, subject.act)
		if err != nil {
			return tokenResponse{}, err
		}
		claims["act"] = act
	} else if subject.act != nil {
		// Impersonation keeps the subject token's own chain: the new
		// token stands for exactly what the subject token stood for.
		claims["act"] = subject.act
	}

	ttl := s.o.Exchange.MaxTTL
	if ttl <= 0 {
		ttl = defaultExchangeTTL
	}
	ttl = min(ttl, subject.expiresAt.Sub(now))
	if !actorExp.IsZero() {
		ttl = min(ttl, actorExp.Sub(now))
	}
	ttl = ttl.Truncate(time.Second)
	if ttl < time.Second {
		return tokenResponse{}, badRequest(errInvalidRequest, "the subject or actor token is about to expire")
	}
	resp, err := s.issue(ctx, grant{
		grantType: grantTokenExchange,
		client:    c,
		scopes:    granted,
		audience:  targets,
		// Revoking the subject token's grant (a reused code or refresh
		// token, a logout) revokes what was exchanged from it too.
		grantID: subject.grantID,
		jkt:     proofKey(snd.proof),
		x5t:     snd.x5t,
		exchange: &exchanged{
			subject:  subject.party.Sub,
			claims:   claims,
			ttl:      ttl,
			authTime: subject.authTime,
		},
	})
	if err != nil {
		return tokenResponse{}, s.serverError(ctx, "issue exchanged token", err)
	}
	s.log.InfoContext(ctx, "token exchanged", "client_id", c.ID, "subject", subject.party.Sub,
		"subject_issuer", subject.party.Issuer, "actor", actor.Sub, "audiences", targets,
		"rules", d.Rules, "impersonation", actorRaw == "" && d.Impersonation)
	// §2.2.1: issued_token_type is required. Either way the token is an
	// access token (token_type Bearer, or DPoP when bound).
	resp.IssuedTokenType = issuedType
	return resp, nil
}

// exchangeTokenType is the issued_token_type for a requested_token_type
// (RFC 8693 §2.1, §3). The exchange issues access tokens in the client's
// format; a client whose access tokens are JWTs may ask for the JWT type
// instead, for a service that expects "a JWT" rather than "an access
// token". A JWT is not issued to a client of opaque or split tokens: what
// it receives outside stays opaque. Refresh and ID tokens are never
// issued by an exchange.
func exchangeTokenType(requested string, c store.Client) (string, error) {
	switch requested {
	case "", tokenTypeAccess:
		return tokenTypeAccess, nil
	case tokenTypeJWT:
		if c.AccessTokenFormat != store.FormatJWT {
			return "", badRequest(errInvalidRequest,
				"requested_token_type "+tokenTypeJWT+" needs a client whose access tokens are JWTs")
		}
		return tokenTypeJWT, nil
	}
	return "", badRequest(errInvalidRequest,
		"requested_token_type is not supported: "+tokenTypeAccess+" or, for clients of JWT access tokens, "+tokenTypeJWT)
}

// exchangeTargets reads the targets of RFC 8693 §2.1: resource (absolute
// URIs without fragment) and audience (logical names), each of which may
// repeat. At least one is required: the exchange policy is per audience,
// and a token for "wherever the subject token went" is what exchange is
// meant to narrow.
func exchangeTargets(f url.Values) ([]string, error) {
	var out []string
	for _, v := range f["resource"] {
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || strings.Contains(v, "#") {
			return nil, badRequest(errInvalidTarget, "resource must be an absolute URI without a fragment")
		}
		out = append(out, v)
	}
	for _, v := range f["audience"] {
		if v == "" || len(v) > maxAudienceLen || strings.IndexFunc(v, printable.IsSpaceOrControl) >= 0 {
			return nil, badRequest(errInvalidTarget, "audience must be a non-empty name without spaces or control characters")
		}
		out = append(out, v)
	}
	out = dedupe(out)
	switch {
	case len(out) == 0:
		return nil, badRequest(errInvalidRequest, "audience or resource is required")
	case len(out) > maxResources:
		return nil, badRequest(errInvalidTarget, "at most "+strconv.Itoa(maxResources)+" audiences and resources may be requested at once")
	}
	return out, nil
}

// exchangeScopes is the scope of the issued token: the requested scopes,
// each of which must be the subject token's and allowed by the policy;
// without a scope parameter, every scope of the subject token the policy
// allows. Never wider than either.
func exchangeScopes(requested []string, asked bool, subject, allowed []string) ([]string, error) {
	if !asked {
		out := []string{}
		for _, sc := range subject {
			if slices.Contains(allowed, sc) && !slices.Contains(out, sc) {
				out = append(out, sc)
			}
		}
		return out, nil
	}
	for _, sc := range requested {
		if !slices.Contains(subject, sc) {
			return nil, badRequest(errInvalidScope, "the requested scope exceeds the subject token's scope")
		}
		if !slices.Contains(allowed, sc) {
			return nil, badRequest(errInvalidScope, "the token exchange policy does not allow the requested scope for this audience")
		}
	}
	return requested, nil
}
