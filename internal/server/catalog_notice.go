package server

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/backoff"
	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/publish"
)

// Catalog notices: with Redis configured (the rate-limit backend's
// server, ratelimit.backend: redis), every committed catalog apply
// publishes its revision on one channel and every gateway subscribed to
// it syncs at once instead of at its next poll. Pub/sub is
// fire-and-forget, so a notice only triggers the usual revision check:
// polling stays the fallback, and a gateway that (re)subscribes syncs
// once, as it may have missed notices meanwhile.

// catalogNoticeChannel follows the rate-limit Redis prefix.
const catalogNoticeChannel = "catalog:revision"

// Bounds of the subscriber's backoff and its idle probe, as the
// rate-limit blocks follower's.
const (
	noticeRetryMin = time.Second
	noticeRetryMax = 30 * time.Second
	noticePing     = 30 * time.Second
	// noticeTimeout bounds one PUBLISH: the apply is committed already
	// and must not wait on a slow Redis.
	noticeTimeout = 2 * time.Second
)

// newRedisClient is the client of the rate-limit Redis settings; nil
// when the backend is not redis (then catalog sync is by polling only).
func newRedisClient(cfg config.RateLimit, getenv func(string) string) redis.UniversalClient {
	if cfg.Backend != "redis" {
		return nil
	}
	var password string
	if cfg.Redis.PasswordEnv != "" {
		password = getenv(cfg.Redis.PasswordEnv)
	}
	return redis.NewClient(&redis.Options{
		Addr:         cfg.Redis.Addr,
		Password:     password,
		DB:           cfg.Redis.DB,
		DialTimeout:  2 * time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		PoolSize:     64,
		// Deadlines of the backend's contexts bound socket reads too.
		ContextTimeoutEnabled: true,
	})
}

// noticeChannel is the catalog channel under the configured prefix.
func noticeChannel(prefix string) string { return noticeChannelOf(prefix, catalogNoticeChannel) }

// noticeChannelOf is channel under the configured prefix.
func noticeChannelOf(prefix, channel string) string {
	if prefix == "" {
		prefix = "pc:"
	}
	return prefix + channel
}

// redisNotifier publishes catalog notices.
type redisNotifier struct {
	client  redis.UniversalClient
	channel string
	logger  *slog.Logger
}

var _ publish.Notifier = (*redisNotifier)(nil)

// newRedisNotifier returns nil (no notices) without a client.
func newRedisNotifier(client redis.UniversalClient, prefix string, logger *slog.Logger) publish.Notifier {
	if client == nil {
		return nil
	}
	return &redisNotifier{client: client, channel: noticeChannel(prefix), logger: logger.With("component", "catalog")}
}

// CatalogChanged publishes the revision. A failure is logged, not
// returned: the write is committed and gateways' polls catch up.
func (n *redisNotifier) CatalogChanged(ctx context.Context, revision int64) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	defer cancel()
	if err := n.client.Publish(ctx, n.channel, strconv.FormatInt(revision, 10)).Err(); err != nil {
		n.logger.Warn("catalog change not announced on redis; gateways pick it up on their next poll", "revision", revision, "err", err)
	}
}

// noticeFollower follows one Redis pub/sub channel: deliver gets each
// message's payload, and resync runs on every (re)subscription, since
// messages published while no subscription stood are lost for good
// (pub/sub keeps nothing). Catalog notices and revocation notices both
// ride on it.
type noticeFollower struct {
	client  redis.UniversalClient
	channel string
	// what names the notices in log lines ("catalog notices").
	what string
	// fallback says in a log line what holds while the channel cannot be
	// followed.
	fallback string
	resync   func()
	deliver  func(payload string)
	logger   *slog.Logger

	retry, retryMax, ping time.Duration
	jitter                func(n int64) int64
}

// newNoticeFollower follows catalog notices: every notice, and every
// (re)subscription, kicks the gateway's catalog sync.
func newNoticeFollower(client redis.UniversalClient, prefix string, kick func(), logger *slog.Logger) *noticeFollower {
	return &noticeFollower{
		client: client, channel: noticeChannel(prefix),
		what: "catalog notices", fallback: "the gateway syncs on its poll only until it answers",
		resync: kick, deliver: func(string) { kick() },
		logger: logger.With("component", "catalog"),
		retry:  noticeRetryMin, retryMax: noticeRetryMax, ping: noticePing,
		jitter: rand.Int64N,
	}
}

// run follows notices until ctx ends, subscribing again with backoff
// whenever the connection is lost.
func (f *noticeFollower) run(ctx context.Context) {
	for attempt := 0; ; {
		ps, stop, err := f.subscribe(ctx)
		if ctx.Err() != nil {
			if err == nil {
				stop()
				_ = ps.Close()
			}
			return
		}
		if err == nil {
			if attempt > 0 {
				f.logger.Info("following "+f.what+" in redis again", "attempts", attempt+1)
			}
			attempt = 0
			// Notices may have been missed before this subscription.
			f.resync()
			f.receive(ctx, ps)
			stop()
			_ = ps.Close()
			if ctx.Err() != nil {
				return
			}
		} else {
			f.logger.Warn("cannot follow "+f.what+" in redis; "+f.fallback,
				"attempt", attempt+1, "err", err)
		}
		if !backoff.Sleep(ctx, f.backoff(attempt)) {
			return
		}
		attempt++
	}
}

// subscribe subscribes and waits for the confirmation. Until stop is
// called, ctx ending closes the subscription: a blocked read does not
// notice a cancelled context, and shutdown waits for this goroutine.
//
// The closure closes its own local sub, never a result variable: the
// error path's return writes nil to those, and a cancellation that has
// already started the closure would read them concurrently.
func (f *noticeFollower) subscribe(ctx context.Context) (*redis.PubSub, func() bool, error) {
	sub := f.client.Subscribe(ctx, f.channel)
	stop := context.AfterFunc(ctx, func() { _ = sub.Close() })
	if _, err := sub.ReceiveTimeout(ctx, f.ping); err != nil {
		stop()
		_ = sub.Close()
		return nil, nil, err
	}
	return sub, stop, nil
}

// receive delivers each message until the connection is lost or ctx
// ends; a silent connection is probed with PING once per interval.
func (f *noticeFollower) receive(ctx context.Context, ps *redis.PubSub) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, f.ping)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ps.Ping(ctx) == nil {
				pinged = true
				continue
			}
			return
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			f.deliver(m.Payload)
		case *redis.Subscription:
			// A resubscription by go-redis may follow missed notices.
			f.resync()
		}
	}
}

// backoff is the wait after failed attempt n (from 0): retry doubled n
// times, capped at retryMax, jittered down by up to half.
func (f *noticeFollower) backoff(n int) time.Duration {
	return backoff.Delay(n, f.retry, f.retryMax, f.jitter)
}
