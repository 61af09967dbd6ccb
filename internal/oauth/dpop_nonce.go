package oauth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"
)

// nonceSource makes and checks the server's DPoP nonces (RFC 9449 §8)
// without storing any: a nonce is the HMAC of a time step, so every node
// holding the same key hands out and accepts the same nonces, and a
// restart forgets nothing. A nonce is accepted in the step it belongs to
// and the next (rotation, §8.2), so it lasts between one and two steps.
//
// Nonces are not per client: anyone may learn the current one by asking.
// They exist to bound when a proof can have been made (§11.2), which an
// attacker able to precompute proofs on a client cannot get around.
type nonceSource struct {
	key   []byte
	label []byte
	step  time.Duration
}

// nonceBytes is the HMAC prefix a nonce carries: 144 bits cannot be
// guessed, and in base64url it is 24 characters.
const nonceBytes = 18

func newNonceSource(key []byte, issuer string, step time.Duration) (*nonceSource, error) {
	if len(key) < 32 {
		return nil, errors.New("oauth: dpop nonce key must be at least 32 bytes")
	}
	if step < time.Second {
		return nil, errors.New("oauth: dpop nonce lifetime must be at least 1s")
	}
	// The issuer is in every MAC, so two issuers that share a master
	// key do not accept each other's nonces.
	return &nonceSource{key: key, label: []byte("portcullis dpop nonce v1\x00" + issuer + "\x00"), step: step}, nil
}

// index is the step t falls in.
func (n *nonceSource) index(t time.Time) int64 {
	return t.UnixNano() / int64(n.step)
}

func (n *nonceSource) forStep(i int64) string {
	m := hmac.New(sha256.New, n.key)
	m.Write(n.label)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	m.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:nonceBytes])
}

// at is the nonce to hand out at t.
func (n *nonceSource) at(t time.Time) string { return n.forStep(n.index(t)) }

// valid reports whether nonce is the one of t's step or of the step
// before. The comparisons take the same time whatever the input.
func (n *nonceSource) valid(nonce string, t time.Time) bool {
	i := n.index(t)
	cur := hmac.Equal([]byte(nonce), []byte(n.forStep(i)))
	prev := hmac.Equal([]byte(nonce), []byte(n.forStep(i-1)))
	return cur || prev
}
