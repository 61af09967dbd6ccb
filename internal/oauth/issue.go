package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// grant is what one token response is issued for.
type grant struct {
	grantType string
	client    store.Client
	// user is nil when no end user is involved (client credentials).
	user     *store.User
	scopes   []string
	audience []string
	authTime time.Time
	// grantID ties the tokens of one authorization together; empty for
	// client credentials, which have nothing to revoke as a family.
	grantID string
	nonce   string
	refresh bool
	// jkt is the thumbprint of the DPoP key the access token is bound to
	// (RFC 9449 §6), from the request's proof; empty for a bearer token.
	jkt string
	// x5t is the thumbprint of the client certificate the access token
	// is bound to (RFC 8705 §3), from certBinding; empty when unbound.
	x5t string
	// exchange is set by the token exchange grant (RFC 8693), nil for
	// every other grant.
	exchange *exchanged
}

// tokenResponse is the successful response of RFC 6749 §5.1.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	// IssuedTokenType is RFC 8693 §2.2.1's, for token exchange only.
	IssuedTokenType string `json:"issued_token_type,omitempty"`
}

// issue mints the access token (and the refresh and ID tokens the grant
// calls for) and stores them by digest.
func (s *Server) issue(ctx context.Context, g grant) (tokenResponse, error) {
	now := s.now()
	iat := now.Unix()
	scope := strings.Join(g.scopes, " ")
	ttl := s.cfg.AccessTTL
	if g.client.AccessTokenTTL > 0 {
		ttl = g.client.AccessTokenTTL
	}
	sub := g.client.ID
	var authTime int64
	if g.user != nil {
		sub = g.user.ID
		authTime = g.authTime.Unix()
	}
	extra := s.userClaims(g.user)
	if x := g.exchange; x != nil {
		// RFC 8693 §2.1: the issued token is about the subject token's
		// subject; its claims (and act, §4.1) come from the exchange.
		sub, ttl, extra = x.subject, x.ttl, x.claims
		if !x.authTime.IsZero() {
			authTime = x.authTime.Unix()
		}
	}
	extra = bindClaims(extra, confirmation{JKT: g.jkt, X5T: g.x5t})
	extraJSON, err := json.Marshal(extra)
	if err != nil {
		return tokenResponse{}, fmt.Errorf("marshal claims: %w", err)
	}
	exp := iat + int64(ttl/time.Second)
	rec := store.Token{
		Kind:      store.KindAccess,
		Format:    g.client.AccessTokenFormat,
		JTI:       token.NewID(),
		ClientID:  g.client.ID,
		Subject:   sub,
		Scope:     scope,
		Audience:  g.audience,
		Claims:    extraJSON,
		GrantID:   g.grantID,
		IssuedAt:  time.Unix(iat, 0),
		ExpiresAt: time.Unix(exp, 0),
	}
	if authTime != 0 {
		rec.AuthTime = time.Unix(authTime, 0)
	}
	access, err := s.mintAccess(&rec)
	if err != nil {
		return tokenResponse{}, err
	}
	if err := s.o.Store.CreateToken(ctx, rec); err != nil {
		return tokenResponse{}, fmt.Errorf("store access token: %w", err)
	}
	s.metrics.issued.WithLabelValues(g.grantType, rec.Format).Inc()
	resp := tokenResponse{
		AccessToken: access,
		TokenType:   tokenType(g.jkt),
		ExpiresIn:   exp - iat,
		Scope:       scope,
	}
	if g.refresh {
		rt, err := s.issueRefresh(ctx, g, rec, now)
		if err != nil {
			return tokenResponse{}, err
		}
		resp.RefreshToken = rt
		s.metrics.issued.WithLabelValues(g.grantType, "refresh").Inc()
	}
	if g.user != nil && slices.Contains(g.scopes, "openid") {
		id, err := s.idToken(g, access, now)
		if err != nil {
			return tokenResponse{}, err
		}
		resp.IDToken = id
		s.metrics.issued.WithLabelValues(g.grantType, "id").Inc()
	}
	return resp, nil
}

// mintAccess produces the string the client will hold, in the client's
// format, and sets the record's digest (and, for split tokens, the part
// kept server-side).
func (s *Server) mintAccess(rec *store.Token) (string, error) {
	switch rec.Format {
	case store.FormatJWT:
		jws, err := s.signAccess(*rec, rec.ExpiresAt, token.TypeAccessJWT)
		if err != nil {
			return "", err
		}
		rec.Digest = token.Digest(jws)
		return jws, nil
	case store.FormatSplit:
		// The whole JWT exists only inside: the gateway reassembles it
		// and forwards it to backends. It is typed as a phantom token so
		// that, should it leak from there, the gateway refuses it from a
		// client (RFC 8725 §3.11).
		jws, err := s.signAccess(*rec, rec.ExpiresAt, token.TypePhantomJWT)
		if err != nil {
			return "", err
		}
		hp, sig, err := token.Split(jws)
		if err != nil {
			return "", fmt.Errorf("split token: %w", err)
		}
		rec.Digest = token.Digest(sig)
		rec.Payload = hp
		return sig, nil
	default:
		rec.Format = store.FormatOpaque
		v, err := token.NewOpaque(token.PrefixAccess)
		if err != nil {
			return "", fmt.Errorf("opaque token: %w", err)
		}
		rec.Digest = token.Digest(v)
		return v, nil
	}
}

