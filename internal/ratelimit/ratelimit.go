// Package ratelimit decides whether a request may proceed under a set of
// limits — rates with bursts (GCRA) and quotas over calendar or rolling
// windows — checked together: a request is admitted only if every limit
// admits it, and a rejected request consumes nothing. Two backends share
// one behaviour: memory for a single node, Redis (one Lua script, one
// round trip, server time) for a cluster.
//
// It knows nothing of HTTP, tokens or configuration files: callers build
// the keys and limits.
package ratelimit

import (
	"context"
	"errors"
	"time"
)

// Kind says how a limit counts.
type Kind uint8

// Limit kinds.
const (
	// Rate is GCRA (a token bucket without a timer): Count per Period on
	// average, with up to Burst admitted at once. No window edges.
	Rate Kind = iota + 1
	// Quota admits Count per calendar Window (minute, hour, day, month in
	// Location), resetting at the window's start; with Rolling, Count per
	// Period refilled continuously (GCRA with Burst = Count).
	Quota
)

// Window is a calendar window of a quota.
type Window uint8

// Windows.
const (
	Minute Window = iota + 1
	Hour
	Day
	Month
)

// OnError says what a limit does when its backend cannot be reached.
type OnError uint8

// Backend-failure policies.
const (
	// Deny refuses the request (fail closed); the default for strict limits.
	Deny OnError = iota + 1
	// Allow skips this limit.
	Allow
	// Local counts this limit in the node's memory instead; the default
	// for limits not marked strict.
	Local
)

// Limit is one configured limit, immutable once built.
type Limit struct {
	// Name identifies the limit in RateLimit-Policy headers, metrics and
	// keys ("gold-burst"); [a-z0-9_-], unique.
	Name   string
	Kind   Kind
	Count  int64
	Period time.Duration
	// Burst is the most a Rate limit admits at once; zero means Count.
	Burst int64
	// Window and Location define a calendar Quota; Rolling makes the quota
	// a continuous one over Period instead.
	Window   Window
	Location *time.Location
	Rolling  bool
	OnError  OnError
}

// Check is one limit applied to one key (the caller has built the key from
// client id, subject, API, operation, IP prefix, claim or header).
type Check struct {
	Limit *Limit
	Key   string
}

// State is what a check left behind, for the RateLimit headers
// (draft-ietf-httpapi-ratelimit-headers) and Retry-After.
type State struct {
	// Remaining is how many more requests the limit admits now.
	Remaining int64
	// Reset is when the limit is back to full (rate) or the window ends
	// (quota).
	Reset time.Duration
	// RetryAfter is how long to wait before this limit admits one
	// request; zero when it admits now.
	RetryAfter time.Duration
	// Denied reports that this limit refused the request.
	Denied bool
}

// ErrBackend wraps a failure of the backend itself (Redis unreachable,
// breaker open).
var ErrBackend = errors.New("ratelimit: backend unavailable")

// ErrFailClosed is returned with ErrBackend when the refusal is for want
// of the backend: a limit that must not pass uncounted (OnError Deny)
// could not be counted, or its local fallback failed. Callers answer it
// as unavailable (503). ErrBackend without it, and allowed false, is a
// limit reached in the local fallback: a refusal like any other (429).
var ErrFailClosed = errors.New("ratelimit: a limit that fails closed could not be counted")

// Backend checks limits. Implementations are safe for concurrent use.
type Backend interface {
	// Allow checks every limit of checks atomically at now (a Redis
	// backend uses the server's clock instead) and, only when all admit,
	// consumes one unit of each. states must have len(checks); it is
	// filled for every check. A backend failure returns an error wrapping
	// ErrBackend and decides nothing.
	Allow(ctx context.Context, checks []Check, now time.Time, states []State) (bool, error)
	// Peek fills states without consuming anything (for the admin API).
	Peek(ctx context.Context, checks []Check, now time.Time, states []State) error
}
