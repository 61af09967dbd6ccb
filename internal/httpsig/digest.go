package httpsig

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/dunglas/httpsfv"
)

// ErrDigest is returned when a Content-Digest does not match the
// content, or has no sha-256 member to check.
var ErrDigest = errors.New("httpsig: Content-Digest does not match the content")

// ContentDigest is the Content-Digest field value for content (RFC 9530
// §2): its sha-256 digest as a structured-field dictionary,
// "sha-256=:base64:".
func ContentDigest(content []byte) string {
	d := sha256.Sum256(content)
	dict := httpsfv.NewDictionary()
	dict.Add("sha-256", httpsfv.NewItem(d[:]))
	s, err := httpsfv.Marshal(dict)
	if err != nil {
		// Unreachable: a fixed key and a byte sequence always serialize.
		panic("httpsig: Content-Digest: " + err.Error())
	}
	return s
}

// CheckContentDigest checks content against the Content-Digest field
// lines given: their sha-256 member must be there and match (RFC 9530
// §3; other algorithms are ignored, and sha-256 is the one required).
func CheckContentDigest(lines []string, content []byte) error {
	if len(lines) == 0 {
		return fmt.Errorf("%w: no Content-Digest", ErrDigest)
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return fmt.Errorf("%w: Content-Digest is not a dictionary", ErrDigest)
	}
	m, ok := d.Get("sha-256")
	if !ok {
		return fmt.Errorf("%w: no sha-256 member", ErrDigest)
	}
	it, ok := m.(httpsfv.Item)
	got, ok2 := it.Value.([]byte)
	if !ok || !ok2 {
		return fmt.Errorf("%w: sha-256 is not a byte sequence", ErrDigest)
	}
	want := sha256.Sum256(content)
	if subtle.ConstantTimeCompare(got, want[:]) != 1 {
		return ErrDigest
	}
	return nil
}
