package keys

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// Defaults for a zero Config.
const (
	// DefaultAccessAlg signs access tokens when Config.AccessAlg is empty.
	DefaultAccessAlg = AlgES256
	// DefaultIDAlg is RS256 because OpenID Connect Core §15.1 requires
	// relying parties to support it.
	DefaultIDAlg = AlgRS256
	// DefaultRetention applies when Config.Retention is zero.
	DefaultRetention = 24 * time.Hour
)

// Errors of the manager; test them with errors.Is.
var (
	// ErrNoActiveKey means a use has no signing key (Init has not run, or
	// the store lost the key).
	ErrNoActiveKey = errors.New("keys: no active signing key")
	// ErrUnknownUse means a Use other than UseAccess or UseID.
	ErrUnknownUse = errors.New("keys: unknown key use")
)

// uses lists every Use, in the order Init fills them.
var uses = []Use{UseAccess, UseID}

// Manager holds the current keys in memory, signs with the active key of
// each use and serves the JWKS. It is safe for concurrent use.
//
// Sign, Alg, JWKS and KeySet read an immutable snapshot through an atomic
// pointer and never lock; Init, Reload, Rotate and Purge build a new
// snapshot under a mutex and swap it in.
type Manager struct {
	st        Store
	sealer    *Sealer
	algs      map[Use]string
	retention time.Duration
	log       *slog.Logger
	now       func() time.Time

	// mu serialises the writers within this process; other processes
	// (the CLI, other nodes) are reconciled by the rules of currentActive.
	mu   sync.Mutex
	snap atomic.Pointer[snapshot]
}

// NewManager returns a manager; call Init before use. master is the
// 32-byte master key; the private keys are sealed under a key derived from
// it. A nil logger discards logs; a nil now means time.Now.
//
// Changing an algorithm in cfg takes effect at the next rotation: Init
// then publishes a next key with the new algorithm, and Rotate promotes it.
func NewManager(st Store, master []byte, cfg Config, logger *slog.Logger, now func() time.Time) (*Manager, error) {
	if st == nil {
		return nil, errors.New("keys: nil store")
	}
	sealer, err := NewSealer(master, sealPurpose)
	if err != nil {
		return nil, err
	}
	algs := map[Use]string{
		UseAccess: cmp.Or(cfg.AccessAlg, DefaultAccessAlg),
		UseID:     cmp.Or(cfg.IDAlg, DefaultIDAlg),
	}
	for use, alg := range algs {
		if err := checkAlg(alg); err != nil {
			return nil, fmt.Errorf("keys: %s algorithm: %w", use, err)
		}
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("keys: negative retention %s", cfg.Retention)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		st:        st,
		sealer:    sealer,
		algs:      algs,
		retention: cmp.Or(cfg.Retention, DefaultRetention),
		log:       logger.With("component", "keys"),
		now:       now,
	}
	m.snap.Store(emptySnapshot())
	return m, nil
}

// Init loads the keys and, for each use without an active key, generates an
// active key and a next key.
//
// It also fills smaller gaps: a use with an active key but no next key of
// the configured algorithm gets one, and when concurrent starts left two
// active keys, the older is retired. Every stored key is opened before
// anything is written, so a wrong master key fails Init without adding keys.
//
// With a Store that is a KeySetLocker, Init runs under its lock, so of
// several nodes starting together only the first generates keys.
func (m *Manager) Init(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if l, ok := m.st.(KeySetLocker); ok {
		return l.WithKeySetLock(ctx, m.initLocked)
	}
	return m.initLocked(ctx)
}

// initLocked is Init with m.mu (and the store's key set lock) held.
func (m *Manager) initLocked(ctx context.Context) error {
	rows, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: init: list keys: %w", err)
	}
	now := m.now()
	if _, err := buildSnapshot(m.sealer, rows, m.snap.Load(), m.retention, now); err != nil {
		return fmt.Errorf("keys: init: %w", err)
	}
	for _, use := range uses {
		if err := m.fillGaps(ctx, rows, use, now); err != nil {
			return fmt.Errorf("keys: init %s keys: %w", use, err)
		}
	}
	if err := m.reloadLocked(ctx); err != nil {
		return fmt.Errorf("keys: init: %w", err)
	}
	return nil
}

