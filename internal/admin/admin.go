// Package admin is the admin API under /admin/v1 on the admin listener:
// OAuth clients, users, signing keys, the audit trail, quota state per
// client and the abuse blocks of the gateway, described by an OpenAPI 3.1
// document it serves.
//
// Callers authenticate with access tokens of this installation's issuer
// (admin roles are the admin:* scopes, checked per route from one table,
// routes.go) or with the break-glass token from the environment. Every
// write names its caller as the audit actor.
//
// It is built from finished parts through small interfaces (a block list,
// a quota reader, the registry's services), after the node has built them,
// so no handler reaches into a half-built node. It must never answer
// without a valid admin credential, never echo a credential, never reveal
// an internal error's text to the caller, and never reach the store
// directly.
package admin

import (
	"errors"
	"fmt"
	"math"
)

// TokenEnv names the environment variable holding the break-glass bearer
// token of the admin API. Unset, break-glass access is off; the API then
// answers only access tokens of the issuer (when a TokenVerifier is set),
// and without either the admin listener serves only the probes and
// metrics.
const TokenEnv = "PORTCULLIS_ADMIN_TOKEN"

// MinTokenLen is the shortest admin token accepted: it guards lifting
// blocks and reading every client's quota.
const MinTokenLen = 32

// minTokenBits is the least entropy CheckToken accepts, estimated from the
// token's own character frequencies: 128 bits, what `openssl rand -base64
// 32` gives with room to spare.
const minTokenBits = 128

// ErrWeakToken: the admin token is too short or too regular to be a
// random value.
var ErrWeakToken = errors.New("weak admin token")

// CheckToken reports whether token is fit to guard the admin API: at least
// MinTokenLen characters and about 128 bits of entropy, estimated as the
// token's length times the Shannon entropy of its character frequencies.
// A long run of one character, a repeated word or a short alphabet fails;
// a generated value (openssl rand -base64 32, or 64 hex digits) passes.
// The error never quotes the token.
func CheckToken(token string) error {
	if len(token) < MinTokenLen {
		return fmt.Errorf("%w: %s must hold at least %d characters (generate one: openssl rand -base64 32)", ErrWeakToken, TokenEnv, MinTokenLen)
	}
	if bits := estimatedBits(token); bits < minTokenBits {
		return fmt.Errorf("%w: %s holds about %.0f bits of entropy, want at least %d (generate one: openssl rand -base64 32)", ErrWeakToken, TokenEnv, bits, minTokenBits)
	}
	return nil
}

// estimatedBits is len(s) times the Shannon entropy (bits per byte) of the
// byte frequencies of s: an upper bound on what the string can carry, and
// a low one for anything typed by hand.
func estimatedBits(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h * n
}
