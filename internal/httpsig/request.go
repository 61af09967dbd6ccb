package httpsig

import (
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// Why a signed request is refused, for errors.Is: each is one reason a
// verifier can count and log. A malformed field is ErrSignatureFields
// or ErrComponent, a signature that does not verify ErrSignature, a
// body that does not match its digest ErrDigest.
var (
	// ErrNotSigned: neither Signature-Input nor Signature is there.
	ErrNotSigned = errors.New("httpsig: the request is not signed")
	// ErrUncovered: a component the policy requires is not covered.
	ErrUncovered = errors.New("httpsig: the signature does not cover a required component")
	// ErrExpired: created longer ago than the policy allows, or past
	// the signature's own expires.
	ErrExpired = errors.New("httpsig: the signature is too old or has expired")
	// ErrNotYetValid: created further in the future than clock skew
	// explains.
	ErrNotYetValid = errors.New("httpsig: the signature was created in the future")
	// ErrUnknownKey: no usable key has the signature's keyid.
	ErrUnknownKey = errors.New("httpsig: no usable key has the signature's keyid")
	// ErrAlgorithm: the alg parameter names an algorithm that is
	// refused (hmac-sha256) or is not the key's.
	ErrAlgorithm = errors.New("httpsig: the signature's algorithm is refused or is not the key's")
)

// Defaults of RequestPolicy.
const (
	// DefaultRequestLabel is the label a client gives its signature
	// unless told otherwise, and the one Accept-Signature asks for.
	DefaultRequestLabel = "sig"
	// DefaultMaxAge is how long ago a signature may have been created.
	DefaultMaxAge = time.Minute
	// DefaultClockSkew is how far ahead of the verifier's clock a
	// signer's may run.
	DefaultClockSkew = 5 * time.Second
)

// RequestPolicy is what a verifier of signed requests demands beyond a
// signature that verifies: RFC 9421 §3.2.1 leaves to the application
// which signature it reads, what it must cover and how fresh it must
// be. The zero value takes the only signature, requires nothing but
// content-digest for a request with content, and a created time within
// DefaultMaxAge back and DefaultClockSkew ahead. Safe for concurrent use
// once set up.
type RequestPolicy struct {
	// Label picks the signature; empty takes the only one there is.
	Label string
	// Required are the components the signature must cover (none with
	// req, RFC 9421 §2.4). content-digest is required for a request
	// with content whether it is listed or not, and not for one
	// without: without it the content would not be signed.
	Required []Component
	// MaxAge bounds how long ago created may be; zero means
	// DefaultMaxAge.
	MaxAge time.Duration
	// ClockSkew bounds how far in the future created may be; zero means
	// DefaultClockSkew.
	ClockSkew time.Duration
}

// SignedRequest is a request's signature as received, with the policy
// checked but not the signature itself: the caller finds the key that
// KeyID names, then calls Verify.
type SignedRequest struct {
	Input *Input
	sig   []byte
}

// contentDigest is the component that binds a request's content.
var contentDigest = Component{Name: "content-digest"}

// ParseRequest reads the signature of a request's fields h and checks it
// against p at now, before any key is looked up: the fields parse, the
// required components (and content-digest when hasContent) are covered,
// created is inside the window and expires is not past, keyid is there
// and alg, when present, is an algorithm of RequestAlgorithms. Nonce
// and tag are read but not checked: replay within the window is not
// detected here.
func (p *RequestPolicy) ParseRequest(h http.Header, hasContent bool, now time.Time) (*SignedRequest, error) {
	inLines, sigLines := h.Values("Signature-Input"), h.Values("Signature")
	if len(inLines) == 0 && len(sigLines) == 0 {
		return nil, ErrNotSigned
	}
	in, sig, err := ParseFields(inLines, sigLines, p.Label)
	if err != nil {
		return nil, err
	}
	covered := make(map[string]bool, len(in.Components))
	for _, c := range in.Components {
		// Base refuses these too; saying so here names the cause
		// before a key is fetched for nothing.
		if c.Req || c.Name == Status {
			return nil, fmt.Errorf("%w: %s is a response's component (RFC 9421 §2.4)", ErrComponent, c)
		}
		covered[c.key()] = true
	}
	for _, c := range p.Required {
		if !covered[c.key()] && (c.key() != contentDigest.key() || hasContent) {
			return nil, fmt.Errorf("%w: %s", ErrUncovered, c)
		}
	}
	if hasContent && !covered[contentDigest.key()] {
		return nil, fmt.Errorf("%w: %s (the request has content)", ErrUncovered, contentDigest)
	}
	if err := p.checkParams(in.Params, now); err != nil {
		return nil, err
	}
	return &SignedRequest{Input: in, sig: sig}, nil
}

// checkParams checks keyid, alg and the times (RFC 9421 §3.2.1).
func (p *RequestPolicy) checkParams(ps Params, now time.Time) error {
	maxAge, skew := p.MaxAge, p.ClockSkew
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	switch {
	case ps.KeyID == "":
		return fmt.Errorf("%w: no keyid parameter: the key cannot be found", ErrSignatureFields)
	case ps.Alg != "" && !slices.Contains(RequestAlgorithms(), ps.Alg):
		// hmac-sha256 above all: Portcullis holds no client secrets
		// to check it with.
		return fmt.Errorf("%w: alg %q is not one of %v", ErrAlgorithm, ps.Alg, RequestAlgorithms())
	case ps.Created.IsZero():
		// RFC 9421 §7.2.2: without created the age of a signature is
		// unknown, and any captured request could be replayed forever.
		return fmt.Errorf("%w: no created parameter", ErrSignatureFields)
	case ps.Created.After(now.Add(skew)):
		return ErrNotYetValid
	case now.Sub(ps.Created) > maxAge:
		return fmt.Errorf("%w: created more than %s ago", ErrExpired, maxAge)
	case !ps.Expires.IsZero() && !now.Before(ps.Expires):
		return fmt.Errorf("%w: past its expires", ErrExpired)
	}
	return nil
}

// KeyID is the signature's keyid parameter.
func (s *SignedRequest) KeyID() string { return s.Input.Params.KeyID }

// CoversDigest reports whether the signature covers content-digest: the
// caller must then check the content against it (CheckContentDigest),
// or the signature says nothing about the content.
func (s *SignedRequest) CoversDigest() bool {
	return slices.ContainsFunc(s.Input.Components, func(c Component) bool { return c.key() == contentDigest.key() })
}

// Verify checks the signature over r, the request as received, with pub.
// The algorithm is the key's (AlgorithmFor); an alg parameter naming
// another is refused (RFC 9421 §3.2 step 5).
func (s *SignedRequest) Verify(r *Request, pub crypto.PublicKey) error {
	alg := AlgorithmFor(pub)
	if alg == "" {
		return fmt.Errorf("%w: the key is of no supported type", ErrAlgorithm)
	}
	if a := s.Input.Params.Alg; a != "" && a != alg {
		return fmt.Errorf("%w: alg %q, but the key is %s", ErrAlgorithm, a, alg)
	}
	base, err := Base(&Message{Header: r.Header, Request: r}, s.Input)
	if err != nil {
		return err
	}
	return Verify(alg, pub, base, s.sig)
}
