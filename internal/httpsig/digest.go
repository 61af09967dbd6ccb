package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/dunglas/httpsfv"
)

// ErrDigest is returned when a Content-Digest does not match the
// content, or has no member this package can check.
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

// digesters are the algorithms of the Hash Algorithms for HTTP Digest
// Fields registry (RFC 9530 §7.2) marked "Active": the only ones
// checked. The deprecated ones (md5, sha, unixsum, ...) are ignored.
var digesters = map[string]func([]byte) []byte{
	"sha-256": func(b []byte) []byte { d := sha256.Sum256(b); return d[:] },
	"sha-512": func(b []byte) []byte { d := sha512.Sum512(b); return d[:] },
}

// CheckContentDigest checks content against the Content-Digest field
// lines given (RFC 9530 §3): at least one sha-256 or sha-512 member must
// be there, and every such member must match. A member under another
// algorithm is ignored; one that does not match fails the whole field
// rather than be outvoted, since a sender that lists two digests of
// different content is not to be believed about either.
func CheckContentDigest(lines []string, content []byte) error {
	if len(lines) == 0 {
		return fmt.Errorf("%w: no Content-Digest", ErrDigest)
	}
	d, err := httpsfv.UnmarshalDictionary(lines)
	if err != nil {
		return fmt.Errorf("%w: Content-Digest is not a dictionary", ErrDigest)
	}
	checked := 0
	for _, alg := range d.Names() {
		sum, known := digesters[alg]
		if !known {
			continue
		}
		m, _ := d.Get(alg)
		it, ok := m.(httpsfv.Item)
		got, ok2 := it.Value.([]byte)
		if !ok || !ok2 {
			return fmt.Errorf("%w: %s is not a byte sequence", ErrDigest, alg)
		}
		if subtle.ConstantTimeCompare(got, sum(content)) != 1 {
			return ErrDigest
		}
		checked++
	}
	if checked == 0 {
		return fmt.Errorf("%w: no sha-256 or sha-512 member", ErrDigest)
	}
	return nil
}
