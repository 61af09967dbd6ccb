package ratelimit

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/backoff"
)

// ErrInvalidBlock reports a block that cannot be stored: an empty key or
// no end time. Nothing is written.
var ErrInvalidBlock = errors.New("ratelimit: invalid block")

// defaultBlockPrefix starts every block key when NewRedisBlocks is given
// no prefix.
const defaultBlockPrefix = "pc:block:"

// blockRetryMin and blockRetryMax bound the follower's wait before it
// asks Redis again after a failed subscription: the wait doubles from the
// first to the second with each failure, so a dead Redis costs one
// attempt per interval and not a busy loop, and a Redis back costs at
// most blockRetryMax of deafness.
const (
	blockRetryMin = time.Second
	blockRetryMax = 30 * time.Second
)

// blockPing is how long the subscription may stay silent before the
// follower checks it with a PING: a peer gone without closing the
// connection would otherwise leave the node deaf to new blocks.
const blockPing = 30 * time.Second

// RedisBlocks shares blocks across nodes: SET with expiry plus PUBLISH,
// mirrored in memory by a subscriber started with Start.
//
// A block is the JSON of Block under prefix+key, expiring at Until (PXAT),
// so Redis forgets it on its own. Changes are published on the channel
// prefix+"changes" carrying the whole block, so followers apply them
// without another round trip. Pub/sub is fire-and-forget: a follower that
// loses its connection misses messages, so every (re)subscription is
// followed by a full reload from the keys, and the keys stay the source of
// truth.
type RedisBlocks struct {
	client  redis.UniversalClient
	prefix  string
	channel string
	logger  *slog.Logger

	mu     sync.RWMutex
	blocks map[string]Block

	// retry and retryMax bound the follower's backoff between
	// subscription attempts (see backoff); ping is how long a silent
	// connection goes before the follower checks it is alive.
	retry, retryMax, ping time.Duration
	// sleep waits d unless ctx ends first and reports whether to go on;
	// jitter returns a number in [0, n). Tests replace both so retries
	// run without waiting.
	sleep  func(ctx context.Context, d time.Duration) bool
	jitter func(n int64) int64

	// applied, when set by a test, is called after the follower applied a
	// message or a reload, so tests wait for delivery instead of sleeping.
	applied func()
}

var _ Blocks = (*RedisBlocks)(nil)

// blockChange is one pub/sub message: a block set (Block non-nil) or
// lifted (Lift holds the key).
type blockChange struct {
	Block *Block `json:"block,omitempty"`
	Lift  string `json:"lift,omitempty"`
}

// NewRedisBlocks returns blocks under prefix ("pc:block:" when empty).
// logger (nil discards) gets the follower's connection and reload
// failures, with component "ratelimit".
func NewRedisBlocks(client redis.UniversalClient, prefix string, logger *slog.Logger) *RedisBlocks {
	if prefix == "" {
		prefix = defaultBlockPrefix
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &RedisBlocks{
		client:   client,
		prefix:   prefix,
		channel:  prefix + "changes",
		logger:   logger.With("component", "ratelimit"),
		blocks:   make(map[string]Block),
		retry:    blockRetryMin,
		retryMax: blockRetryMax,
		ping:     blockPing,
		sleep:    backoff.Sleep,
		jitter:   rand.Int64N,
	}
}

// Start loads the current blocks and follows changes until ctx ends.
//
// It returns once the first subscription is confirmed and the blocks are
// loaded, or with the error that kept either from happening; the caller
// should then not serve as if no one were blocked, but the follower is
// running all the same: it keeps trying, with backoff, and loads every
// block once Redis answers. Following goes on in a goroutine that ends
// with ctx. Subscribing before loading means no change published in
// between is missed.
func (r *RedisBlocks) Start(ctx context.Context) error {
	ps, err := r.subscribe(ctx)
	go r.follow(ctx, ps)
	return err
}

// subscribe subscribes to the channel, waits for the confirmation and then
// loads every block, so the mirror misses nothing from then on.
func (r *RedisBlocks) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.client.Subscribe(ctx, r.channel)
	if _, err := ps.ReceiveTimeout(ctx, r.ping); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("ratelimit: subscribe to blocks: %w", err)
	}
	if err := r.reload(ctx); err != nil {
		_ = ps.Close()
		return nil, err
	}
	return ps, nil
}

