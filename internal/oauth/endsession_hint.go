package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/token"
)

// idTokenHint is what an id_token_hint tells the end-session endpoint
// once it has verified: whose session it names and for which client
// (OpenID Connect RP-Initiated Logout 1.0 §2).
type idTokenHint struct {
	Subject  string
	ClientID string
	// AuthTime is the auth_time claim in Unix seconds, 0 when absent. The
	// server's ID tokens carry the auth time of the login session they
	// were issued in (Sessions.Start records it, refreshes keep it), and
	// no sid claim, so auth_time is what ties a hint to one login session.
	AuthTime int64
}

// errBadHint is every reason an id_token_hint is refused; the detail
// goes to the log only.
var errBadHint = errors.New("id_token_hint refused")

// hintAlgs are the algorithms ID-token keys may have (keys.checkAlg). A
// hint is verified against the ID-token keys alone, and VerifyJWS also
// skips a key whose alg differs from the token's.
var hintAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256, jose.EdDSA}

// verifyIDTokenHint checks that raw is an ID token this server issued:
// signed by one of its published ID-token keys, with typ JWT as
// idToken signs it, and with this issuer as iss.
//
// Expiry is not checked: RP-Initiated Logout 1.0 §4 asks the OP to
// accept an expired ID token as a hint, since an RP often asks for logout
// long after its ID token expired. That is safe because a hint grants
// nothing: it only names a user and a client, and skips the confirmation
// only for the very login session it was issued in (see endSession).
func (s *Server) verifyIDTokenHint(raw string) (idTokenHint, error) {
	payload, err := token.VerifyJWS(raw, s.o.Keys.KeySetFor(keys.UseID), hintAlgs, "JWT")
	if err != nil {
		return idTokenHint{}, fmt.Errorf("%w: %w", errBadHint, err)
	}
	var c struct {
		Iss      string          `json:"iss"`
		Sub      string          `json:"sub"`
		Aud      json.RawMessage `json:"aud"`
		Azp      string          `json:"azp"`
		AuthTime int64           `json:"auth_time"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return idTokenHint{}, fmt.Errorf("%w: claims: %w", errBadHint, err)
	}
	// The ID-token keys are ours, but iss still decides: a node with the
	// same keys behind another issuer URL (a renamed host) issued tokens
	// that are not for this one (OpenID Connect Core §3.1.3.7 step 2).
	if c.Iss != s.cfg.Issuer {
		return idTokenHint{}, fmt.Errorf("%w: issuer %q is not this server", errBadHint, c.Iss)
	}
	if c.Sub == "" {
		return idTokenHint{}, fmt.Errorf("%w: no sub", errBadHint)
	}
	client, err := hintClient(c.Aud, c.Azp)
	if err != nil {
		return idTokenHint{}, err
	}
	return idTokenHint{Subject: c.Sub, ClientID: client, AuthTime: c.AuthTime}, nil
}

// hintClient is the client an ID token was issued to: its aud, a string
// or an array (OpenID Connect Core §2). With several audiences the azp
// names the client and must be one of them (Core §3.1.3.7 steps 3–5);
// idToken issues a single one, so that is for tokens of other shapes.
func hintClient(raw json.RawMessage, azp string) (string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil && one != "" {
		return one, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil || len(many) == 0 || slices.Contains(many, "") {
		return "", fmt.Errorf("%w: aud is not a client", errBadHint)
	}
	if len(many) == 1 {
		return many[0], nil
	}
	if azp == "" || !slices.Contains(many, azp) {
		return "", fmt.Errorf("%w: several audiences and no azp among them", errBadHint)
	}
	return azp, nil
}
