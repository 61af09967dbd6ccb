package identity

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// MaxPasswordBytes is the longest password accepted, in bytes. Argon2
// pre-hashes its input, so the limit is not about cost but about refusing
// absurd request bodies with a clear error instead of hashing them.
const MaxPasswordBytes = 1024

// Errors of the Hasher. Callers test them with errors.Is.
var (
	// ErrPasswordTooLong means the password exceeds MaxPasswordBytes.
	ErrPasswordTooLong = errors.New("identity: password too long")
	// ErrMalformedHash means a stored password hash is not an argon2id PHC
	// string this package accepts, or its parameters are out of bounds.
	ErrMalformedHash = errors.New("identity: malformed password hash")
)

// The parameters of new hashes: the OWASP Password Storage Cheat Sheet
// minimum for argon2id (m=19 MiB, t=2, p=1), as DESIGN.md chose.
const (
	hashMemoryKiB = 19 * 1024
	hashTime      = 2
	hashThreads   = 1
	hashSaltLen   = 16
	hashKeyLen    = 32
)

// Bounds on the parameters Verify accepts from a stored hash. They are
// generous enough for any sane hash yet stop a corrupted or planted row
// from making one login allocate gigabytes or spin for minutes.
const (
	maxMemoryKiB = 1024 * 1024 // 1 GiB
	maxTime      = 10
	maxThreads   = 16
	minSaltLen   = 8 // RFC 9106 §3.1: salt at least 8 bytes
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

// phcPrefix starts every hash this package writes or reads. Version 19
// (0x13) is argon2 v1.3; older versions have a known weakness and are
// refused rather than silently supported.
const phcPrefix = "$argon2id$v=19$"

// argonParams are the cost parameters of one hash.
type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
}

// Hasher hashes passwords with argon2id (m=19 MiB, t=2, p=1) and bounds how
// many hashes run at once, so a login flood cannot exhaust memory.
//
// Use NewHasher: the zero Hasher works but does not bound concurrency.
type Hasher struct {
	// sem holds one token per hash in progress.
	sem chan struct{}
}

// NewHasher returns a hasher allowing concurrency hashes at once (≤0 means
// the number of CPUs).
func NewHasher(concurrency int) *Hasher {
	if concurrency <= 0 {
		concurrency = runtime.NumCPU()
	}
	return &Hasher{sem: make(chan struct{}, concurrency)}
}

// Hash returns the PHC string of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("%w (limit %d bytes)", ErrPasswordTooLong, MaxPasswordBytes)
	}
	salt := make([]byte, hashSaltLen)
	_, _ = rand.Read(salt) // never fails since Go 1.24
	p := argonParams{memory: hashMemoryKiB, time: hashTime, threads: hashThreads}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, hashKeyLen)
	h.release()
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded.
//
// A malformed hash, or one whose parameters exceed the bounds above, is an
// error wrapping ErrMalformedHash; a password over MaxPasswordBytes is an
// error wrapping ErrPasswordTooLong. Neither error ever contains the
// password or the hash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	if len(password) > MaxPasswordBytes {
		return false, fmt.Errorf("%w (limit %d bytes)", ErrPasswordTooLong, MaxPasswordBytes)
	}
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.time, p.memory, p.threads, uint32(len(want)))
	h.release()
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// acquire waits for a hashing slot or for ctx to end. A context that has
// already ended never gets a slot, even when one is free, so a cancelled
// login does no work.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("identity: wait for a hashing slot: %w", err)
	}
	if h.sem == nil {
		return nil
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("identity: wait for a hashing slot: %w", ctx.Err())
	}
}

func (h *Hasher) release() {
	if h.sem != nil {
		<-h.sem
	}
}

// encodePHC formats a hash in the PHC string format that the reference
// argon2 implementation and libsodium write: unpadded standard base64.
func encodePHC(p argonParams, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("%sm=%d,t=%d,p=%d$%s$%s", phcPrefix, p.memory, p.time, p.threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses "$argon2id$v=19$m=<m>,t=<t>,p=<p>$<salt>$<hash>" and
// checks every parameter against the bounds. The parameters must appear in
// that order, as the PHC string format specifies for argon2; optional
// keyid/data parameters are not supported and refused.
func decodePHC(s string) (argonParams, []byte, []byte, error) {
	var p argonParams
	rest, ok := strings.CutPrefix(s, phcPrefix)
	if !ok {
		return p, nil, nil, fmt.Errorf("%w: not an argon2id v=19 PHC string", ErrMalformedHash)
	}
	fields := strings.Split(rest, "$")
	if len(fields) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want parameters, salt and hash", ErrMalformedHash)
	}
	params := strings.Split(fields[0], ",")
	if len(params) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want exactly m, t and p", ErrMalformedHash)
	}
	m, err := phcUint(params[0], "m", maxMemoryKiB)
	if err != nil {
		return p, nil, nil, err
	}
	t, err := phcUint(params[1], "t", maxTime)
	if err != nil {
		return p, nil, nil, err
	}
	threads, err := phcUint(params[2], "p", maxThreads)
	if err != nil {
		return p, nil, nil, err
	}
	// RFC 9106 §3.1: memory must be at least 8 KiB per lane.
	if m < 8*threads {
		return p, nil, nil, fmt.Errorf("%w: m must be at least 8*p", ErrMalformedHash)
	}
	b64 := base64.RawStdEncoding.Strict()
	salt, err := b64.DecodeString(fields[1])
	if err != nil || len(salt) < minSaltLen || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("%w: salt must be %d to %d bytes of unpadded base64", ErrMalformedHash, minSaltLen, maxSaltLen)
	}
	key, err := b64.DecodeString(fields[2])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: hash must be %d to %d bytes of unpadded base64", ErrMalformedHash, minKeyLen, maxKeyLen)
	}
	p = argonParams{memory: uint32(m), time: uint32(t), threads: uint8(threads)}
	return p, salt, key, nil
}

// phcUint parses one "name=value" parameter as a decimal in [1, max].
func phcUint(field, name string, max uint64) (uint64, error) {
	v, ok := strings.CutPrefix(field, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: want parameter %s", ErrMalformedHash, name)
	}
	// The PHC format forbids signs and leading zeros: ParseUint refuses
	// signs, the second test refuses padding like "m=019456".
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil || (len(v) > 1 && v[0] == '0') {
		return 0, fmt.Errorf("%w: parameter %s is not a decimal number", ErrMalformedHash, name)
	}
	if n < 1 || n > max {
		return 0, fmt.Errorf("%w: parameter %s out of range [1, %d]", ErrMalformedHash, name, max)
	}
	return n, nil
}

// dummyHash returns a hash that no password matches, with the parameters
// of new hashes, so that checking a password against it costs exactly what
// checking a real one does. Its key is random bytes, not derived from any
// password: a match would need a 256-bit collision.
func dummyHash() string {
	salt := make([]byte, hashSaltLen)
	key := make([]byte, hashKeyLen)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(key)
	return encodePHC(argonParams{memory: hashMemoryKiB, time: hashTime, threads: hashThreads}, salt, key)
}