// follow applies published changes until ctx ends, starting from ps (nil
// when the first subscription failed). Whenever the connection is lost it
// subscribes again, with backoff until it succeeds, and reloads: pub/sub
// does not replay what was published meanwhile. Until then the mirror
// keeps the blocks it had.
func (r *RedisBlocks) follow(ctx context.Context, ps *redis.PubSub) {
	for {
		if ps != nil {
			r.receive(ctx, ps)
			_ = ps.Close()
		}
		if ps = r.resubscribe(ctx); ps == nil {
			return
		}
		r.notify()
	}
}

// resubscribe subscribes and reloads, waiting backoff(n) before attempt
// n, until it succeeds (it returns the subscription) or ctx ends (nil).
func (r *RedisBlocks) resubscribe(ctx context.Context) *redis.PubSub {
	for attempt := 0; ; attempt++ {
		if !r.sleep(ctx, r.backoff(attempt)) {
			return nil
		}
		ps, err := r.subscribe(ctx)
		if err == nil {
			r.logger.Info("ratelimit: following blocks in redis again", "attempts", attempt+1)
			return ps
		}
		if ctx.Err() != nil {
			return nil
		}
		r.logger.Warn("ratelimit: cannot follow blocks in redis; blocks set by other nodes are not seen until it answers",
			"attempt", attempt+1, "err", err)
	}
}

// backoff is the wait before subscription attempt n (from 0): retry
// doubled n times, capped at retryMax, then jittered down by up to half so
// nodes that lost Redis together do not come back in step.
func (r *RedisBlocks) backoff(n int) time.Duration {
	return backoff.Delay(n, r.retry, r.retryMax, r.jitter)
}

// receive applies messages from ps until its connection is lost, a reload
// fails, or ctx ends. A connection silent for a ping interval is probed
// with PING, and given up if the next interval brings no answer either, so
// a peer that vanished without closing the connection is noticed.
func (r *RedisBlocks) receive(ctx context.Context, ps *redis.PubSub) {
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, r.ping)
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
		pinged = false // any reply, a PONG included, proves the link
		reload := false
		switch m := msg.(type) {
		case *redis.Subscription:
			// go-redis redialled and resubscribed on its own: messages
			// may have been missed while the connection was down.
			reload = true
		case *redis.Message:
			// An unreadable message may have been a block: fail closed
			// by rereading the source of truth.
			reload = !r.apply(m.Payload)
		}
		if reload {
			if err := r.reload(ctx); err != nil {
				// The mirror may be missing blocks: start over, which
				// subscribes and reloads again with backoff.
				r.logger.Warn("ratelimit: reloading blocks from redis failed; resubscribing", "err", err)
				return
			}
		}
		r.notify()
	}
}

// notify tells a test that the follower applied something.
func (r *RedisBlocks) notify() {
	if r.applied != nil {
		r.applied()
	}
}

// apply applies one published change to the mirror; it reports whether
// the payload was understood.
func (r *RedisBlocks) apply(payload string) bool {
	var c blockChange
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		return false
	}
	switch {
	case c.Block != nil && c.Block.Key != "":
		r.mu.Lock()
		r.blocks[c.Block.Key] = *c.Block
		r.mu.Unlock()
	case c.Lift != "":
		r.mu.Lock()
		delete(r.blocks, c.Lift)
		r.mu.Unlock()
	default:
		return false
	}
	return true
}

// reload replaces the mirror with the blocks stored in Redis.
func (r *RedisBlocks) reload(ctx context.Context) error {
	list, err := r.load(ctx)
	if err != nil {
		return err
	}
	m := make(map[string]Block, len(list))
	for _, b := range list {
		m[b.Key] = b
	}
	r.mu.Lock()
	r.blocks = m
	r.mu.Unlock()
	return nil
}

// load reads every stored block. On Redis Cluster the keys are spread over
// the masters, so each is scanned.
func (r *RedisBlocks) load(ctx context.Context) ([]Block, error) {
	var (
		mu   sync.Mutex
		list []Block
	)
	scan := func(ctx context.Context, c redis.UniversalClient) error {
		var keys []string
		iter := c.Scan(ctx, 0, globEscape(r.prefix)+"*", 256).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return fmt.Errorf("ratelimit: scan blocks: %w", err)
		}
		got, err := r.get(ctx, c, keys)
		if err != nil {
			return err
		}
		mu.Lock()
		list = append(list, got...)
		mu.Unlock()
		return nil
	}
	var err error
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return scan(ctx, c)
		})
	} else {
		err = scan(ctx, r.client)
	}
	if err != nil {
		return nil, err
	}
	return list, nil
}

