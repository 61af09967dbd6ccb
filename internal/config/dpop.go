package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/pkg/verify"
)

// DPoP configures DPoP (RFC 9449) at the authorization server's token
// endpoint. A token request with a DPoP proof always gets a DPoP-bound
// token; these fields say how proofs are checked.
type DPoP struct {
	// RequireNonce makes the token endpoint ask every proof for a nonce
	// of its own (RFC 9449 §8): a proof without a current one is refused
	// with use_dpop_nonce and a fresh nonce in the DPoP-Nonce header.
	// False (the default) accepts proofs without a nonce.
	RequireNonce bool `yaml:"require_nonce"`
	// NonceLifetime is the rotation step of the server's nonces: a nonce
	// stays good for the step it was handed out in and the next, so
	// between NonceLifetime and twice that. Zero means 5m.
	NonceLifetime Duration `yaml:"nonce_lifetime"`
	// ProofMaxAge is how old a proof's iat may be (RFC 9449 §11.1); every
	// accepted proof is remembered this long to refuse a replay. Zero
	// means 1m.
	ProofMaxAge Duration `yaml:"proof_max_age"`
	// Algorithms are the proof signature algorithms accepted, and
	// advertised as dpop_signing_alg_values_supported. Empty means every
	// asymmetric algorithm of verify.DPoPAlgorithms.
	Algorithms []string `yaml:"algorithms"`
}

// The DPoP defaults, as the field comments state them.
const (
	defaultDPoPNonceLifetime = 5 * time.Minute
	defaultDPoPProofMaxAge   = verify.DefaultDPoPMaxAge
)

// ApplyDefaults fills every zero field with its default;
// Config.ApplyDefaults calls it. Algorithms stays empty: it means every
// algorithm verify accepts, and a later release that accepts more need
// not rewrite the file.
func (d *DPoP) ApplyDefaults() {
	setDuration(&d.NonceLifetime, defaultDPoPNonceLifetime)
	setDuration(&d.ProofMaxAge, defaultDPoPProofMaxAge)
}

// dpop checks the dpop section.
func (v *validator) dpop() {
	d := v.c.DPoP
	const f = "dpop."
	// Below 10s a nonce could expire between the answer that carries it
	// and the retry; past 1h it stops limiting precomputed proofs.
	v.duration(f+"nonce_lifetime", d.NonceLifetime, duration.Bounds{Min: 10 * time.Second, Max: time.Hour})
	// The window both bounds the replay cache and tolerates slow
	// clients; RFC 9449 §11.1 asks for a short one.
	v.duration(f+"proof_max_age", d.ProofMaxAge, duration.Bounds{Min: 5 * time.Second, Max: 10 * time.Minute,
		Why: " (RFC 9449 §11.1: proofs are made just before they are sent)"})
	for i, alg := range d.Algorithms {
		field := fmt.Sprintf("%salgorithms[%d]", f, i)
		switch {
		case !slices.Contains(verify.DPoPAlgorithms, alg):
			v.add(field, fmt.Sprintf("%q is not one of %v (RFC 9449 §4.3: asymmetric algorithms only)", alg, verify.DPoPAlgorithms), nil)
		case slices.Contains(d.Algorithms[:i], alg):
			v.add(field, fmt.Sprintf("%q is listed twice", alg), nil)
		}
	}
}
