package keys_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/keys"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// clock is an injected, manually advanced time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var testMaster = bytes.Repeat([]byte{0x42}, 32)

func newManager(t testing.TB, st keys.Store, master []byte, cfg keys.Config, c *clock) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(st, master, cfg, nil, c.now)
	if err != nil {
		t.Fatalf("NewManager() error = %v", err)
	}
	return m
}

func initManager(t testing.TB, st keys.Store, cfg keys.Config, c *clock) *keys.Manager {
	t.Helper()
	m := newManager(t, st, testMaster, cfg, c)
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("Init() error = %v", err)
	}
	return m
}

func list(t testing.TB, m *keys.Manager) []keys.KeyInfo {
	t.Helper()
	infos, err := m.List(context.Background())
	if err != nil {
		t.Fatalf("List() error = %v", err)
	}
	return infos
}

func activeOf(t testing.TB, m *keys.Manager, use keys.Use) keys.KeyInfo {
	t.Helper()
	for _, k := range list(t, m) {
		if k.Use == use && k.State == keys.StateActive {
			return k
		}
	}
	t.Fatalf("no active %s key", use)
	return keys.KeyInfo{}
}

func nextOf(t testing.TB, m *keys.Manager, use keys.Use) keys.KeyInfo {
	t.Helper()
	for _, k := range list(t, m) {
		if k.Use == use && k.State == keys.StateNext {
			return k
		}
	}
	t.Fatalf("no next %s key", use)
	return keys.KeyInfo{}
}

// jwksKIDs parses JWKS() and returns its key ids in order.
func jwksKIDs(t testing.TB, m *keys.Manager) []string {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(m.JWKS(), &set); err != nil {
		t.Fatalf("JWKS() is not a JWK Set: %v", err)
	}
	var kids []string
	for _, k := range set.Keys {
		if !k.IsPublic() || k.Use != "sig" || k.Algorithm == "" {
			t.Errorf("published key %s: public %v, use %q, alg %q", k.KeyID, k.IsPublic(), k.Use, k.Algorithm)
		}
		kids = append(kids, k.KeyID)
	}
	return kids
}

// verify checks a token against m's KeySet, allowing only alg, and returns
// its protected header.
func verify(t testing.TB, m *keys.Manager, token, alg string) (jose.Header, []byte) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
	if err != nil {
		t.Fatalf("ParseSignedCompact() error = %v", err)
	}
	h := jws.Signatures[0].Protected
	candidates := m.KeySet().Key(h.KeyID)
	if len(candidates) != 1 {
		t.Fatalf("KeySet().Key(%q) found %d keys, want 1", h.KeyID, len(candidates))
	}
	payload, err := jws.Verify(candidates[0])
	if err != nil {
		t.Fatalf("Verify() error = %v", err)
	}
	return h, payload
}

func TestInitGeneratesActiveAndNextForEachUse(t *testing.T) {
	st := newMemStore()
	c := newClock()
	m := initManager(t, st, keys.Config{}, c)

	want := map[keys.Use]map[string][]string{
		keys.UseAccess: {keys.StateActive: {"ES256"}, keys.StateNext: {"ES256"}},
		keys.UseID:     {keys.StateActive: {"RS256"}, keys.StateNext: {"RS256"}},
	}
	infos := list(t, m)
	for use, w := range want {
		if diff := cmp.Diff(w, byState(infos, use)); diff != "" {
			t.Errorf("%s keys after Init (-want +got):\n%s", use, diff)
		}
	}
	for _, k := range infos {
		if !k.CreatedAt.Equal(c.now()) {
			t.Errorf("key %s CreatedAt = %v, want %v", k.KID, k.CreatedAt, c.now())
		}
		if len(k.KID) < 22 {
			t.Errorf("kid %q is shorter than 128 bits of base64url", k.KID)
		}
	}
	if got := len(jwksKIDs(t, m)); got != 4 {
		t.Errorf("JWKS has %d keys, want 4", got)
	}
	if got, want := m.Alg(keys.UseAccess), "ES256"; got != want {
		t.Errorf("Alg(access) = %q, want %q", got, want)
	}
	if got, want := m.Alg(keys.UseID), "RS256"; got != want {
		t.Errorf("Alg(id) = %q, want %q", got, want)
	}

	// A second Init (a restart) finds nothing missing.
	writes := st.writeCount()
	c.advance(time.Hour)
	if err := m.Init(context.Background()); err != nil {
		t.Fatalf("second Init() error = %v", err)
	}
	if got := st.writeCount(); got != writes {
		t.Errorf("second Init() made %d writes, want none", got-writes)
	}
}

