package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
)

// requestIDs makes request ids cheaply: a per-process random prefix and
// a counter. They are unique, not secret, so nothing on the hot path needs
// fresh randomness or a lock.
type requestIDs struct {
	prefix [16]byte // hex of 8 random bytes
	n      atomic.Uint64
}

func newRequestIDs() (*requestIDs, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	g := &requestIDs{}
	hex.Encode(g.prefix[:], b[:])
	return g, nil
}

// next returns "<prefix>-<counter>" in 33 bytes of lower-case hex.
func (g *requestIDs) next() string {
	const digits = "0123456789abcdef"
	var buf [33]byte
	copy(buf[:16], g.prefix[:])
	buf[16] = '-'
	v := g.n.Add(1)
	for i := 32; i > 16; i-- {
		buf[i] = digits[v&0xf]
		v >>= 4
	}
	return string(buf[:])
}

// maxRequestIDLen bounds a request id accepted from a trusted proxy.
const maxRequestIDLen = 128

// validRequestID reports whether a proxy-supplied id is safe to forward
// and to log: short, visible ASCII without quotes, backslashes or commas.
func validRequestID(s string) bool {
	if s == "" || len(s) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == ',' {
			return false
		}
	}
	return true
}
