package keys

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/store"
)

// Key states, as KeyInfo.State reports them.
const (
	// StateNext is a published key that does not sign yet.
	StateNext = "next"
	// StateActive is the key that signs; if several are stored for a use,
	// the most recently activated one signs.
	StateActive = "active"
	// StateRetired is a key that no longer signs and stays published for
	// the retention.
	StateRetired = "retired"
)

// maxCachedTypes bounds the per-key signer cache; typ values come from our
// own code, so more than a handful means a bug, not a reason to grow.
const maxCachedTypes = 8

// loadedKey is a key opened from the store. It is immutable apart from
// its signer cache, and is carried over between snapshots while its stored
// row is unchanged, so a reload does not re-parse every key.
type loadedKey struct {
	row  store.SigningKey
	priv crypto.Signer
	jwk  jose.JSONWebKey

	// signers caches one jose.Signer per "typ" header, so Sign builds none
	// on the hot path; sync.Map reads take no lock.
	signers  sync.Map // string → jose.Signer
	nSigners atomic.Int32
}

// signer returns the cached signer for typ, building it on first use.
func (k *loadedKey) signer(typ string) (jose.Signer, error) {
	if s, ok := k.signers.Load(typ); ok {
		return s.(jose.Signer), nil
	}
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	// A JSONWebKey with a KeyID makes go-jose put "kid" in the protected
	// header (RFC 7515 §4.1.4).
	key := jose.JSONWebKey{Key: k.priv, KeyID: k.row.KID, Algorithm: k.row.Alg}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.row.Alg), Key: key}, opts)
	if err != nil {
		return nil, fmt.Errorf("key %s: new signer: %w", k.row.KID, err)
	}
	if k.nSigners.Load() < maxCachedTypes {
		actual, loaded := k.signers.LoadOrStore(typ, s)
		if !loaded {
			k.nSigners.Add(1)
		}
		return actual.(jose.Signer), nil
	}
	return s, nil
}

// snapshot is the manager's immutable view of the keys: Sign, Alg, JWKS
// and KeySet read it through an atomic pointer and never lock.
type snapshot struct {
	// active is the signing key per use; absent before Init.
	active map[Use]*loadedKey
	// byKID holds every published key, for reuse by the next snapshot.
	byKID map[string]*loadedKey
	// jwks is the JSON of set, built once per snapshot.
	jwks []byte
	set  []jose.JSONWebKey
	// fingerprint names the published keys, their states and the active
	// kids; equal fingerprints mean an identical JWKS and signers.
	fingerprint string
}

// emptySnapshot is what a manager serves before Init: no signing key and
// an empty but valid JWK Set.
func emptySnapshot() *snapshot {
	return &snapshot{
		active:      map[Use]*loadedKey{},
		byKID:       map[string]*loadedKey{},
		jwks:        []byte(`{"keys":[]}`),
		fingerprint: "",
	}
}

// stateOf reads a row's lifecycle state from its timestamps.
func stateOf(k store.SigningKey) string {
	switch {
	case !k.RetiredAt.IsZero():
		return StateRetired
	case !k.ActivatedAt.IsZero():
		return StateActive
	default:
		return StateNext
	}
}

// published reports whether a key belongs in the JWKS at now: every next
// and active key, and retired keys until their tokens have expired.
func published(k store.SigningKey, retention time.Duration, now time.Time) bool {
	return k.RetiredAt.IsZero() || now.Before(k.RetiredAt.Add(retention))
}

// newerActive orders two active keys: the later activation wins; ties (a
// coarse clock) go to the later creation, then the larger kid, so every
// node picks the same key from the same rows.
func newerActive(a, b store.SigningKey) bool {
	if c := a.ActivatedAt.Compare(b.ActivatedAt); c != 0 {
		return c > 0
	}
	if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
		return c > 0
	}
	return a.KID > b.KID
}

// currentActive returns the signing key of use among rows, if any.
func currentActive(rows []store.SigningKey, use Use) (store.SigningKey, bool) {
	var best store.SigningKey
	found := false
	for _, k := range rows {
		if Use(k.Use) != use || stateOf(k) != StateActive {
			continue
		}
		if !found || newerActive(k, best) {
			best, found = k, true
		}
	}
	return best, found
}