func TestPrivateKeysAreSealed(t *testing.T) {
	st := newMemStore()
	m := initManager(t, st, keys.Config{}, newClock())
	for _, k := range list(t, m) {
		row := st.get(k.KID)
		if len(row.PrivateSealed) == 0 || row.PrivateSealed[0] != 1 {
			t.Errorf("key %s: sealed private key missing or unversioned", k.KID)
		}
		// PKCS #8 DER starts with a SEQUENCE tag and INTEGER 0 version.
		if bytes.Contains(row.PrivateSealed, []byte{0x02, 0x01, 0x00, 0x30}) {
			t.Errorf("key %s: sealed blob looks like plain PKCS #8", k.KID)
		}
		if bytes.Contains(row.PublicJWK, []byte(`"d"`)) {
			t.Errorf("key %s: public JWK holds a private parameter", k.KID)
		}
	}
	if bytes.Contains(m.JWKS(), []byte(`"d":`)) {
		t.Error("JWKS holds a private parameter")
	}
}

func TestSignVerifiesForEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			m := initManager(t, newMemStore(), keys.Config{AccessAlg: alg, IDAlg: alg}, newClock())
			for _, use := range []keys.Use{keys.UseAccess, keys.UseID} {
				for _, typ := range []string{"at+jwt", "JWT", ""} {
					payload := []byte(fmt.Sprintf(`{"sub":"alice","use":%q}`, use))
					token, err := m.Sign(use, typ, payload)
					if err != nil {
						t.Fatalf("Sign(%s, %q) error = %v", use, typ, err)
					}
					h, got := verify(t, m, token, alg)
					if !bytes.Equal(got, payload) {
						t.Errorf("payload = %s, want %s", got, payload)
					}
					if want := activeOf(t, m, use).KID; h.KeyID != want {
						t.Errorf("kid = %q, want the active %s key %q", h.KeyID, use, want)
					}
					if h.Algorithm != alg {
						t.Errorf("alg = %q, want %q", h.Algorithm, alg)
					}
					gotTyp, hasTyp := h.ExtraHeaders["typ"]
					if typ == "" && hasTyp {
						t.Errorf("typ header = %v, want none", gotTyp)
					}
					if typ != "" && gotTyp != typ {
						t.Errorf("typ header = %v, want %q", gotTyp, typ)
					}
				}
			}
			if got := m.Alg(keys.UseAccess); got != alg {
				t.Errorf("Alg(access) = %q, want %q", got, alg)
			}
		})
	}
}

func TestSignRejectsOtherAlgorithms(t *testing.T) {
	// A verifier that allows only RS256 must not accept our ES256 tokens:
	// the header alg is what go-jose checks against the allow-list.
	m := initManager(t, newMemStore(), keys.Config{}, newClock())
	token, err := m.Sign(keys.UseAccess, "at+jwt", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256}); err == nil {
		t.Error("ParseSignedCompact() with an RS256 allow-list accepted an ES256 token")
	}
}

func TestBeforeInit(t *testing.T) {
	m := newManager(t, newMemStore(), testMaster, keys.Config{}, newClock())
	if _, err := m.Sign(keys.UseAccess, "", []byte(`{}`)); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("Sign() before Init error = %v, want ErrNoActiveKey", err)
	}
	if got, want := string(m.JWKS()), `{"keys":[]}`; got != want {
		t.Errorf("JWKS() before Init = %s, want %s", got, want)
	}
	if got := len(m.KeySet().Keys); got != 0 {
		t.Errorf("KeySet() before Init has %d keys", got)
	}
	if got := m.Alg(keys.UseID); got != "" {
		t.Errorf("Alg() before Init = %q, want empty", got)
	}
	if _, err := m.Sign("refresh", "", nil); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("Sign(unknown use) error = %v, want ErrNoActiveKey", err)
	}
}

