package fieldrules

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// sealer encrypts a field: seal returns the JWE compact serialization
// (RFC 7516 §7.1) of plain as a JSON string token, quotes included. buf
// is scratch space it may use and grow.
type sealer interface {
	seal(plain []byte, buf *[]byte) (string, error)
}

var (
	_ sealer = (*dirSealer)(nil)
	_ sealer = (*ClientKey)(nil)
)

// dirSealer seals fields under a shared key: alg dir, enc A256GCM. It
// is what go-jose makes of that recipient, built once per rule rather
// than per field: the protected header is fixed, so it is encoded once,
// and the AES key schedule is expanded once. Safe for concurrent use
// (the AEAD holds no state after construction).
type dirSealer struct {
	aead cipher.AEAD
	// aad is the encoded protected header, the additional data of the
	// content encryption (RFC 7516 §5.1 step 14, compact: no JWE AAD).
	aad []byte
	// prefix is a token's opening quote, the protected header and the
	// empty encrypted key (RFC 7518 §4.5: dir has none).
	prefix string
}

// nonceSize and tagSize are A256GCM's (RFC 7518 §5.3): a 96-bit IV and
// a 128-bit tag.
const (
	nonceSize = 12
	tagSize   = 16
)

// newDirSealer checks key and prepares to seal under it. RFC 7518 §4.5:
// dir uses the shared key as the content key.
func newDirSealer(key []byte, kid string) (*dirSealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("key: must be %d bytes, not %d", KeySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	// Random 96-bit IVs from crypto/rand, as go-jose drew them, with
	// the same bound: 2^32 fields per key.
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	// go-jose's protected header for this recipient, byte for byte:
	// its members in name order, HTML characters escaped.
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Cty string `json:"cty"`
		Enc string `json:"enc"`
		Kid string `json:"kid,omitempty"`
	}{string(jose.DIRECT), "json", string(jose.A256GCM), kid})
	if err != nil {
		return nil, fmt.Errorf("key id: %w", err)
	}
	header := base64.RawURLEncoding.EncodeToString(h)
	return &dirSealer{aead: aead, aad: []byte(header), prefix: `"` + header + ".."}, nil
}

func (s *dirSealer) seal(plain []byte, buf *[]byte) (string, error) {
	// Seal writes the IV, the ciphertext and the tag, in that order.
	raw := s.aead.Seal((*buf)[:0], nil, plain, s.aad)
	*buf = raw
	iv, ct, tag := raw[:nonceSize], raw[nonceSize:len(raw)-tagSize], raw[len(raw)-tagSize:]
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(len(s.prefix) + enc.EncodedLen(len(iv)) + enc.EncodedLen(len(ct)) + enc.EncodedLen(len(tag)) + 3)
	b.WriteString(s.prefix)
	writeBase64(&b, iv)
	b.WriteByte('.')
	writeBase64(&b, ct)
	b.WriteByte('.')
	writeBase64(&b, tag)
	b.WriteByte('"')
	return b.String(), nil
}

// writeBase64 writes p in unpadded base64url, through a small buffer:
// 48-byte chunks encode to 64 characters without padding, so the chunks
// concatenate.
func writeBase64(b *strings.Builder, p []byte) {
	var chunk [64]byte
	for len(p) > 0 {
		n := min(len(p), 48)
		base64.RawURLEncoding.Encode(chunk[:], p[:n])
		b.Write(chunk[:base64.RawURLEncoding.EncodedLen(n)])
		p = p[n:]
	}
}

// seal seals to the client's key, with a fresh content key (and, for
// ECDH-ES, ephemeral key) per field.
func (k *ClientKey) seal(plain []byte, _ *[]byte) (string, error) {
	obj, err := k.enc.Encrypt(plain)
	if err != nil {
		return "", err
	}
	c, err := obj.CompactSerialize()
	if err != nil {
		return "", err
	}
	return `"` + c + `"`, nil
}
