package token

import (
	"encoding/json"
)

// TypeAccessJWT is the "typ" header of JWT access tokens (RFC 9068 §2.1):
// the JWTs a client may hold and present.
const TypeAccessJWT = "at+jwt"

// TypePhantomJWT is the "typ" header of the JWTs that stay inside: the
// phantom token introspection answers for an opaque token, and the JWT a
// split token is reassembled into. Their claims are an access token's,
// but RFC 8725 §3.11 asks for a distinct type wherever one kind of JWT
// could be mistaken for another: the gateway refuses this type from
// clients (whoever got hold of one, a backend's log say, cannot replay
// it past a revocation of the token it stands for), while its resolvers
// and the backends behind it accept it.
const TypePhantomJWT = "phantom+jwt"

// AccessClaims are the claims of a JWT access token (RFC 9068 §2.2) and of
// the phantom token the introspection endpoint returns.
type AccessClaims struct {
	Issuer   string
	Subject  string
	Audience []string
	// ExpiresAt, IssuedAt and AuthTime are Unix seconds; AuthTime is zero
	// for tokens no user authenticated for.
	ExpiresAt int64
	IssuedAt  int64
	AuthTime  int64
	JTI       string
	ClientID  string
	Scope     string
	// Act is the RFC 8693 §4.1 actor claim of an exchanged token (the
	// current actor, with prior actors nested); nil when no one acts for
	// the subject. It is registered, so Extra can never forge or drop it.
	Act map[string]any
	// JKT is the RFC 7638 thumbprint of the DPoP key the token is bound
	// to (RFC 9449 §6.1), written as cnf.jkt; empty for a bearer token.
	// cnf is registered, so Extra can never forge or drop a binding.
	JKT string
	// X5T is the RFC 8705 §3.1 SHA-256 thumbprint of the client
	// certificate the token is bound to, written as cnf["x5t#S256"];
	// empty for a token not bound to a certificate.
	X5T string
	// Extra are further claims (roles, configured user attributes). A key
	// that collides with a registered claim above is ignored.
	Extra map[string]any
}

// registered lists the claims AccessClaims sets itself; Extra cannot
// override them.
var registered = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "iat": true, "nbf": true,
	"jti": true, "client_id": true, "scope": true, "auth_time": true,
	// RFC 8693 §4.1 and §4.4: who acts, and who may, are decided by the
	// token exchange alone, never by a user attribute.
	"act": true, "may_act": true,
	// RFC 7800 §3.1, RFC 9449 §6: the key a token is bound to.
	"cnf": true,
}

// Registered reports whether name is a claim AccessClaims sets itself,
// which no extra claim may take the place of.
func Registered(name string) bool { return registered[name] }

// Map returns the claims as a JSON-ready map.
func (c AccessClaims) Map() map[string]any {
	m := make(map[string]any, 10+len(c.Extra))
	for k, v := range c.Extra {
		if !registered[k] {
			m[k] = v
		}
	}
	m["iss"] = c.Issuer
	m["sub"] = c.Subject
	// RFC 7519 §4.1.3: a single audience may be a plain string.
	if len(c.Audience) == 1 {
		m["aud"] = c.Audience[0]
	} else {
		m["aud"] = c.Audience
	}
	m["exp"] = c.ExpiresAt
	m["iat"] = c.IssuedAt
	m["nbf"] = c.IssuedAt
	m["jti"] = c.JTI
	m["client_id"] = c.ClientID
	if c.Scope != "" {
		m["scope"] = c.Scope
	}
	if c.AuthTime != 0 {
		m["auth_time"] = c.AuthTime
	}
	if c.Act != nil {
		m["act"] = c.Act
	}
	if c.JKT != "" || c.X5T != "" {
		cnf := make(map[string]any, 2)
		if c.JKT != "" {
			cnf["jkt"] = c.JKT
		}
		if c.X5T != "" {
			cnf["x5t#S256"] = c.X5T
		}
		m["cnf"] = cnf
	}
	return m
}

// MarshalJSON encodes the claims as one flat JSON object.
func (c AccessClaims) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.Map())
}

// ExtraFromJSON decodes a stored JSON object of extra claims; empty input
// gives an empty map.
func ExtraFromJSON(b []byte) (map[string]any, error) {
	m := map[string]any{}
	if len(b) == 0 {
		return m, nil
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}