func TestRotateAndPurge(t *testing.T) {
	st := newMemStore()
	c := newClock()
	cfg := keys.Config{Retention: 2 * time.Hour}
	m := initManager(t, st, cfg, c)
	ctx := context.Background()

	oldActive := activeOf(t, m, keys.UseAccess)
	oldNext := nextOf(t, m, keys.UseAccess)
	idActive := activeOf(t, m, keys.UseID)
	tokenBefore, err := m.Sign(keys.UseAccess, "at+jwt", []byte(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}

	c.advance(time.Hour)
	rotatedAt := c.now()
	got, err := m.Rotate(ctx, keys.UseAccess)
	if err != nil {
		t.Fatalf("Rotate() error = %v", err)
	}
	if got.KID != oldNext.KID || got.State != keys.StateActive || !got.ActivatedAt.Equal(rotatedAt) {
		t.Errorf("Rotate() = %+v, want the old next key %s active since %v", got, oldNext.KID, rotatedAt)
	}
	newNext := nextOf(t, m, keys.UseAccess)
	if newNext.KID == oldNext.KID || newNext.KID == oldActive.KID {
		t.Errorf("new next key %s reuses an old kid", newNext.KID)
	}

	states := map[string]string{}
	for _, k := range list(t, m) {
		states[k.KID] = k.State
	}
	wantStates := map[string]string{
		oldActive.KID: keys.StateRetired,
		oldNext.KID:   keys.StateActive,
		newNext.KID:   keys.StateNext,
		idActive.KID:  keys.StateActive,
	}
	for kid, want := range wantStates {
		if states[kid] != want {
			t.Errorf("state of %s = %q, want %q", kid, states[kid], want)
		}
	}
	if ra := st.get(oldActive.KID).RetiredAt; !ra.Equal(rotatedAt) {
		t.Errorf("old active RetiredAt = %v, want %v", ra, rotatedAt)
	}

	token, err := m.Sign(keys.UseAccess, "at+jwt", []byte(`{"n":2}`))
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := verify(t, m, token, "ES256"); h.KeyID != oldNext.KID {
		t.Errorf("after Rotate, signing kid = %q, want %q", h.KeyID, oldNext.KID)
	}
	// Tokens of the retired key still verify while it is published.
	verify(t, m, tokenBefore, "ES256")

	steps := []struct {
		name      string
		advance   time.Duration
		wantPurge int
		published bool
	}{
		{"just before retention", 2*time.Hour - time.Second, 0, true},
		{"at retention", time.Second, 1, false},
		{"later", time.Hour, 0, false},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			if step.published {
				if err := m.Reload(ctx); err != nil {
					t.Fatal(err)
				}
			}
			c.advance(step.advance)
			n, err := m.Purge(ctx)
			if err != nil {
				t.Fatalf("Purge() error = %v", err)
			}
			if n != step.wantPurge {
				t.Errorf("Purge() = %d, want %d", n, step.wantPurge)
			}
			inJWKS := false
			for _, kid := range jwksKIDs(t, m) {
				inJWKS = inJWKS || kid == oldActive.KID
			}
			if inJWKS != step.published {
				t.Errorf("retired key in JWKS = %v, want %v", inJWKS, step.published)
			}
			stillStored := st.get(oldActive.KID).KID != ""
			if stillStored != step.published {
				t.Errorf("retired key stored = %v, want %v", stillStored, step.published)
			}
		})
	}
}

func TestRotateOrdersJWKS(t *testing.T) {
	c := newClock()
	m := initManager(t, newMemStore(), keys.Config{}, c)
	oldActive := activeOf(t, m, keys.UseAccess)
	c.advance(time.Minute)
	if _, err := m.Rotate(context.Background(), keys.UseAccess); err != nil {
		t.Fatal(err)
	}
	kids := jwksKIDs(t, m)
	// Active keys lead so verifiers that ignore kid try them first; the
	// retired key comes last.
	if kids[0] != activeOf(t, m, keys.UseAccess).KID && kids[0] != activeOf(t, m, keys.UseID).KID {
		t.Errorf("JWKS starts with %s, want an active key", kids[0])
	}
	if last := kids[len(kids)-1]; last != oldActive.KID {
		t.Errorf("JWKS ends with %s, want the retired key %s", last, oldActive.KID)
	}
}

