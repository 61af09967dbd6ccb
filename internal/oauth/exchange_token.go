package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/scope"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// exchangeInput is a verified subject or actor token of a token exchange.
type exchangeInput struct {
	party     policy.Party
	expiresAt time.Time
	authTime  time.Time
	// grantID is the stored token's grant; empty for ID tokens and
	// external JWTs.
	grantID string
	// act is the token's own act claim (RFC 8693 §4.1), nil when none.
	act map[string]any
	// mayAct is its may_act claim (§4.4), nil when none.
	mayAct map[string]any
	// carry are the claims the issued token inherits (roles, user
	// attributes); never act, may_act or cnf.
	carry map[string]any
}

// idTokenAlgs are the algorithms our ID tokens may be signed with
// (config's keys.id_alg choices).
var idTokenAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.PS256, jose.EdDSA}

// exchangeToken verifies a subject or actor token (param names which, for
// the error) of type typ (RFC 8693 §3):
//
//   - access_token: one of our access tokens, found by digest like
//     introspection (opaque, JWT or split; active, not revoked, not
//     expired), or a JWT of a trusted external issuer;
//   - id_token: one of our ID tokens (our keys, typ JWT, aud a registered
//     client, user still enabled), or an external issuer's;
//   - jwt: any of the above.
//
// Every failure is invalid_request (§2.2.2); the reason goes to the log.
func (s *Server) exchangeToken(ctx context.Context, raw, typ, param string, now time.Time) (exchangeInput, error) {
	invalid := badRequest(errInvalidRequest, "the "+param+" is invalid, expired or not trusted")
	refuse := func(reason string, err error) (exchangeInput, error) {
		s.log.InfoContext(ctx, "token exchange: "+param+" refused", "reason", reason, "err", err)
		return exchangeInput{}, invalid
	}
	if typ != tokenTypeAccess && typ != tokenTypeID && typ != tokenTypeJWT {
		return exchangeInput{}, badRequest(errInvalidRequest, param+"_type is not supported")
	}
	if len(raw) > token.MaxLength {
		return refuse("too long", nil)
	}
	iss := ""
	if token.LooksLikeJWT(raw) {
		iss = unverifiedIssuer(raw)
	}
	if iss != "" && iss != s.cfg.Issuer {
		v := s.o.Exchange.Issuers[iss]
		if v == nil {
			return refuse("issuer not trusted", nil)
		}
		vd, err := v.Verify(ctx, raw)
		if err != nil {
			return refuse("external token does not verify", err)
		}
		return externalInput(vd.Claims)
	}
	if typ != tokenTypeID {
		t, _, ok, err := s.activeToken(ctx, raw)
		if err != nil {
			return exchangeInput{}, s.serverError(ctx, "look up "+param, err)
		}
		if ok && t.Kind == store.KindAccess {
			return s.storedInput(t)
		}
		if typ == tokenTypeAccess || iss == "" {
			return refuse("not an active access token", nil)
		}
	}
	in, reason, err := s.idTokenInput(ctx, raw, now)
	if err != nil {
		return exchangeInput{}, err
	}
	if reason != "" {
		return refuse(reason, nil)
	}
	return in, nil
}

// storedInput is one of our active access tokens.
func (s *Server) storedInput(t store.Token) (exchangeInput, error) {
	c, err := s.accessClaims(t)
	if err != nil {
		return exchangeInput{}, err
	}
	carry := make(map[string]any, len(c.Extra))
	for k, v := range c.Extra {
		// act is rebuilt, may_act is spent on this exchange, and cnf
		// binds the subject token to its holder's key, not the new one's.
		if k != "act" && k != "may_act" && k != "cnf" {
			carry[k] = v
		}
	}
	in := exchangeInput{
		party: policy.Party{
			Sub: t.Subject, Issuer: s.cfg.Issuer, ClientID: t.ClientID,
			Scopes: scope.Split(t.Scope), Claims: c.Map(),
		},
		expiresAt: t.ExpiresAt,
		authTime:  t.AuthTime,
		grantID:   t.GrantID,
		act:       c.Act,
		carry:     carry,
	}
	if m, ok := c.Extra["may_act"].(map[string]any); ok {
		in.mayAct = m
	}
	return in, nil
}