// accessClaims are the RFC 9068 claims of a stored access token: the same
// set whether the client holds the JWT or the gateway asks for the phantom
// token.
func (s *Server) accessClaims(t store.Token) (token.AccessClaims, error) {
	extra, err := token.ExtraFromJSON(t.Claims)
	if err != nil {
		return token.AccessClaims{}, fmt.Errorf("stored claims: %w", err)
	}
	c := token.AccessClaims{
		Issuer:    s.cfg.Issuer,
		Subject:   t.Subject,
		Audience:  t.Audience,
		ExpiresAt: t.ExpiresAt.Unix(),
		IssuedAt:  t.IssuedAt.Unix(),
		JTI:       t.JTI,
		ClientID:  t.ClientID,
		Scope:     t.Scope,
		Extra:     extra,
	}
	// RFC 9449 §6.1, §6.2 and RFC 8705 §3.1, §3.2: lifted out of Extra,
	// like act below.
	cnf := takeCnf(extra)
	c.JKT, c.X5T = cnf.JKT, cnf.X5T
	if act, ok := extra["act"].(map[string]any); ok {
		// Stored by the token exchange (exchange.go); Extra cannot carry
		// it out, so it is lifted into its own field.
		c.Act = act
	}
	if !t.AuthTime.IsZero() {
		c.AuthTime = t.AuthTime.Unix()
	}
	return c, nil
}

// signAccess signs the RFC 9068 claims of t, expiring at exp, with typ:
// token.TypeAccessJWT for a JWT the client holds, token.TypePhantomJWT
// for one that stays between the gateway and its backends.
func (s *Server) signAccess(t store.Token, exp time.Time, typ string) (string, error) {
	c, err := s.accessClaims(t)
	if err != nil {
		return "", err
	}
	c.ExpiresAt = exp.Unix()
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("marshal access claims: %w", err)
	}
	jws, err := s.o.Keys.Sign(keys.UseAccess, typ, payload)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return jws, nil
}

func (s *Server) issueRefresh(ctx context.Context, g grant, access store.Token, now time.Time) (string, error) {
	v, err := token.NewOpaque(token.PrefixRefresh)
	if err != nil {
		return "", fmt.Errorf("refresh token: %w", err)
	}
	ttl := s.cfg.RefreshTTL
	if g.client.RefreshTokenTTL > 0 {
		ttl = g.client.RefreshTokenTTL
	}
	rec := access
	rec.Digest = token.Digest(v)
	rec.Kind = store.KindRefresh
	rec.Format = store.FormatOpaque
	rec.Payload = ""
	rec.JTI = token.NewID()
	rec.IssuedAt = time.Unix(now.Unix(), 0)
	rec.ExpiresAt = rec.IssuedAt.Add(ttl)
	if (g.jkt != "" || g.x5t != "") && !refreshBound(g.client) {
		// RFC 9449 §5.0, RFC 8705 §4: a confidential client's refresh
		// token stays unbound; only the access token is.
		if rec.Claims, err = unbindClaims(rec.Claims); err != nil {
			return "", err
		}
	}
	if err := s.o.Store.CreateToken(ctx, rec); err != nil {
		return "", fmt.Errorf("store refresh token: %w", err)
	}
	return v, nil
}

// userClaims are the claims a token carries about its user: roles and the
// attributes the configuration names, nothing else (so PII stays in the
// store unless asked for).
func (s *Server) userClaims(u *store.User) map[string]any {
	m := map[string]any{}
	if u == nil {
		return m
	}
	if len(u.Roles) > 0 {
		m["roles"] = u.Roles
	}
	for _, a := range s.cfg.ClaimAttributes {
		// The configuration refuses these names; should one get
		// through, it must not pose as a claim we set (cnf above all).
		if token.Registered(a) {
			continue
		}
		if v, ok := u.Attrs[a]; ok {
			m[a] = v
		}
	}
	return m
}

// idToken mints the OpenID Connect ID token (Core §2, §3.1.3.6).
func (s *Server) idToken(g grant, accessToken string, now time.Time) (string, error) {
	iat := now.Unix()
	c := map[string]any{
		"iss":       s.cfg.Issuer,
		"sub":       g.user.ID,
		"aud":       g.client.ID,
		"azp":       g.client.ID,
		"iat":       iat,
		"exp":       iat + int64(s.cfg.IDTokenTTL/time.Second),
		"auth_time": g.authTime.Unix(),
	}
	if g.nonce != "" {
		c["nonce"] = g.nonce
	}
	if slices.Contains(g.scopes, "profile") {
		c["preferred_username"] = g.user.Username
	}
	alg := s.o.Keys.Alg(keys.UseID)
	if h := atHash(alg, accessToken); h != "" {
		c["at_hash"] = h
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("marshal id token: %w", err)
	}
	jws, err := s.o.Keys.Sign(keys.UseID, "JWT", payload)
	if err != nil {
		return "", fmt.Errorf("sign id token: %w", err)
	}
	return jws, nil
}

// atHash is OpenID Connect Core §3.1.3.6: the left half of the hash of the
// access token, with the hash of the ID token's algorithm. Algorithms
// without a defined hash get no at_hash (it is optional in the code flow).
func atHash(alg, accessToken string) string {
	switch alg {
	case "RS256", "ES256", "PS256":
		sum := sha256.Sum256([]byte(accessToken))
		return base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	return ""
}