func TestRotateUnknownUse(t *testing.T) {
	st := newMemStore()
	m := initManager(t, st, keys.Config{}, newClock())
	writes := st.writeCount()
	if _, err := m.Rotate(context.Background(), "refresh"); !errors.Is(err, keys.ErrUnknownUse) {
		t.Errorf("Rotate(refresh) error = %v, want ErrUnknownUse", err)
	}
	if st.writeCount() != writes {
		t.Error("a refused Rotate wrote to the store")
	}
}

func TestReloadPicksUpRotationFromAnotherProcess(t *testing.T) {
	st := newMemStore()
	c := newClock()
	server := initManager(t, st, keys.Config{}, c)
	cli := initManager(t, st, keys.Config{}, c)

	jwksBefore := server.JWKS()
	c.advance(time.Minute)
	rotated, err := cli.Rotate(context.Background(), keys.UseID)
	if err != nil {
		t.Fatal(err)
	}
	if got := activeKIDOfToken(t, server, keys.UseID); got == rotated.KID {
		t.Fatal("server signed with the new key before Reload")
	}
	if err := server.Reload(context.Background()); err != nil {
		t.Fatalf("Reload() error = %v", err)
	}
	if got := activeKIDOfToken(t, server, keys.UseID); got != rotated.KID {
		t.Errorf("after Reload, server signs with %q, want %q", got, rotated.KID)
	}
	if bytes.Equal(server.JWKS(), jwksBefore) {
		t.Error("JWKS unchanged after Reload of a rotation")
	}

	// A reload with nothing changed keeps the same JWKS bytes.
	jwks := server.JWKS()
	if err := server.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(server.JWKS(), jwks) {
		t.Error("JWKS changed on a Reload with no change")
	}
}

func activeKIDOfToken(t testing.TB, m *keys.Manager, use keys.Use) string {
	t.Helper()
	token, err := m.Sign(use, "", []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	h, _ := verify(t, m, token, m.Alg(use))
	return h.KeyID
}

func TestAlgorithmChangeTakesEffectAtRotation(t *testing.T) {
	st := newMemStore()
	c := newClock()
	ctx := context.Background()
	initManager(t, st, keys.Config{}, c) // ES256 access keys

	c.advance(time.Minute)
	m := initManager(t, st, keys.Config{AccessAlg: "PS256"}, c)
	if got := m.Alg(keys.UseAccess); got != "ES256" {
		t.Errorf("Alg(access) after Init with a new alg = %q, want ES256 until rotation", got)
	}
	want := map[string][]string{keys.StateActive: {"ES256"}, keys.StateNext: {"ES256", "PS256"}}
	if diff := cmp.Diff(want, byState(list(t, m), keys.UseAccess)); diff != "" {
		t.Errorf("access keys after Init (-want +got):\n%s", diff)
	}

	c.advance(time.Minute)
	got, err := m.Rotate(ctx, keys.UseAccess)
	if err != nil {
		t.Fatal(err)
	}
	if got.Alg != "PS256" || m.Alg(keys.UseAccess) != "PS256" {
		t.Errorf("Rotate() activated %s, Alg() = %s; want PS256", got.Alg, m.Alg(keys.UseAccess))
	}
	want = map[string][]string{
		keys.StateActive:  {"PS256"},
		keys.StateNext:    {"PS256"},
		keys.StateRetired: {"ES256", "ES256"}, // the old active and the stale next
	}
	if diff := cmp.Diff(want, byState(list(t, m), keys.UseAccess)); diff != "" {
		t.Errorf("access keys after Rotate (-want +got):\n%s", diff)
	}
	activeKIDOfToken(t, m, keys.UseAccess)
}

func TestRotateWithoutPublishedNextKey(t *testing.T) {
	// The CLI may rotate with a new algorithm without Init having
	// published a key of it: rotation still switches, with a fresh key.
	st := newMemStore()
	c := newClock()
	ctx := context.Background()
	initManager(t, st, keys.Config{}, c)
	m := newManager(t, st, testMaster, keys.Config{AccessAlg: "EdDSA"}, c)
	got, err := m.Rotate(ctx, keys.UseAccess)
	if err != nil {
		t.Fatal(err)
	}
	if got.Alg != "EdDSA" {
		t.Errorf("Rotate() activated %s, want EdDSA", got.Alg)
	}
	want := map[string][]string{
		keys.StateActive:  {"EdDSA"},
		keys.StateNext:    {"EdDSA"},
		keys.StateRetired: {"ES256", "ES256"},
	}
	if diff := cmp.Diff(want, byState(list(t, m), keys.UseAccess)); diff != "" {
		t.Errorf("access keys after Rotate (-want +got):\n%s", diff)
	}
}

func TestWrongMasterKeyFailsClearly(t *testing.T) {
	st := newMemStore()
	c := newClock()
	initManager(t, st, keys.Config{}, c)
	writes := st.writeCount()

	other := bytes.Repeat([]byte{0x43}, 32)
	m := newManager(t, st, other, keys.Config{}, c)
	ctx := context.Background()
	err := m.Init(ctx)
	if !errors.Is(err, keys.ErrOpen) {
		t.Fatalf("Init() with the wrong master key error = %v, want ErrOpen", err)
	}
	if want := "wrong master key"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("Init() error %q does not say %q", err, want)
	}
	if _, err := m.Rotate(ctx, keys.UseAccess); !errors.Is(err, keys.ErrOpen) {
		t.Errorf("Rotate() with the wrong master key error = %v, want ErrOpen", err)
	}
	if err := m.Reload(ctx); !errors.Is(err, keys.ErrOpen) {
		t.Errorf("Reload() with the wrong master key error = %v, want ErrOpen", err)
	}
	if st.writeCount() != writes {
		t.Error("a manager with the wrong master key wrote to the store")
	}
	if _, err := m.Sign(keys.UseAccess, "", nil); !errors.Is(err, keys.ErrNoActiveKey) {
		t.Errorf("Sign() error = %v, want ErrNoActiveKey", err)
	}
}

