package app

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// AdminTokenEnv names the environment variable holding the bearer token of
// the admin API. Unset, the admin API is off: the admin listener then
// serves only the probes and metrics.
const AdminTokenEnv = "PORTCULLIS_ADMIN_TOKEN"

// minAdminToken is the shortest admin token accepted: it guards revoking
// blocks and reading every client's quota.
const minAdminToken = 32

// adminAPI serves /admin/v1: quota state per client and the abuse blocks.
type adminAPI struct {
	// tokenSum is SHA-256 of the admin token; comparing digests keeps the
	// comparison constant-time whatever the presented length.
	tokenSum [32]byte
	enabled  bool
	blocks   ratelimit.Blocks
	quotas   func(r *http.Request, clientID string) (any, error)
	now      func() time.Time
}

func newAdminAPI(token string, blocks ratelimit.Blocks, quotas func(*http.Request, string) (any, error), now func() time.Time) *adminAPI {
	a := &adminAPI{blocks: blocks, quotas: quotas, now: now}
	if len(token) >= minAdminToken {
		a.enabled = true
		a.tokenSum = sha256.Sum256([]byte(token))
	}
	return a
}

func (a *adminAPI) register(mux *http.ServeMux) {
	mux.Handle("GET /admin/v1/blocks", a.auth(a.listBlocks))
	mux.Handle("DELETE /admin/v1/blocks/{key...}", a.auth(a.liftBlock))
	mux.Handle("GET /admin/v1/quotas/{client_id}", a.auth(a.quota))
}

func (a *adminAPI) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.enabled {
			adminJSON(w, http.StatusForbidden, map[string]string{
				"error": "the admin API is off: set " + AdminTokenEnv + " (at least 32 characters)",
			})
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			adminJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid admin token"})
			return
		}
		next(w, r)
	})
}

func (a *adminAPI) listBlocks(w http.ResponseWriter, r *http.Request) {
	if a.blocks == nil {
		adminJSON(w, http.StatusOK, map[string]any{"blocks": []ratelimit.Block{}})
		return
	}
	list, err := a.blocks.List(r.Context(), a.now())
	if err != nil {
		adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "blocks unavailable"})
		return
	}
	if list == nil {
		list = []ratelimit.Block{}
	}
	adminJSON(w, http.StatusOK, map[string]any{"blocks": list})
}

func (a *adminAPI) liftBlock(w http.ResponseWriter, r *http.Request) {
	if a.blocks == nil {
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "no blocks"})
		return
	}
	if err := a.blocks.Lift(r.Context(), r.PathValue("key")); err != nil {
		adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "blocks unavailable"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *adminAPI) quota(w http.ResponseWriter, r *http.Request) {
	if a.quotas == nil {
		adminJSON(w, http.StatusNotFound, map[string]string{"error": "the gateway role is not running"})
		return
	}
	v, err := a.quotas(r, r.PathValue("client_id"))
	if err != nil {
		adminJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "quota state unavailable"})
		return
	}
	adminJSON(w, http.StatusOK, v)
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// lazyBlocks reaches the block list once the gateway role has built it.
type lazyBlocks struct{ w *wiring }

func (l lazyBlocks) get() (ratelimit.Blocks, error) {
	if l.w.limiter == nil || l.w.limiter.blocks == nil {
		return nil, errNoGateway
	}
	return l.w.limiter.blocks, nil
}

func (l lazyBlocks) Block(ctx context.Context, b ratelimit.Block) error {
	bl, err := l.get()
	if err != nil {
		return err
	}
	return bl.Block(ctx, b)
}

func (l lazyBlocks) Blocked(key string, now time.Time) (ratelimit.Block, bool) {
	bl, err := l.get()
	if err != nil {
		return ratelimit.Block{}, false
	}
	return bl.Blocked(key, now)
}

func (l lazyBlocks) List(ctx context.Context, now time.Time) ([]ratelimit.Block, error) {
	bl, err := l.get()
	if err != nil {
		return nil, nil
	}
	return bl.List(ctx, now)
}

func (l lazyBlocks) Lift(ctx context.Context, key string) error {
	bl, err := l.get()
	if err != nil {
		return err
	}
	return bl.Lift(ctx, key)
}