// get reads keys in one pipelined round trip (MGET would fail across
// Cluster slots). Keys that vanished in between are skipped; values that
// are not blocks are skipped too, since they cannot be enforced anyway.
func (r *RedisBlocks) get(ctx context.Context, c redis.UniversalClient, keys []string) ([]Block, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.Get(ctx, k)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("ratelimit: read blocks: %w", err)
	}
	list := make([]Block, 0, len(keys))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			continue
		}
		var b Block
		if json.Unmarshal([]byte(v), &b) != nil || b.Key != keys[i][len(r.prefix):] {
			continue
		}
		list = append(list, b)
	}
	return list, nil
}

// Block implements Blocks. The block takes effect on this node at once and
// on the others when the published change reaches them (moments). A block
// replaces any earlier one of the same key.
func (r *RedisBlocks) Block(ctx context.Context, b Block) error {
	if b.Key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidBlock)
	}
	if b.Until.IsZero() {
		return fmt.Errorf("%w: no end time", ErrInvalidBlock)
	}
	b.Until = b.Until.Round(0) // strip the monotonic reading, as JSON would
	v, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("ratelimit: encode block: %w", err)
	}
	msg, err := json.Marshal(blockChange{Block: &b})
	if err != nil {
		return fmt.Errorf("ratelimit: encode block: %w", err)
	}
	// SET with PXAT lets Redis forget the block when it ends; an end
	// already past deletes the key, which is what a past block means.
	if err := r.client.SetArgs(ctx, r.prefix+b.Key, v, redis.SetArgs{ExpireAt: b.Until}).Err(); err != nil {
		return fmt.Errorf("ratelimit: store block: %w", err)
	}
	r.mu.Lock()
	r.blocks[b.Key] = b
	r.mu.Unlock()
	if err := r.client.Publish(ctx, r.channel, msg).Err(); err != nil {
		// Stored but not announced: other nodes learn of it on their next
		// reload. Report it so the caller can retry or alert.
		return fmt.Errorf("ratelimit: announce block: %w", err)
	}
	return nil
}

// Blocked implements Blocks: a lookup in this node's mirror under a read
// lock, no I/O. A block is in force while now is before Until; one found
// over is dropped from the mirror (Redis has expired it already).
func (r *RedisBlocks) Blocked(key string, now time.Time) (Block, bool) {
	r.mu.RLock()
	b, ok := r.blocks[key]
	r.mu.RUnlock()
	if !ok {
		return Block{}, false
	}
	if now.Before(b.Until) {
		return b, true
	}
	r.mu.Lock()
	// A newer block may have replaced it in between: keep that one.
	if cur, ok := r.blocks[key]; ok && !now.Before(cur.Until) {
		delete(r.blocks, key)
	}
	r.mu.Unlock()
	return Block{}, false
}

// List implements Blocks. It reads Redis, the source of truth, rather than
// this node's mirror, and returns the blocks still in force at now sorted
// by key.
func (r *RedisBlocks) List(ctx context.Context, now time.Time) ([]Block, error) {
	all, err := r.load(ctx)
	if err != nil {
		return nil, err
	}
	list := all[:0]
	for _, b := range all {
		if now.Before(b.Until) {
			list = append(list, b)
		}
	}
	slices.SortFunc(list, func(a, b Block) int { return cmp.Compare(a.Key, b.Key) })
	return list, nil
}

// Lift implements Blocks. Lifting a key that is not blocked is not an
// error.
func (r *RedisBlocks) Lift(ctx context.Context, key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidBlock)
	}
	msg, err := json.Marshal(blockChange{Lift: key})
	if err != nil {
		return fmt.Errorf("ratelimit: encode lift: %w", err)
	}
	if err := r.client.Del(ctx, r.prefix+key).Err(); err != nil {
		return fmt.Errorf("ratelimit: lift block: %w", err)
	}
	r.mu.Lock()
	delete(r.blocks, key)
	r.mu.Unlock()
	if err := r.client.Publish(ctx, r.channel, msg).Err(); err != nil {
		return fmt.Errorf("ratelimit: announce lift: %w", err)
	}
	return nil
}

// globEscape quotes the characters SCAN MATCH treats as a pattern, so a
// prefix matches only itself.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range []byte(s) {
		switch c {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}
