package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/internal/audit"
	"github.com/portcullis/portcullis/internal/gateway"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/store"
)

// Revocation notices: when the authorization server revokes tokens
// (RFC 7009 revocation, a refresh token or code reused, abuse rules with
// revoke_tokens), it names them by their stored digests, and every
// gateway drops its cached answers for them. Without notices a gateway
// keeps accepting a revoked opaque or split token until its cache entry
// ends (the issuer's cache_ttl); with them the bound is the notice's
// delivery, well under a second.
//
// A node that runs both roles tells its own gateway directly. Across
// nodes the notices ride on the rate-limit Redis (ratelimit.backend:
// redis) as pub/sub messages. Pub/sub keeps nothing, so a gateway whose
// subscription was down may have missed some: on every (re)subscription
// it flushes its token caches, and the bound holds again from then on.

// revocationChannel follows the rate-limit Redis prefix.
const revocationChannel = "tokens:revoked"

// revocationNoticeMax is how many digests one message carries (32 KiB).
const revocationNoticeMax = 1000

// Message payloads: "D" and the digests back to back, or "F" for "flush
// everything" (tokens were revoked that the sender could not name).
const (
	noticeDigests = 'D'
	noticeFlush   = 'F'
)

// errBadNotice: a message on the channel that is not a notice of ours.
var errBadNotice = errors.New("malformed revocation notice")

// encodeRevocation returns the payloads naming digests, at most
// revocationNoticeMax a message.
func encodeRevocation(digests [][]byte) []string {
	var out []string
	for len(digests) > 0 {
		n := min(len(digests), revocationNoticeMax)
		b := make([]byte, 0, 1+n*sha256.Size)
		b = append(b, noticeDigests)
		for _, d := range digests[:n] {
			if len(d) == sha256.Size {
				b = append(b, d...)
			}
		}
		out = append(out, string(b))
		digests = digests[n:]
	}
	return out
}

// decodeRevocation reads a payload: the digests it names, or flush.
func decodeRevocation(payload string) (digests [][]byte, flush bool, err error) {
	if payload == string(noticeFlush) {
		return nil, true, nil
	}
	if len(payload) < 1 || payload[0] != noticeDigests || (len(payload)-1)%sha256.Size != 0 {
		return nil, false, errBadNotice
	}
	body := []byte(payload[1:])
	for len(body) > 0 {
		digests = append(digests, body[:sha256.Size:sha256.Size])
		body = body[sha256.Size:]
	}
	return digests, false, nil
}

// revocationSink is what a notice is for: the node's gateway.
type revocationSink interface {
	ForgetTokenDigests(digests [][]byte)
	FlushTokenCaches()
}

// revocations sends notices: to this node's gateway when it runs one,
// and to the others through Redis when there is one.
type revocations struct {
	// gateway is this node's gateway; nil when it runs none (yet: the
	// authorization server serves before the gateway is built).
	gateway atomic.Pointer[gateway.Gateway]
	client  redis.UniversalClient
	channel string
	logger  *slog.Logger
	sent    *prometheus.CounterVec
}

func newRevocations(w *wiring, reg prometheus.Registerer) (*revocations, error) {
	sent := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_revocation_notices_total",
		Help: "Revocation notices by direction (published, received) and result (ok, error; error on publish means other gateways wait for their cache_ttl).",
	}, []string{"direction", "result"})
	if err := reg.Register(sent); err != nil {
		return nil, err
	}
	return &revocations{
		client: w.redis, channel: noticeChannelOf(w.cfg.RateLimit.Redis.Prefix, revocationChannel),
		logger: w.logger.With("component", "revocation"), sent: sent,
	}, nil
}

// local is this node's gateway as a sink; nil when there is none.
func (n *revocations) local() revocationSink {
	if g := n.gateway.Load(); g != nil {
		return g
	}
	return nil
}

// tokensRevoked announces digests. A failure is logged and counted, not
// returned: the revocation is committed, and gateways that miss it
// refuse the tokens when their cache entries end.
func (n *revocations) tokensRevoked(ctx context.Context, digests [][]byte) {
	if len(digests) == 0 {
		return
	}
	if g := n.local(); g != nil {
		g.ForgetTokenDigests(digests)
	}
	for _, p := range encodeRevocation(digests) {
		n.publish(ctx, p)
	}
}

// flushAll asks every gateway to drop its token caches.
func (n *revocations) flushAll(ctx context.Context) {
	if g := n.local(); g != nil {
		g.FlushTokenCaches()
	}
	n.publish(ctx, string(noticeFlush))
}

func (n *revocations) publish(ctx context.Context, payload string) {
	if n.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), noticeTimeout)
	defer cancel()
	if err := n.client.Publish(ctx, n.channel, payload).Err(); err != nil {
		n.sent.WithLabelValues("published", "error").Inc()
		n.logger.Warn("revocation not announced on redis; other gateways refuse the tokens when their cache entries end", "err", err)
		return
	}
	n.sent.WithLabelValues("published", "ok").Inc()
}

