package ratelimit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// MemoryBlocks keeps blocks in this process only.
//
// Blocked takes a read lock, so the request path never waits on another
// reader; expired blocks are dropped by the next writer, List or a
// Blocked call that finds one, so the map holds only live blocks plus
// those nobody has asked about since they ended.
type MemoryBlocks struct {
	mu     sync.RWMutex
	blocks map[string]Block
}

var _ Blocks = (*MemoryBlocks)(nil)

// NewMemoryBlocks returns an empty block list.
func NewMemoryBlocks() *MemoryBlocks {
	return &MemoryBlocks{blocks: make(map[string]Block)}
}

// Block implements Blocks. A block replaces any earlier one of the same
// key, so a block whose end is already past lifts the key in effect, as
// in Redis (an expiry in the past deletes the key there). An empty key or
// a zero end returns an error wrapping ErrInvalidBlock and changes
// nothing.
func (m *MemoryBlocks) Block(ctx context.Context, b Block) error {
	if b.Key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidBlock)
	}
	if b.Until.IsZero() {
		return fmt.Errorf("%w: no end time", ErrInvalidBlock)
	}
	// Strip the monotonic reading so a block compares and prints the same
	// as one read back from Redis.
	b.Until = b.Until.Round(0)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[b.Key] = b
	return nil
}

// Blocked implements Blocks: a map lookup under a read lock. A block is in
// force while now is before Until.
func (m *MemoryBlocks) Blocked(key string, now time.Time) (Block, bool) {
	m.mu.RLock()
	b, ok := m.blocks[key]
	m.mu.RUnlock()
	if !ok {
		return Block{}, false
	}
	if now.Before(b.Until) {
		return b, true
	}
	m.mu.Lock()
	// Another writer may have replaced the block in between: drop it
	// only if the one held is still over.
	if cur, ok := m.blocks[key]; ok && !now.Before(cur.Until) {
		delete(m.blocks, key)
	}
	m.mu.Unlock()
	return Block{}, false
}

// List implements Blocks: the blocks in force at now, sorted by key.
// Blocks over at now are dropped.
func (m *MemoryBlocks) List(ctx context.Context, now time.Time) ([]Block, error) {
	m.mu.Lock()
	list := make([]Block, 0, len(m.blocks))
	for k, b := range m.blocks {
		if !now.Before(b.Until) {
			delete(m.blocks, k)
			continue
		}
		list = append(list, b)
	}
	m.mu.Unlock()
	slices.SortFunc(list, func(a, b Block) int { return cmp.Compare(a.Key, b.Key) })
	return list, nil
}

// Lift implements Blocks. Lifting a key that is not blocked is not an
// error; an empty key returns an error wrapping ErrInvalidBlock.
func (m *MemoryBlocks) Lift(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidBlock)
	}
	m.mu.Lock()
	delete(m.blocks, key)
	m.mu.Unlock()
	return nil
}