// fillGaps gives use exactly one active key and a next key of the
// configured algorithm.
func (m *Manager) fillGaps(ctx context.Context, rows []store.SigningKey, use Use, now time.Time) error {
	alg := m.algs[use]
	active, hasActive := currentActive(rows, use)
	for _, k := range rows {
		if Use(k.Use) == use && stateOf(k) == StateActive && hasActive && k.KID != active.KID {
			k.RetiredAt = now
			if err := m.st.UpdateKey(ctx, k); err != nil {
				return fmt.Errorf("retire superseded key %s: %w", k.KID, err)
			}
			m.log.Info("retired superseded signing key", "use", use, "kid", k.KID, "alg", k.Alg)
		}
	}
	next, hasNext := oldestNext(rows, use, alg)
	if !hasActive {
		if hasNext {
			// A published next key is better than a fresh one: verifiers
			// may already hold it.
			next.ActivatedAt = now
			if err := m.st.UpdateKey(ctx, next); err != nil {
				return fmt.Errorf("activate key %s: %w", next.KID, err)
			}
			m.log.Info("activated signing key", "use", use, "kid", next.KID, "alg", next.Alg)
			hasNext = false
		} else {
			k, err := generateKey(m.sealer, use, alg, now)
			if err != nil {
				return err
			}
			k.ActivatedAt = now
			if err := m.st.CreateKey(ctx, k); err != nil {
				return fmt.Errorf("store key %s: %w", k.KID, err)
			}
			m.log.Info("generated signing key", "use", use, "kid", k.KID, "alg", alg, "state", StateActive)
		}
	}
	if !hasNext {
		k, err := generateKey(m.sealer, use, alg, now)
		if err != nil {
			return err
		}
		if err := m.st.CreateKey(ctx, k); err != nil {
			return fmt.Errorf("store key %s: %w", k.KID, err)
		}
		m.log.Info("generated signing key", "use", use, "kid", k.KID, "alg", alg, "state", StateNext)
	}
	return nil
}

// oldestNext returns the next key of use and alg published longest, the
// one verifiers are most likely to have cached.
func oldestNext(rows []store.SigningKey, use Use, alg string) (store.SigningKey, bool) {
	var best store.SigningKey
	found := false
	for _, k := range rows {
		if Use(k.Use) != use || stateOf(k) != StateNext || k.Alg != alg {
			continue
		}
		if !found || k.CreatedAt.Before(best.CreatedAt) {
			best, found = k, true
		}
	}
	return best, found
}

// Reload re-reads the keys from the store, so a rotation made by the CLI or
// another node takes effect. On error the current keys stay in service.
func (m *Manager) Reload(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.reloadLocked(ctx); err != nil {
		return fmt.Errorf("keys: reload: %w", err)
	}
	return nil
}

// reloadLocked swaps in a snapshot of the stored keys; m.mu must be held.
func (m *Manager) reloadLocked(ctx context.Context) error {
	rows, err := m.st.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("list keys: %w", err)
	}
	old := m.snap.Load()
	next, err := buildSnapshot(m.sealer, rows, old, m.retention, m.now())
	if err != nil {
		return err
	}
	if next != old {
		m.snap.Store(next)
		m.log.Debug("signing keys loaded", "published", len(next.set),
			"access_kid", activeKID(next, UseAccess), "id_kid", activeKID(next, UseID))
	}
	return nil
}

func activeKID(s *snapshot, use Use) string {
	if k := s.active[use]; k != nil {
		return k.row.KID
	}
	return ""
}

