// Package identity knows end users: it hashes and checks passwords
// (argon2id), keeps browser login sessions, protects forms against CSRF and
// renders the login and consent pages of the authorization server.
//
// It must never log a password, a session id or a CSRF token, and never
// serve a page that can be framed.
//
// The concepts live one per file: password.go (Hasher), users.go (Users),
// sessions.go (Sessions), csrf.go (CSRF) and pages.go (Pages and the
// embedded templates). In-memory stores for tests are in identitytest.
package identity

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
)

// ErrBadCredentials means the username or password is wrong (which of the
// two is never told).
var ErrBadCredentials = errors.New("identity: bad credentials")

// ErrUnchecked marks an ErrBadCredentials returned before any lookup or
// hashing (an empty password, or one over MaxPasswordBytes). Such a
// refusal costs nothing to repeat, so it must not feed the login
// Throttle: counting it would let junk requests fill the throttle's
// tables under names chosen at will.
var ErrUnchecked = errors.New("identity: refused before any check")

// errUncheckedCredentials is both ErrBadCredentials and ErrUnchecked.
var errUncheckedCredentials = fmt.Errorf("%w: %w", ErrBadCredentials, ErrUnchecked)

// randomToken returns n bytes from crypto/rand as unpadded base64url, the
// shape of every browser-held secret of this package (session and CSRF
// cookies).
func randomToken(n int) string {
	b := make([]byte, n)
	// crypto/rand.Read never fails since Go 1.24: it crashes the program
	// rather than return predictable bytes, which is the fail-closed
	// behaviour we want.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeToken decodes a browser-held value made by randomToken(n) and
// reports whether it has exactly that shape, so malformed cookies are
// refused before they reach the store or the HMAC.
func decodeToken(s string, n int) ([]byte, bool) {
	if len(s) != base64.RawURLEncoding.EncodedLen(n) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != n {
		return nil, false
	}
	return b, true
}