func TestTamperedRowsAreRefused(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(victim, donor store.SigningKey) store.SigningKey
	}{
		{"public key swapped", func(v, d store.SigningKey) store.SigningKey {
			// An attacker with database access publishes their own key.
			var jwk map[string]any
			json.Unmarshal(d.PublicJWK, &jwk)
			jwk["kid"] = v.KID
			v.PublicJWK, _ = json.Marshal(jwk)
			return v
		}},
		{"sealed blob moved to another kid", func(v, d store.SigningKey) store.SigningKey {
			v.PrivateSealed = d.PrivateSealed
			return v
		}},
		{"alg relabelled", func(v, d store.SigningKey) store.SigningKey {
			v.Alg = "RS256"
			return v
		}},
		{"unknown use", func(v, d store.SigningKey) store.SigningKey {
			v.Use = "refresh"
			return v
		}},
		{"sealed blob corrupted", func(v, d store.SigningKey) store.SigningKey {
			v.PrivateSealed = bytes.Clone(v.PrivateSealed)
			v.PrivateSealed[5] ^= 1
			return v
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newMemStore()
			c := newClock()
			m := initManager(t, st, keys.Config{}, c)
			victim := st.get(nextOf(t, m, keys.UseAccess).KID)
			donor := st.get(activeOf(t, m, keys.UseAccess).KID)
			st.put(tt.tamper(victim, donor))
			jwks := m.JWKS()

			if err := m.Reload(context.Background()); err == nil {
				t.Error("Reload() accepted a tampered key")
			}
			if !bytes.Equal(m.JWKS(), jwks) {
				t.Error("a failed Reload changed the JWKS")
			}
			fresh := newManager(t, st, testMaster, keys.Config{}, c)
			if err := fresh.Init(context.Background()); err == nil {
				t.Error("Init() accepted a tampered key")
			}
		})
	}
}