// idTokenInput verifies one of our ID tokens. A non-empty reason refuses
// it; err is a failure on our side.
func (s *Server) idTokenInput(ctx context.Context, raw string, now time.Time) (exchangeInput, string, error) {
	// typ JWT keeps access and phantom tokens (at+jwt, phantom+jwt) from
	// passing as ID tokens (RFC 8725 §3.11).
	payload, err := token.VerifyJWS(raw, s.o.Keys.KeySet(), idTokenAlgs, "JWT")
	if err != nil {
		return exchangeInput{}, "id token does not verify", nil
	}
	m, err := token.DecodeClaims(payload)
	if err != nil {
		return exchangeInput{}, "id token claims", nil
	}
	sub, _ := m["sub"].(string)
	iss, _ := m["iss"].(string)
	exp, _ := m["exp"].(float64)
	if iss != s.cfg.Issuer || sub == "" || exp <= 0 {
		return exchangeInput{}, "id token claims", nil
	}
	expiresAt := time.Unix(int64(exp), 0)
	if !now.Before(expiresAt) {
		return exchangeInput{}, "id token expired", nil
	}
	aud, ok := m["aud"].(string)
	if !ok {
		if list, _ := m["aud"].([]any); len(list) == 1 {
			aud, _ = list[0].(string)
		}
	}
	if aud == "" {
		return exchangeInput{}, "id token audience", nil
	}
	// OpenID Connect Core §2: aud is the client the ID token was issued
	// to; it must still be registered.
	if _, err := s.o.Store.GetClient(ctx, aud); errors.Is(err, store.ErrNotFound) {
		return exchangeInput{}, "id token audience is no registered client", nil
	} else if err != nil {
		return exchangeInput{}, "", s.serverError(ctx, "load id token client", err)
	}
	u, err := s.o.Store.GetUser(ctx, sub)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Disabled) {
		return exchangeInput{}, "id token user unknown or disabled", nil
	} else if err != nil {
		return exchangeInput{}, "", s.serverError(ctx, "load id token user", err)
	}
	in := exchangeInput{
		// An ID token grants nothing: it carries no scope, so a token
		// exchanged from one carries none either.
		party:     policy.Party{Sub: sub, Issuer: iss, ClientID: aud, Claims: m},
		expiresAt: expiresAt,
		carry:     s.userClaims(&u),
	}
	if at, ok := m["auth_time"].(float64); ok && at > 0 {
		in.authTime = time.Unix(int64(at), 0)
	}
	return in, "", nil
}

// externalInput is a verified JWT of a trusted external issuer. Only its
// subject, scopes and act chain are used; none of its claims is copied
// into the issued token.
func externalInput(c *token.Claims) (exchangeInput, error) {
	if c.Subject == "" {
		return exchangeInput{}, badRequest(errInvalidRequest, "the token has no subject")
	}
	clientID := c.ClientID
	if clientID == "" {
		clientID, _ = c.Raw["azp"].(string)
	}
	in := exchangeInput{
		party: policy.Party{
			Sub: c.Subject, Issuer: c.Issuer, ClientID: clientID,
			Scopes: c.Scopes, Claims: c.Raw,
		},
		expiresAt: c.ExpiresAt,
		carry:     map[string]any{},
	}
	if v, ok := c.Raw["act"]; ok {
		act, ok := v.(map[string]any)
		if !ok {
			return exchangeInput{}, badRequest(errInvalidRequest, "the token's act claim is not an object")
		}
		in.act = act
	}
	if v, ok := c.Raw["may_act"]; ok {
		m, ok := v.(map[string]any)
		if !ok {
			return exchangeInput{}, badRequest(errInvalidRequest, "the token's may_act claim is not an object")
		}
		in.mayAct = m
	}
	return in, nil
}

// unverifiedIssuer reads iss from a JWT's payload without verifying it,
// only to choose the keys that then verify it; "" when there is none.
func unverifiedIssuer(raw string) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(b, &c) != nil {
		return ""
	}
	return c.Iss
}

// actClaim builds the act claim of RFC 8693 §4.1: the actor's identity
// (sub, and iss when another issuer's), with the subject token's own act,
// if any, nested as the prior actor.
func actClaim(actor policy.Party, ourIssuer string, prior map[string]any) (map[string]any, error) {
	if actDepth(prior) >= maxActDepth {
		return nil, badRequest(errInvalidRequest, "the delegation chain of the subject token is too long")
	}
	act := map[string]any{"sub": actor.Sub}
	if actor.Issuer != "" && actor.Issuer != ourIssuer {
		act["iss"] = actor.Issuer
	}
	if prior != nil {
		act["act"] = maps.Clone(prior)
	}
	return act, nil
}

// actDepth counts the actors of a chain.
func actDepth(act map[string]any) int {
	n := 0
	for act != nil && n <= maxActDepth {
		n++
		act, _ = act["act"].(map[string]any)
	}
	return n
}

// mayAct reports whether actor is a party the subject token's may_act
// claim (RFC 8693 §4.4) names: every claim in it must equal the actor's.
// sub, iss and client_id are the actor's identity; other claims are read
// from its token. Without iss, the actor must come from the subject
// token's issuer, whose namespace its sub is in. An empty may_act names no
// one.
func mayAct(may map[string]any, actor policy.Party, subjectIssuer string) bool {
	if len(may) == 0 {
		return false
	}
	if _, ok := may["iss"]; !ok && actor.Issuer != subjectIssuer {
		return false
	}
	for k, want := range may {
		var got any
		switch k {
		case "sub":
			got = actor.Sub
		case "iss":
			got = actor.Issuer
		case "client_id":
			got = actor.ClientID
		default:
			v, ok := actor.Claims[k]
			if !ok {
				return false
			}
			got = v
		}
		if !jsonEqual(got, want) {
			return false
		}
	}
	return true
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
