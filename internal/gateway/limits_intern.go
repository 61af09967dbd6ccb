package gateway

import (
	"hash/maphash"
	"sync/atomic"
)

// interner maps byte strings built on the request path (limit keys, block
// keys, RateLimit header values) to values made from them once, so a
// caller seen before costs a hash and two atomic loads: no allocation, no
// lock, no write to memory other requests read. It is a fixed table of
// slots (two candidates per hash), so it is bounded however many values
// an attacker makes up (a header, an address): a new value replaces an
// old one, which is simply made again when it comes back.
type interner[T any] struct {
	seed  maphash.Seed
	mask  uint64
	make  func(string) T
	slots []atomic.Pointer[internEntry[T]]
}

type internEntry[T any] struct {
	key string
	val T
}

// newInterner returns an interner of at least size slots (a power of two).
func newInterner[T any](size int, mk func(string) T) *interner[T] {
	n := 2
	for n < size {
		n <<= 1
	}
	return &interner[T]{seed: maphash.MakeSeed(), mask: uint64(n - 1), make: mk, slots: make([]atomic.Pointer[internEntry[T]], n)}
}

// get returns the value for b, making it on first sight. b is not
// retained.
func (in *interner[T]) get(b []byte) T {
	h := maphash.Bytes(in.seed, b)
	i := h & in.mask
	j := i ^ 1
	if e := in.slots[i].Load(); e != nil && e.key == string(b) {
		return e.val
	}
	if e := in.slots[j].Load(); e != nil && e.key == string(b) {
		return e.val
	}
	s := string(b)
	e := &internEntry[T]{key: s, val: in.make(s)}
	// Another bit of the hash picks which candidate to replace, so two
	// values that share a pair of slots most often keep one each.
	if h>>63 != 0 {
		i = j
	}
	in.slots[i].Store(e)
	return e.val
}

// internedString and internedHeader are the two makers.
func internedString(s string) string   { return s }
func internedHeader(s string) []string { return []string{s} }