// follower follows the notices for the node's gateway g.
func (n *revocations) follower(g revocationSink) *noticeFollower {
	return &noticeFollower{
		client: n.client, channel: n.channel,
		what: "revocation notices", fallback: "revoked tokens are refused when their cache entries end until it answers",
		// Notices may have been missed while no subscription stood.
		resync: g.FlushTokenCaches,
		deliver: func(payload string) {
			ds, flush, err := decodeRevocation(payload)
			switch {
			case err != nil:
				n.sent.WithLabelValues("received", "error").Inc()
				n.logger.Warn("ignored a malformed revocation notice", "bytes", len(payload))
				return
			case flush:
				g.FlushTokenCaches()
			default:
				g.ForgetTokenDigests(ds)
			}
			n.sent.WithLabelValues("received", "ok").Inc()
		},
		logger: n.logger,
		retry:  noticeRetryMin, retryMax: noticeRetryMax, ping: noticePing,
		jitter: rand.Int64N,
	}
}

// nodeSink is what a notice from another node changes here: the
// gateway's token caches and the authorization server's own (whose
// answers the gateway would otherwise fetch again).
type nodeSink struct {
	gateway revocationSink // nil without the gateway role
	oauth   interface {
		ForgetTokens(digests [][]byte)
		FlushTokens()
	} // nil without the authz role
}

// ForgetTokenDigests forgets the authorization server's records first,
// so a gateway that asks again at once is told the truth.
func (s nodeSink) ForgetTokenDigests(digests [][]byte) {
	if s.oauth != nil {
		s.oauth.ForgetTokens(digests)
	}
	if s.gateway != nil {
		s.gateway.ForgetTokenDigests(digests)
	}
}

// FlushTokenCaches flushes both.
func (s nodeSink) FlushTokenCaches() {
	if s.oauth != nil {
		s.oauth.FlushTokens()
	}
	if s.gateway != nil {
		s.gateway.FlushTokenCaches()
	}
}

// announcingAuditor is the registry's auditor, announcing the changes
// that delete tokens with a client or a user. The rows are gone once the
// change commits, so it cannot name them; it flushes this node's token
// records and asks every gateway to flush its token caches instead,
// which costs each cached opaque or split token one introspection: a
// fair price for a rare operator action, against a deleted client's
// tokens being honoured until cache_ttl.
type announcingAuditor struct {
	au registry.Auditor
	// records is this node's authorization server, whose short record
	// cache would otherwise answer for the deleted tokens; nil if none.
	records interface{ FlushTokens() }
	notices *revocations // nil: nobody to tell
}

// announcing wraps au for the registry services of this node.
func (w *wiring) announcing(au registry.Auditor) announcingAuditor {
	a := announcingAuditor{au: au, notices: w.revocations}
	if w.oauth != nil {
		a.records = w.oauth
	}
	return a
}

// Apply applies and records the changes, then announces a deletion.
func (a announcingAuditor) Apply(ctx context.Context, rec audit.Record, changes ...store.Change) error {
	if err := a.au.Apply(ctx, rec, changes...); err != nil {
		return err
	}
	if !slices.ContainsFunc(changes, store.Change.DeletesTokens) {
		return nil
	}
	// The records first, so a gateway that asks again at once is told
	// the truth.
	if a.records != nil {
		a.records.FlushTokens()
	}
	if a.notices != nil {
		a.notices.flushAll(ctx)
	}
	return nil
}

// revokingStore is the authorization server's store, announcing what it
// revokes.
type revokingStore struct {
	*store.DB
	notices *revocations
}

// RevokeToken revokes one token and announces it.
func (s revokingStore) RevokeToken(ctx context.Context, digest []byte) error {
	err := s.DB.RevokeToken(ctx, digest)
	if err == nil {
		s.notices.tokensRevoked(ctx, [][]byte{digest})
	}
	return err
}

// RevokeGrant revokes a grant's tokens and announces them. Their digests
// are read first; when that fails, every gateway is asked to flush
// rather than keep tokens of a revoked grant.
func (s revokingStore) RevokeGrant(ctx context.Context, grantID string) (int64, error) {
	digests, derr := s.DB.GrantTokenDigests(ctx, grantID)
	n, err := s.DB.RevokeGrant(ctx, grantID)
	switch {
	case err != nil || n == 0:
	case derr != nil:
		s.notices.logger.Warn("cannot name the revoked grant's tokens; asking gateways to flush", "err", derr)
		s.notices.flushAll(ctx)
	default:
		s.notices.tokensRevoked(ctx, digests)
	}
	return n, err
}
