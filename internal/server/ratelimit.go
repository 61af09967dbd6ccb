package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/store"
)

// limiter is the rate-limit backend and block list of this node.
type limiter struct {
	backend ratelimit.Backend
	blocks  ratelimit.Blocks
}

// newLimiter builds the configured backend: memory for one node, Redis
// (with the memory backend as the fallback of limits marked local) for a
// cluster. client is the Redis client of the settings (newRedisClient),
// nil unless the backend is redis; the wiring owns and closes it. ctx
// bounds the Redis block subscriber.
func newLimiter(ctx context.Context, cfg config.RateLimit, client redis.UniversalClient, logger *slog.Logger) (*limiter, error) {
	mem := ratelimit.NewMemory(ratelimit.MemoryConfig{MaxKeys: cfg.Memory.MaxKeys})
	if cfg.Backend != "redis" || client == nil {
		return &limiter{backend: mem, blocks: ratelimit.NewMemoryBlocks()}, nil
	}
	// The ratelimit package names its own component in its loggers.
	blocks := ratelimit.NewRedisBlocks(client, cfg.Redis.Prefix+"block:", logger)
	if err := blocks.Start(ctx); err != nil {
		// The follower keeps retrying with backoff and reloads every block
		// once Redis answers; limits fall back per their on_backend_error
		// meanwhile.
		logger.Warn("rate-limit blocks not loaded from Redis yet; retrying in the background", "component", "ratelimit", "err", err)
	}
	backend := ratelimit.NewRedis(client, ratelimit.RedisConfig{
		Prefix:  cfg.Redis.Prefix + "rl:",
		Timeout: time.Duration(cfg.Redis.Timeout),
	}, mem, logger)
	return &limiter{backend: backend, blocks: blocks}, nil
}

// storeRevoker revokes a client's or user's tokens in the authorization
// server's store, for abuse rules with revoke_tokens (on one node, or any
// node sharing the database).
type storeRevoker struct {
	db      *store.DB
	notices *revocations
}

// RevokeTokens revokes every token of clientID, or of its user subject,
// and announces each batch to the gateways.
func (r storeRevoker) RevokeTokens(ctx context.Context, clientID, subject string) (int64, error) {
	return r.db.RevokeTokensOfEach(ctx, clientID, subject, r.notices.tokensRevoked)
}
