package server

import (
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/backendtoken"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/replay"
	"github.com/portcullis/portcullis/pkg/verify"
)

// newDPoPReplay is the gateway's DPoP replay cache (RFC 9449 §11.1):
// in the Redis of the rate limits when the node has one, so that a
// proof one node accepted is refused by every other; nil otherwise, and
// the gateway keeps one in memory, which is right for a single node.
// Keys go under the deployment's prefix ("pc:dpop:...").
func newDPoPReplay(cfg config.RateLimit, client redis.UniversalClient, now func() time.Time) verify.ReplayCache {
	if client == nil {
		return nil // not a nil *replay.Redis in a non-nil interface
	}
	return replay.NewRedis(client, replay.RedisConfig{
		Prefix:  cfg.Redis.Prefix,
		Timeout: time.Duration(cfg.Redis.Timeout),
		Now:     now,
	})
}

// newBackendTokenShared is where the gateway nodes share the tokens they
// obtain for upstreams (upstream_token): the Redis of the rate limits,
// under the deployment's prefix; nil (per node) without one.
func newBackendTokenShared(cfg config.RateLimit, client redis.UniversalClient) backendtoken.Shared {
	if client == nil {
		return nil
	}
	return backendtoken.NewRedisShared(client, cfg.Redis.Prefix)
}
