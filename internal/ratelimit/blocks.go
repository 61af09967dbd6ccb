package ratelimit

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// Block is a key (a client or a user) refused outright until Until, set by
// an abuse rule or an operator.
type Block struct {
	Key    string    `json:"key"`
	Until  time.Time `json:"until"`
	Reason string    `json:"reason"`
}

// Blocks stores blocks. Blocked is on every request's path, so it must be
// a local lookup: the Redis implementation mirrors blocks into memory and
// learns of new ones through pub/sub, so every node enforces a block set
// by any node within moments.
type Blocks interface {
	Block(ctx context.Context, b Block) error
	Blocked(key string, now time.Time) (Block, bool)
	List(ctx context.Context, now time.Time) ([]Block, error)
	Lift(ctx context.Context, key string) error
}

// MemoryBlocks keeps blocks in this process only.
type MemoryBlocks struct{}

var _ Blocks = (*MemoryBlocks)(nil)

// NewMemoryBlocks returns an empty block list.
func NewMemoryBlocks() *MemoryBlocks { panic("todo") }

// Block implements Blocks.
func (m *MemoryBlocks) Block(ctx context.Context, b Block) error { panic("todo") }

// Blocked implements Blocks.
func (m *MemoryBlocks) Blocked(key string, now time.Time) (Block, bool) { panic("todo") }

// List implements Blocks.
func (m *MemoryBlocks) List(ctx context.Context, now time.Time) ([]Block, error) { panic("todo") }

// Lift implements Blocks.
func (m *MemoryBlocks) Lift(ctx context.Context, key string) error { panic("todo") }

// RedisBlocks shares blocks across nodes: SET with expiry plus PUBLISH,
// mirrored in memory by a subscriber started with Start.
type RedisBlocks struct{}

var _ Blocks = (*RedisBlocks)(nil)

// NewRedisBlocks returns blocks under prefix ("pc:block:" when empty).
func NewRedisBlocks(client redis.UniversalClient, prefix string) *RedisBlocks { panic("todo") }

// Start loads the current blocks and follows changes until ctx ends.
func (r *RedisBlocks) Start(ctx context.Context) error { panic("todo") }

// Block implements Blocks.
func (r *RedisBlocks) Block(ctx context.Context, b Block) error { panic("todo") }

// Blocked implements Blocks.
func (r *RedisBlocks) Blocked(key string, now time.Time) (Block, bool) { panic("todo") }

// List implements Blocks.
func (r *RedisBlocks) List(ctx context.Context, now time.Time) ([]Block, error) { panic("todo") }

// Lift implements Blocks.
func (r *RedisBlocks) Lift(ctx context.Context, key string) error { panic("todo") }
