package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/ratelimit"
)

// QuotaState is where one plan limit of a client stands, for the admin
// API.
type QuotaState struct {
	// Plan and Limit name the plan and the limit.
	Plan  string `json:"plan"`
	Limit string `json:"limit"`
	// API is the API counted, for a limit keyed per client and API;
	// empty when the limit counts across APIs.
	API string `json:"api,omitempty"`
	// Quota and WindowSeconds are the limit's q and w, as in the
	// RateLimit-Policy header.
	Quota         int64 `json:"quota"`
	WindowSeconds int64 `json:"window_seconds"`
	// Remaining is how many more requests it admits now; ResetSeconds
	// how long until it is full again (rate) or its window ends (quota).
	Remaining    int64 `json:"remaining"`
	ResetSeconds int64 `json:"reset_seconds"`
}

// ErrNoRateLimiter is returned by Quotas when the gateway counts nothing.
var ErrNoRateLimiter = errors.New("gateway: no rate-limit backend")

// Quotas reports the plan limits of clientID as they stand, without
// consuming anything (Backend.Peek). Limits whose key holds more than the
// client (and the API) depend on each request and are left out. A client
// without a plan has none; the error wraps ratelimit.ErrBackend when the
// backend cannot answer.
func (g *Gateway) Quotas(ctx context.Context, clientID string) ([]QuotaState, error) {
	t := g.table.Load()
	if t == nil || t.limits == nil || t.limits.backend == nil {
		return nil, ErrNoRateLimiter
	}
	lt := t.limits
	p := lt.planFor(clientID)
	if p == nil {
		return []QuotaState{}, nil
	}
	var (
		checks []ratelimit.Check
		out    []QuotaState
	)
	sc := newLimitScratch(0)
	for _, s := range p.specs {
		apis := []string{""}
		if perAPI, ok := clientKeyed(s); !ok {
			continue
		} else if perAPI {
			apis = apis[:0]
			for _, a := range t.apis {
				apis = append(apis, a.name)
			}
		}
		for _, api := range apis {
			ol := &opLimits{t: lt, api: api}
			checks = append(checks, ratelimit.Check{Limit: s.lim, Key: ol.key(sc, s, &exchange{}, nil, clientID, "", nil)})
			out = append(out, QuotaState{Plan: p.name, Limit: s.name, API: api, Quota: s.lim.Count, WindowSeconds: s.window})
		}
	}
	if len(checks) == 0 {
		return []QuotaState{}, nil
	}
	states := make([]ratelimit.State, len(checks))
	if err := lt.backend.Peek(ctx, checks, g.now(), states); err != nil {
		return nil, fmt.Errorf("gateway: quotas: %w", err)
	}
	for i := range out {
		out[i].Remaining = max(states[i].Remaining, 0)
		out[i].ResetSeconds = ceilSeconds(states[i].Reset)
	}
	return out, nil
}

// clientKeyed reports whether s's key holds only the client id, and
// perhaps the API (perAPI).
func clientKeyed(s *limitSpec) (perAPI, ok bool) {
	for _, p := range s.key {
		switch p.kind {
		case catalog.KeyClientID:
		case catalog.KeyAPI:
			perAPI = true
		default:
			return false, false
		}
	}
	return perAPI, true
}
