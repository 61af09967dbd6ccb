package ratelimit

import (
	"context"
	"time"
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