func TestInitRepairsDuplicateActiveKeys(t *testing.T) {
	// Two nodes starting on an empty database at once each create an
	// active key; the newest activation wins everywhere.
	c := newClock()
	st := newMemStore()
	m := initManager(t, st, keys.Config{}, c)
	older := activeOf(t, m, keys.UseAccess)

	other := newMemStore()
	c.advance(time.Second)
	initManager(t, other, keys.Config{}, c)
	newer := activeOf(t, newManager(t, other, testMaster, keys.Config{}, c), keys.UseAccess)
	st.put(other.get(newer.KID))

	if err := m.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := activeKIDOfToken(t, m, keys.UseAccess); got != newer.KID {
		t.Errorf("with two active keys, signing kid = %q, want the newest %q", got, newer.KID)
	}
	if err := m.Init(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := st.get(older.KID).RetiredAt; !got.Equal(c.now()) {
		t.Errorf("superseded key RetiredAt = %v, want %v", got, c.now())
	}
	if got := activeKIDOfToken(t, m, keys.UseAccess); got != newer.KID {
		t.Errorf("after Init, signing kid = %q, want %q", got, newer.KID)
	}
}

func TestNewManagerRejectsBadInput(t *testing.T) {
	tests := []struct {
		name   string
		st     keys.Store
		master []byte
		cfg    keys.Config
	}{
		{"nil store", nil, testMaster, keys.Config{}},
		{"short master", newMemStore(), testMaster[:16], keys.Config{}},
		{"HS256", newMemStore(), testMaster, keys.Config{AccessAlg: "HS256"}},
		{"none", newMemStore(), testMaster, keys.Config{IDAlg: "none"}},
		{"ES384", newMemStore(), testMaster, keys.Config{AccessAlg: "ES384"}},
		{"negative retention", newMemStore(), testMaster, keys.Config{Retention: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := keys.NewManager(tt.st, tt.master, tt.cfg, nil, nil); err == nil {
				t.Error("NewManager() error = nil, want an error")
			}
		})
	}
}

func TestReturnedValuesAreCopies(t *testing.T) {
	m := initManager(t, newMemStore(), keys.Config{}, newClock())
	j := m.JWKS()
	want := string(j)
	j[0] = 'X'
	if string(m.JWKS()) != want {
		t.Error("modifying JWKS() output changed the manager's JWKS")
	}
	ks := m.KeySet()
	n := len(ks.Keys)
	ks.Keys[0].KeyID = "evil"
	ks.Keys = ks.Keys[:0]
	if got := m.KeySet(); len(got.Keys) != n || got.Keys[0].KeyID == "evil" {
		t.Error("modifying KeySet() output changed the manager's key set")
	}
}

func TestConcurrentSignDuringRotation(t *testing.T) {
	c := newClock()
	m := initManager(t, newMemStore(), keys.Config{Retention: time.Hour}, c)
	var wg sync.WaitGroup
	tokens := make(chan string, 400)
	for range 4 {
		wg.Go(func() {
			for range 100 {
				tok, err := m.Sign(keys.UseAccess, "at+jwt", []byte(`{}`))
				if err != nil {
					t.Error(err)
					return
				}
				m.JWKS()
				tokens <- tok
			}
		})
	}
	for range 3 {
		c.advance(time.Minute)
		if _, err := m.Rotate(context.Background(), keys.UseAccess); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(tokens)
	for tok := range tokens {
		verify(t, m, tok, "ES256")
	}
}

func BenchmarkSign(b *testing.B) {
	payload := []byte(`{"iss":"https://as.example","sub":"alice","aud":"warehouse","exp":1893456000,"scope":"list_items"}`)
	for _, alg := range []string{"ES256", "RS256", "PS256", "EdDSA"} {
		b.Run(alg, func(b *testing.B) {
			m := initManager(b, newMemStore(), keys.Config{AccessAlg: alg}, newClock())
			if alg[0] == 'R' || alg[0] == 'P' {
				b.ReportMetric(float64(keys.RSABits()), "rsa-bits")
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := m.Sign(keys.UseAccess, "at+jwt", payload); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// TestSignIssuesLowS: about half of raw ECDSA signatures have a high S;
// every token signed here must carry the low-S form, so a verifier that
// refuses high S (token.VerifierConfig.RequireLowS) accepts all of them.
func TestSignIssuesLowS(t *testing.T) {
	m := initManager(t, newMemStore(), keys.Config{}, newClock())
	for i := range 64 {
		tok, err := m.Sign(keys.UseAccess, "at+jwt", []byte(`{"i":`+strconv.Itoa(i)+`}`))
		if err != nil {
			t.Fatal(err)
		}
		canon, err := token.CanonicalECDSA(tok)
		if err != nil {
			t.Fatal(err)
		}
		if canon != tok {
			t.Fatalf("token %d was signed with a high S", i)
		}
	}
}
