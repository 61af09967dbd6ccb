package server

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
)

// Check states in a /readyz answer. A failed check takes the node out of
// rotation; a degraded one does not (the node still does its job, with
// less: a gateway serving its last route table, limits in their
// on_backend_error mode), but an operator should know.
const (
	checkOK       = "ok"
	checkFailed   = "failed"
	checkDegraded = "degraded"
)

// readyCheck is one line of the /readyz answer. Detail is a fixed,
// operator-facing phrase: the cause of a failure goes to the log, never
// to whoever can reach the probe.
type readyCheck struct {
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// readiness is the /readyz body: the verdict, and each check the node's
// roles call for, by name (store, signing_keys, issuer_keys,
// catalog_sync, redis, and shutdown while the node drains).
type readiness struct {
	Status string                `json:"status"`
	Checks map[string]readyCheck `json:"checks"`
}

// readyz answers 200 when the node can do its job, else 503, with a JSON
// body that says why check by check, so an operator looking at a
// failing probe learns which dependency to look at without reading logs.
// Load balancers read only the status code.
func (w *wiring) readyz(rw http.ResponseWriter, r *http.Request) {
	rd := w.readiness(r.Context())
	status := http.StatusOK
	if rd.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	rw.Header().Set("Content-Type", "application/json")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(rd) // the client went away; nothing to do
}

// readiness runs the checks of the node's roles.
func (w *wiring) readiness(ctx context.Context) readiness {
	rd := readiness{Status: "ready", Checks: map[string]readyCheck{}}
	set := func(name string, c readyCheck) {
		rd.Checks[name] = c
		if c.Status == checkFailed {
			rd.Status = "not_ready"
		}
	}
	if w.draining.Load() {
		// Told to stop: out of rotation first (config shutdown.drain_delay).
		set("shutdown", readyCheck{Status: checkFailed, Detail: "draining before shutdown"})
	}
	if slices.Contains(w.roles, RoleAuthz) {
		if w.keysReady.Load() {
			set("signing_keys", readyCheck{Status: checkOK})
		} else {
			set("signing_keys", readyCheck{Status: checkFailed, Detail: "signing keys not loaded"})
		}
	}
	if slices.Contains(w.roles, RoleGateway) {
		if w.gateway != nil && w.gateway.Ready() {
			set("issuer_keys", readyCheck{Status: checkOK})
		} else {
			set("issuer_keys", readyCheck{Status: checkFailed, Detail: "the keys of a configured issuer are not loaded yet"})
		}
	}
	if w.catalog != nil {
		if synced, detail := w.catalog.status(); synced {
			set("catalog_sync", readyCheck{Status: checkOK})
		} else {
			// Degraded, not failed: the last route table keeps serving,
			// and taking every gateway out of rotation when the catalog
			// cannot be read would turn a store hiccup into an outage.
			set("catalog_sync", readyCheck{Status: checkDegraded, Detail: detail})
		}
	}
	if w.redis != nil {
		pctx, cancel := context.WithTimeout(ctx, readyzPingTimeout)
		err := w.redis.Ping(pctx).Err()
		cancel()
		if err != nil {
			// Degraded: each limit answers in its on_backend_error mode
			// and the breaker retries; the node still serves.
			w.logger.Warn("readiness check failed", "component", "admin", "check", "redis", "err", err)
			set("redis", readyCheck{Status: checkDegraded, Detail: "redis unreachable: limits follow on_backend_error"})
		} else {
			set("redis", readyCheck{Status: checkOK})
		}
	}
	if w.db != nil {
		pctx, cancel := context.WithTimeout(ctx, readyzPingTimeout)
		err := w.db.Ping(pctx)
		cancel()
		if err != nil {
			w.logger.Warn("readiness check failed", "component", "admin", "check", "store", "err", err)
			// The authorization server cannot issue without its store. A
			// gateway without the authz role still checks cached and
			// self-contained tokens and serves its last route table:
			// degraded, so an outage of the database does not take every
			// gateway out of rotation.
			st := checkDegraded
			if slices.Contains(w.roles, RoleAuthz) {
				st = checkFailed
			}
			set("store", readyCheck{Status: st, Detail: "store unreachable"})
		} else {
			set("store", readyCheck{Status: checkOK})
		}
	}
	return rd
}
