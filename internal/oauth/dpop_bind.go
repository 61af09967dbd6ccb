package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/pkg/verify"
)

// claimCnf is the confirmation claim (RFC 7800 §3.1): a DPoP-bound token
// carries {"jkt": thumbprint} (RFC 9449 §6.1), a certificate-bound one
// {"x5t#S256": thumbprint} (RFC 8705 §3.1), a token bound both ways
// both. It is kept in the stored token's claims, so every form of the
// token (JWT, split, phantom, introspection) is made from the same
// record.
const claimCnf = "cnf"

// confirmation is what a token is bound to; empty fields mean unbound.
type confirmation struct {
	// JKT is the DPoP key's RFC 7638 thumbprint (RFC 9449 §6.1).
	JKT string `json:"jkt,omitempty"`
	// X5T is the client certificate's SHA-256 thumbprint (RFC 8705 §3.1).
	X5T string `json:"x5t#S256,omitempty"`
}

// cnfClaim is the cnf value of a token bound to b.
func cnfClaim(b confirmation) map[string]any {
	m := make(map[string]any, 2)
	if b.JKT != "" {
		m["jkt"] = b.JKT
	}
	if b.X5T != "" {
		m["x5t#S256"] = b.X5T
	}
	return m
}

// takeCnf removes cnf from a token's decoded extra claims and returns
// what it binds the token to, empty for a token bound to nothing.
func takeCnf(extra map[string]any) confirmation {
	v, ok := extra[claimCnf]
	if !ok {
		return confirmation{}
	}
	delete(extra, claimCnf)
	m, _ := v.(map[string]any)
	jkt, _ := m["jkt"].(string)
	x5t, _ := m["x5t#S256"].(string)
	return confirmation{JKT: jkt, X5T: x5t}
}

// boundTo is what a stored token is bound to.
func boundTo(claims []byte) (confirmation, error) {
	if len(claims) == 0 {
		return confirmation{}, nil
	}
	var c struct {
		Cnf confirmation `json:"cnf"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return confirmation{}, fmt.Errorf("stored claims: %w", err)
	}
	return c.Cnf, nil
}

// unbindClaims returns claims without cnf.
func unbindClaims(claims []byte) ([]byte, error) {
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(claims, &m); err != nil {
		return nil, fmt.Errorf("stored claims: %w", err)
	}
	delete(m, claimCnf)
	return json.Marshal(m)
}

// refreshBound reports whether c's refresh tokens are bound to the DPoP
// key or client certificate of the request that got them. RFC 9449 §5
// and RFC 8705 §4: a public client's are, since nothing else holds them
// to the client; a confidential client's are not, as its own
// authentication already sender-constrains them and it may change keys
// or renew its certificate.
func refreshBound(c store.Client) bool { return c.AuthMethod == store.AuthNone }

// proofKey is the thumbprint a token issued for p is bound to: "" when
// the request carried no proof.
func proofKey(p *verify.DPoPProof) string {
	if p == nil {
		return ""
	}
	return p.Thumbprint
}

// requireKey refuses a code or refresh token bound to the key want (""
// for none) unless the request's proof p is signed with that key (RFC
// 9449 §5.0 for refresh tokens, §10 for codes). what names the grant in
// the description.
func (d *dpopChecker) requireKey(want string, p *verify.DPoPProof, what string) error {
	if want == "" {
		return nil
	}
	if p == nil {
		d.refused.WithLabelValues("missing").Inc()
		return badRequest(errInvalidGrant, what+" is bound to a DPoP key: the request needs a DPoP proof")
	}
	if subtle.ConstantTimeCompare([]byte(p.Thumbprint), []byte(want)) != 1 {
		d.refused.WithLabelValues("wrong_key").Inc()
		return badRequest(errInvalidGrant, what+" is bound to another DPoP key")
	}
	return nil
}

// checkRefreshKey applies requireKey and requireCert to a public
// client's refresh token before it is used. Marking it used first would let whoever holds a
// stolen bound token, without its key, make the rightful client's next
// refresh look like reuse and so revoke its grant. A token that is not
// found, or not this client's, is left for UseRefreshToken to refuse.
func (s *Server) checkRefreshKey(ctx context.Context, digest []byte, c store.Client, p *verify.DPoPProof, cert string) error {
	t, err := s.o.Store.GetToken(ctx, digest)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return s.serverError(ctx, "read refresh token", err)
	}
	if t.Kind != store.KindRefresh || t.ClientID != c.ID {
		return nil
	}
	b, err := boundTo(t.Claims)
	if err != nil {
		return s.serverError(ctx, "refresh token binding", err)
	}
	if e := requireCert(b.X5T, cert, "the refresh token"); e != nil {
		return e
	}
	return s.dpop.requireKey(b.JKT, p, "the refresh token")
}

// parseDPoPJKT reads the dpop_jkt parameter of an authorization request
// (RFC 9449 §10): the base64url SHA-256 thumbprint of the key the code
// will be bound to, so exactly 43 characters that decode to 32 bytes.
func parseDPoPJKT(p url.Values) (string, error) {
	jkt := p.Get("dpop_jkt")
	if jkt == "" {
		if p.Has("dpop_jkt") {
			return "", badRequest(errInvalidRequest, "dpop_jkt must not be empty")
		}
		return "", nil
	}
	if len(jkt) != 43 || !validChallengeChars(jkt) {
		return "", badRequest(errInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	if b, err := base64.RawURLEncoding.Strict().DecodeString(jkt); err != nil || len(b) != 32 {
		return "", badRequest(errInvalidRequest, "dpop_jkt must be a base64url SHA-256 JWK thumbprint")
	}
	return jkt, nil
}

// bindClaims sets the cnf of a new access token's extra claims to b, or
// removes it when b is empty: the binding is always this request's proof
// and certificate, never one carried over from other claims (an
// exchanged token's, say). It returns extra, made when nil.
func bindClaims(extra map[string]any, b confirmation) map[string]any {
	if b == (confirmation{}) {
		delete(extra, claimCnf)
		return extra
	}
	if extra == nil {
		extra = map[string]any{}
	}
	extra[claimCnf] = cnfClaim(b)
	return extra
}
