// Package admin is the admin API under /admin/v1 on the admin listener:
// quota state per client and the abuse blocks of the gateway.
//
// It is built from finished parts through small interfaces (a block list,
// a quota reader), after the node has built them, so no handler reaches
// into a half-built node. It must never answer without a valid admin
// token, never echo the token, and never reveal an internal error's text
// to the caller.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/ratelimit"
)

// TokenEnv names the environment variable holding the bearer token of the
// admin API. Unset, the admin API is off: the admin listener then serves
// only the probes and metrics.
const TokenEnv = "PORTCULLIS_ADMIN_TOKEN"

// MinTokenLen is the shortest admin token accepted: it guards lifting
// blocks and reading every client's quota.
const MinTokenLen = 32

// minTokenBits is the least entropy CheckToken accepts, estimated from the
// token's own character frequencies: 128 bits, what `openssl rand -base64
// 32` gives with room to spare.
const minTokenBits = 128

// ErrWeakToken: the admin token is too short or too regular to be a
// random value.
var ErrWeakToken = errors.New("weak admin token")

// CheckToken reports whether token is fit to guard the admin API: at least
// MinTokenLen characters and about 128 bits of entropy, estimated as the
// token's length times the Shannon entropy of its character frequencies.
// A long run of one character, a repeated word or a short alphabet fails;
// a generated value (openssl rand -base64 32, or 64 hex digits) passes.
// The error never quotes the token.
func CheckToken(token string) error {
	if len(token) < MinTokenLen {
		return fmt.Errorf("%w: %s must hold at least %d characters (generate one: openssl rand -base64 32)", ErrWeakToken, TokenEnv, MinTokenLen)
	}
	if bits := estimatedBits(token); bits < minTokenBits {
		return fmt.Errorf("%w: %s holds about %.0f bits of entropy, want at least %d (generate one: openssl rand -base64 32)", ErrWeakToken, TokenEnv, bits, minTokenBits)
	}
	return nil
}

// estimatedBits is len(s) times the Shannon entropy (bits per byte) of the
// byte frequencies of s: an upper bound on what the string can carry, and
// a low one for anything typed by hand.
func estimatedBits(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h * n
}

// QuotaReader reports the quota state of a client's limits (the gateway).
type QuotaReader interface {
	// ClientQuotas returns a JSON-encodable view of clientID's limits.
	ClientQuotas(ctx context.Context, clientID string) (any, error)
}

// Options are the finished parts the admin API serves. Nil Blocks or
// Quotas mean the gateway role does not run on this node.
type Options struct {
	// Token is the admin bearer token; one that fails CheckToken turns the
	// API off.
	Token  string
	Blocks ratelimit.Blocks
	Quotas QuotaReader
	// Now is the clock (nil means time.Now).
	Now func() time.Time
}

// API serves /admin/v1. Safe for concurrent use.
type API struct {
	// tokenSum is SHA-256 of the admin token; comparing digests keeps the
	// comparison constant-time whatever the presented length.
	tokenSum [32]byte
	enabled  bool
	blocks   ratelimit.Blocks
	quotas   QuotaReader
	now      func() time.Time
}

// New returns the admin API over o.
func New(o Options) *API {
	a := &API{blocks: o.Blocks, quotas: o.Quotas, now: o.Now}
	if a.now == nil {
		a.now = time.Now
	}
	if CheckToken(o.Token) == nil {
		a.enabled = true
		a.tokenSum = sha256.Sum256([]byte(o.Token))
	}
	return a
}

// Register adds the admin routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle("GET /admin/v1/blocks", a.auth(a.listBlocks))
	mux.Handle("DELETE /admin/v1/blocks/{key...}", a.auth(a.liftBlock))
	mux.Handle("GET /admin/v1/quotas/{client_id}", a.auth(a.quota))
}

func (a *API) auth(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.enabled {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": "the admin API is off: set " + TokenEnv + " to a random value (openssl rand -base64 32)",
			})
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis-admin"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid admin token"})
			return
		}
		next(w, r)
	})
}

func (a *API) listBlocks(w http.ResponseWriter, r *http.Request) {
	if a.blocks == nil {
		writeJSON(w, http.StatusOK, map[string]any{"blocks": []ratelimit.Block{}})
		return
	}
	list, err := a.blocks.List(r.Context(), a.now())
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "blocks unavailable"})
		return
	}
	if list == nil {
		list = []ratelimit.Block{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"blocks": list})
}

func (a *API) liftBlock(w http.ResponseWriter, r *http.Request) {
	if a.blocks == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no blocks"})
		return
	}
	if err := a.blocks.Lift(r.Context(), r.PathValue("key")); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "blocks unavailable"})
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) quota(w http.ResponseWriter, r *http.Request) {
	if a.quotas == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "the gateway role is not running"})
		return
	}
	v, err := a.quotas.ClientQuotas(r.Context(), r.PathValue("client_id"))
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "quota state unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away; nothing to do
}