// buildSnapshot opens every published key of rows and assembles the next
// snapshot, reusing keys of prev whose rows are unchanged. It fails if any
// published key cannot be opened: serving a JWKS that vouches for a key the
// master key cannot prove is worse than refusing to start.
func buildSnapshot(s *Sealer, rows []store.SigningKey, prev *snapshot, retention time.Duration, now time.Time) (*snapshot, error) {
	var pub []store.SigningKey
	for _, k := range rows {
		if Use(k.Use) != UseAccess && Use(k.Use) != UseID {
			return nil, fmt.Errorf("key %s has unknown use %q", k.KID, k.Use)
		}
		if published(k, retention, now) {
			pub = append(pub, k)
		}
	}
	// Active keys first, then next, then retired; oldest first within a
	// state. Verifiers that ignore kid tend to try keys in order.
	rank := map[string]int{StateActive: 0, StateNext: 1, StateRetired: 2}
	slices.SortStableFunc(pub, func(a, b store.SigningKey) int {
		if c := cmp.Compare(rank[stateOf(a)], rank[stateOf(b)]); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.KID, b.KID)
	})

	activeKIDs := map[Use]string{}
	for _, use := range []Use{UseAccess, UseID} {
		if k, ok := currentActive(pub, use); ok {
			activeKIDs[use] = k.KID
		}
	}
	fp := fingerprint(pub, activeKIDs)
	if prev != nil && prev.fingerprint == fp {
		return prev, nil
	}

	next := &snapshot{
		active:      map[Use]*loadedKey{},
		byKID:       make(map[string]*loadedKey, len(pub)),
		set:         make([]jose.JSONWebKey, 0, len(pub)),
		fingerprint: fp,
	}
	for _, row := range pub {
		lk, err := reuseOrOpen(s, row, prev)
		if err != nil {
			return nil, err
		}
		next.byKID[row.KID] = lk
		next.set = append(next.set, lk.jwk)
	}
	for use, kid := range activeKIDs {
		lk := next.byKID[kid]
		// Build the plain signer now, so a key that cannot sign fails the
		// load instead of the first token request.
		if _, err := lk.signer(""); err != nil {
			return nil, err
		}
		next.active[use] = lk
	}
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: next.set})
	if err != nil {
		return nil, fmt.Errorf("marshal jwks: %w", err)
	}
	next.jwks = jwks
	return next, nil
}

// fingerprint digests what a snapshot serves: each published key with its
// state and material, in JWKS order, and the active kid of each use.
func fingerprint(pub []store.SigningKey, activeKIDs map[Use]string) string {
	h := sha256.New()
	field := func(b []byte) {
		// Length-prefixed, so field boundaries cannot shift.
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	for _, k := range pub {
		field([]byte(k.KID))
		field([]byte(k.Use))
		field([]byte(k.Alg))
		field([]byte(stateOf(k)))
		field(k.PrivateSealed)
		field(k.PublicJWK)
	}
	field([]byte(activeKIDs[UseAccess]))
	field([]byte(activeKIDs[UseID]))
	return string(h.Sum(nil))
}

// reuseOrOpen returns prev's loaded key for row when the stored row is
// byte-for-byte the same key, else opens it.
func reuseOrOpen(s *Sealer, row store.SigningKey, prev *snapshot) (*loadedKey, error) {
	if prev != nil {
		if lk, ok := prev.byKID[row.KID]; ok && sameKeyMaterial(lk.row, row) {
			if lk.row.ActivatedAt.Equal(row.ActivatedAt) && lk.row.RetiredAt.Equal(row.RetiredAt) {
				return lk, nil
			}
			// Only the timestamps moved: share the parsed key but give the
			// new snapshot its own row.
			return &loadedKey{row: row, priv: lk.priv, jwk: lk.jwk}, nil
		}
	}
	priv, jwk, err := openKey(s, row)
	if err != nil {
		return nil, err
	}
	return &loadedKey{row: row, priv: priv, jwk: jwk}, nil
}

// sameKeyMaterial reports whether two rows carry the same sealed key.
func sameKeyMaterial(a, b store.SigningKey) bool {
	return a.KID == b.KID && a.Alg == b.Alg && a.Use == b.Use &&
		bytes.Equal(a.PrivateSealed, b.PrivateSealed) && bytes.Equal(a.PublicJWK, b.PublicJWK)
}
