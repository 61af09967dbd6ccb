package verify

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// proofAlgorithmsDefault are the DPoP proof algorithms a middleware
// accepts when ProofOfPossession names none: those of tokens.
var proofAlgorithmsDefault = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}

// proofAlgorithmsAllowed are those it may name: asymmetric only (RFC
// 9449 §4.3 step 5).
var proofAlgorithmsAllowed = []string{"ES256", "ES384", "ES512", "RS256", "PS256", "PS384", "PS512", "EdDSA"}

// errProofUnavailable: a DPoP proof could not be checked (its replay
// cache failed). Fail closed.
var errProofUnavailable = errors.New("verify: dpop proof cannot be checked")

// ProofOfPossession turns on DPoP (RFC 9449) in a middleware, for a
// backend that clients call directly with DPoP-bound tokens. With it, a
// token bound to a key (cnf.jkt) is accepted only with the DPoP scheme
// and a valid proof signed with that key (§7.1); presented as Bearer it
// is refused (§7.2). Proofs are checked with VerifyDPoPProof.
type ProofOfPossession struct {
	// Required refuses tokens that are not bound to a DPoP key. False
	// accepts them with the Bearer scheme.
	Required bool
	// RequestURL returns the URL the client addressed, which the
	// proof's htu must name (§4.3 step 9). Nil means one built from the
	// request itself: https when it came over TLS, else http, then
	// r.Host and the path. A backend behind a proxy that changes the
	// scheme, host or path must set it (from its own configuration, not
	// from headers a client could send).
	RequestURL func(r *http.Request) string
	// Algorithms are the accepted proof algorithms. Empty means ES256,
	// ES384, RS256, PS256 and EdDSA; ES512, PS384 and PS512 may be added.
	Algorithms []string
	// MaxAge is how old a proof may be; zero means the default of
	// VerifyDPoPProof.
	MaxAge time.Duration
	// Leeway is the clock skew allowed on a proof's iat; zero means the
	// default of VerifyDPoPProof.
	Leeway time.Duration
	// Nonce, when set, checks each proof's nonce ("" when it has none);
	// an error refuses the proof with use_dpop_nonce (§9).
	Nonce func(nonce string) error
	// NewNonce, when set, returns the nonce to send in DPoP-Nonce with
	// a use_dpop_nonce refusal (§9).
	NewNonce func() string
	// Replay remembers accepted proofs so none is used twice (§11.1).
	// Nil means NewMemoryReplayCache(0), which serves one process only:
	// several replicas need a shared one.
	Replay ReplayCache
}

// possession is a checked ProofOfPossession.
type possession struct {
	required   bool
	requestURL func(*http.Request) string
	algs       []string
	maxAge     time.Duration
	leeway     time.Duration
	nonce      func(string) error
	newNonce   func() string
	replay     ReplayCache
	now        func() time.Time
}

func newPossession(cfg ProofOfPossession, v *Verifier) (*possession, error) {
	p := &possession{
		required:   cfg.Required,
		requestURL: cfg.RequestURL,
		algs:       slices.Clone(cfg.Algorithms),
		maxAge:     cfg.MaxAge,
		leeway:     cfg.Leeway,
		nonce:      cfg.Nonce,
		newNonce:   cfg.NewNonce,
		replay:     cfg.Replay,
		now:        v.cfg.Now,
	}
	if len(p.algs) == 0 {
		p.algs = slices.Clone(proofAlgorithmsDefault)
	}
	for _, a := range p.algs {
		if !slices.Contains(proofAlgorithmsAllowed, a) {
			return nil, fmt.Errorf("verify: dpop: algorithm %q is not allowed for proofs", a)
		}
	}
	if p.maxAge < 0 || p.leeway < 0 {
		return nil, errors.New("verify: dpop: max age and leeway must not be negative")
	}
	if p.requestURL == nil {
		p.requestURL = requestURLOf
	}
	if p.replay == nil {
		p.replay = NewMemoryReplayCache(0)
	}
	return p, nil
}

// requestURLOf is the URL a request was addressed to, as far as the
// request itself tells.
func requestURLOf(r *http.Request) string {
	s := "http"
	if r.TLS != nil {
		s = "https"
	}
	return s + "://" + r.Host + r.URL.EscapedPath()
}

// bindingError is a sender constraint a request does not meet. It wraps
// ErrBinding; its description is fixed text, safe to send.
type bindingError struct {
	description string
	// wantDPoP: the DPoP scheme is what would have worked, so the
	// challenge names it.
	wantDPoP bool
}

func (e *bindingError) Error() string { return ErrBinding.Error() + ": " + e.description }

func (e *bindingError) Unwrap() error { return ErrBinding }

// check enforces DPoP binding on a request whose token verified as c.
func (p *possession) check(r *http.Request, tok string, s scheme, c *Claims) error {
	jkt := c.Confirmation.JWKThumbprint
	if s == schemeBearer {
		switch {
		case jkt != "":
			// RFC 9449 §7.2: a bound token is useless without its proof;
			// accepting it as Bearer would undo the binding.
			return &bindingError{wantDPoP: true, description: "the access token is bound to a DPoP key; present it with the DPoP scheme and a proof"}
		case p.required:
			return &bindingError{wantDPoP: true, description: "this resource requires a DPoP-bound access token"}
		}
		return nil
	}
	if jkt == "" {
		// §7.1: the DPoP scheme is for bound tokens only.
		return &bindingError{wantDPoP: true, description: "the access token is not bound to a DPoP key"}
	}
	// §4.3 step 1: exactly one proof.
	proofs := r.Header.Values("DPoP")
	if len(proofs) != 1 {
		return &DPoPError{Code: DPoPCodeInvalidProof, Description: "send exactly one DPoP header", Reason: DPoPMalformed}
	}
	proof, err := VerifyDPoPProof(r.Context(), proofs[0], DPoPOptions{
		Method:      r.Method,
		URL:         p.requestURL(r),
		AccessToken: tok,
		Algorithms:  p.algs,
		MaxAge:      p.maxAge,
		Leeway:      p.leeway,
		Now:         p.now,
		Nonce:       p.nonce,
		Replay:      p.replay,
	})
	if err != nil {
		if de := (*DPoPError)(nil); errors.As(err, &de) {
			return de
		}
		return fmt.Errorf("%w: %w", errProofUnavailable, err)
	}
	// §7.1: the proof's key must be the key the token is bound to.
	if subtle.ConstantTimeCompare([]byte(proof.Thumbprint), []byte(jkt)) != 1 {
		return &bindingError{wantDPoP: true, description: "the DPoP proof is signed with another key than the one the access token is bound to"}
	}
	return nil
}