// Sign returns a compact JWS of payload signed with the active key of use,
// with the "kid", "alg" and "typ" (when non-empty) headers set.
func (m *Manager) Sign(use Use, typ string, payload []byte) (string, error) {
	k := m.snap.Load().active[use]
	if k == nil {
		return "", fmt.Errorf("%w for use %q", ErrNoActiveKey, use)
	}
	s, err := k.signer(typ)
	if err != nil {
		return "", fmt.Errorf("keys: sign: %w", err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("keys: sign with %s: %w", k.row.KID, err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("keys: serialize jws: %w", err)
	}
	// ECDSA signatures come out with a high or a low S at random; the
	// low-S form is the one spelling of each token (a malleated twin with
	// n-S would be a different string with the same meaning), so
	// verifiers that refuse high S accept every token issued here.
	if out, err = token.CanonicalECDSA(out); err != nil {
		return "", fmt.Errorf("keys: canonical ecdsa signature: %w", err)
	}
	return out, nil
}

// Alg returns the JWS algorithm the active key of use signs with, or ""
// before Init.
func (m *Manager) Alg(use Use) string {
	if k := m.snap.Load().active[use]; k != nil {
		return k.row.Alg
	}
	return ""
}

// JWKS returns the JSON JWK Set of every published public key. The JSON is
// built once per change of the keys; each call returns its own copy.
func (m *Manager) JWKS() []byte {
	return bytes.Clone(m.snap.Load().jwks)
}

// KeySet returns the published public keys, for verifying tokens the server
// issued itself.
func (m *Manager) KeySet() *jose.JSONWebKeySet {
	return &jose.JSONWebKeySet{Keys: slices.Clone(m.snap.Load().set)}
}

// Rotate promotes the next key of use to active, retires the active one and
// generates a new next key.
//
// The promoted key is the longest-published next key of the configured
// algorithm; when there is none (the algorithm changed and Init has not run
// since), a fresh key is activated without a publication period and a
// warning is logged. Next keys of another algorithm are retired. Writes are
// ordered so that a crash between them leaves a working set: the new next
// key first, then the activation (the newest activation wins), then the
// retirements.
func (m *Manager) Rotate(ctx context.Context, use Use) (KeyInfo, error) {
	if use != UseAccess && use != UseID {
		return KeyInfo{}, fmt.Errorf("%w %q", ErrUnknownUse, use)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	rows, err := m.st.ListKeys(ctx)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: list keys: %w", err)
	}
	now := m.now()
	// Prove every key opens before changing any: never rotate onto a key
	// this process could not sign with.
	if _, err := buildSnapshot(m.sealer, rows, m.snap.Load(), m.retention, now); err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: %w", err)
	}
	alg := m.algs[use]
	promote, published := oldestNext(rows, use, alg)
	newNext, err := generateKey(m.sealer, use, alg, now)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: %w", err)
	}
	if !published {
		if promote, err = generateKey(m.sealer, use, alg, now); err != nil {
			return KeyInfo{}, fmt.Errorf("keys: rotate: %w", err)
		}
		m.log.Warn("no published next key of the configured algorithm; activating an unpublished key",
			"use", use, "kid", promote.KID, "alg", alg)
	}

	if err := m.st.CreateKey(ctx, newNext); err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: store key %s: %w", newNext.KID, err)
	}
	promote.ActivatedAt = now
	if published {
		err = m.st.UpdateKey(ctx, promote)
	} else {
		err = m.st.CreateKey(ctx, promote)
	}
	if err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: activate key %s: %w", promote.KID, err)
	}
	for _, k := range rows {
		if Use(k.Use) != use || k.KID == promote.KID {
			continue
		}
		st := stateOf(k)
		if st == StateActive || (st == StateNext && k.Alg != alg) {
			k.RetiredAt = now
			if err := m.st.UpdateKey(ctx, k); err != nil {
				return KeyInfo{}, fmt.Errorf("keys: rotate: retire key %s: %w", k.KID, err)
			}
			m.log.Info("retired signing key", "use", use, "kid", k.KID, "alg", k.Alg, "was", st)
		}
	}
	m.log.Info("rotated signing key", "use", use, "kid", promote.KID, "alg", promote.Alg, "next_kid", newNext.KID)
	if err := m.reloadLocked(ctx); err != nil {
		return KeyInfo{}, fmt.Errorf("keys: rotate: %w", err)
	}
	return keyInfo(promote), nil
}

// List describes every stored key.
func (m *Manager) List(ctx context.Context) ([]KeyInfo, error) {
	rows, err := m.st.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	out := make([]KeyInfo, len(rows))
	for i, k := range rows {
		out[i] = keyInfo(k)
	}
	return out, nil
}

func keyInfo(k store.SigningKey) KeyInfo {
	return KeyInfo{
		KID:         k.KID,
		Alg:         k.Alg,
		Use:         Use(k.Use),
		State:       stateOf(k),
		CreatedAt:   k.CreatedAt,
		ActivatedAt: k.ActivatedAt,
		RetiredAt:   k.RetiredAt,
	}
}

// Purge deletes retired keys older than the retention.
func (m *Manager) Purge(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rows, err := m.st.ListKeys(ctx)
	if err != nil {
		return 0, fmt.Errorf("keys: purge: list keys: %w", err)
	}
	now := m.now()
	n := 0
	for _, k := range rows {
		if stateOf(k) != StateRetired || published(k, m.retention, now) {
			continue
		}
		if err := m.st.DeleteKey(ctx, k.KID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // another node purged it first
			}
			return n, fmt.Errorf("keys: purge key %s: %w", k.KID, err)
		}
		n++
		m.log.Info("purged retired signing key", "use", k.Use, "kid", k.KID, "alg", k.Alg)
	}
	if err := m.reloadLocked(ctx); err != nil {
		return n, fmt.Errorf("keys: purge: %w", err)
	}
	return n, nil
}
