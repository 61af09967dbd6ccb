package backendtoken

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The modes of Config.Mode.
const (
	// ModeExchange trades the caller's token for one naming the
	// backend's audience (RFC 8693 §2.1).
	ModeExchange = "exchange"
	// ModeClientCredentials presents the gateway's own token.
	ModeClientCredentials = "client_credentials"
)

// Defaults of Config.
const (
	// DefaultRefreshBefore is how long before expiry a cached token is
	// fetched again (in the background while it is still served).
	DefaultRefreshBefore = 30 * time.Second
	// DefaultMaxEntries bounds the exchanged tokens held in memory.
	DefaultMaxEntries = 100000
	// minRemaining is the least life a token must have left to be sent
	// to a backend: one about to expire would fail there.
	minRemaining = 5 * time.Second
	// fetchTimeout bounds one call to the token endpoint; it runs
	// detached from the requests that wait for it.
	fetchTimeout = 10 * time.Second
)

// Config says where and how tokens are obtained.
type Config struct {
	// Mode is ModeExchange or ModeClientCredentials.
	Mode string
	// TokenEndpoint is the authorization server's token endpoint. Empty
	// means the token_endpoint of Issuer's discovery document, found on
	// first use.
	TokenEndpoint string
	// Issuer is the authorization server's issuer identifier; used only
	// when TokenEndpoint is empty.
	Issuer string
	// ClientID and ClientSecret authenticate the gateway there
	// (client_secret_basic, RFC 6749 §2.3.1).
	ClientID     string
	ClientSecret string
	// Audience names the backend: sent as RFC 8693 audience for an
	// exchange, as RFC 8707 resource for client credentials.
	Audience []string
	// Scope is requested; empty lets the server decide.
	Scope []string
	// RefreshBefore: zero means DefaultRefreshBefore.
	RefreshBefore time.Duration
	// MaxEntries: zero means DefaultMaxEntries.
	MaxEntries int
}

// Shared is a cache the nodes of a cluster share (Redis). Values are
// already sealed when they reach it.
type Shared interface {
	Get(ctx context.Context, key string) ([]byte, bool, error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
}

// Token is an access token obtained for a backend.
type Token struct {
	Value     string
	ExpiresAt time.Time
}

// Source obtains, caches and refreshes tokens for one backend. Safe for
// concurrent use.
type Source struct {
	cfg    Config
	client *http.Client
	shared Shared // nil: this node only
	seal   *sealer
	now    func() time.Time
	log    *slog.Logger
	// ns prefixes shared keys: a digest of everything that makes a token
	// valid for this backend, so two configurations never share one.
	ns string

	mu      sync.Mutex
	entries map[string]*entry
	// endpoint is the token endpoint once known (cfg.TokenEndpoint, or
	// discovered); guarded by mu.
	endpoint string
}

type entry struct {
	tok Token
	// call is the fetch in flight for this key; nil when none.
	call *call
}

type call struct {
	done chan struct{}
	tok  Token
	err  error
}

// New returns a Source. sealKey (32 bytes) seals what goes to shared; it
// must be the same on every node. A nil client means one with a 10 s
// timeout; a nil now, time.Now.
func New(cfg Config, client *http.Client, shared Shared, sealKey []byte, logger *slog.Logger, now func() time.Time) (*Source, error) {
	switch cfg.Mode {
	case ModeExchange, ModeClientCredentials:
	default:
		return nil, fmt.Errorf("backendtoken: unknown mode %q", cfg.Mode)
	}
	if cfg.TokenEndpoint == "" && cfg.Issuer == "" || cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("backendtoken: a token endpoint or issuer, a client id and a client secret are required")
	}
	if cfg.RefreshBefore <= 0 {
		cfg.RefreshBefore = DefaultRefreshBefore
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, client: client, now: now, log: logger, entries: map[string]*entry{}, endpoint: cfg.TokenEndpoint}
	if shared != nil {
		sl, err := newSealer(sealKey)
		if err != nil {
			return nil, err
		}
		s.shared, s.seal = shared, sl
	}
	h := sha256.New()
	for _, v := range []string{cfg.Mode, cfg.TokenEndpoint, cfg.Issuer, cfg.ClientID, strings.Join(cfg.Audience, " "), strings.Join(cfg.Scope, " ")} {
		h.Write([]byte(v))
		h.Write([]byte{0})
	}
	s.ns = "backendtoken:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12]) + ":"
	return s, nil
}

// Token returns a token for the backend. subject is the caller's token
// for ModeExchange and ignored for ModeClientCredentials. A cached token
// is returned while it has life left; one close to expiry is still
// returned while a single background fetch replaces it.
func (s *Source) Token(ctx context.Context, subject string) (string, error) {
	if s.cfg.Mode == ModeExchange && subject == "" {
		return "", errors.New("backendtoken: an exchange needs the caller's token")
	}
	key := s.key(subject)
	now := s.now()
	s.mu.Lock()
	e := s.entries[key]
	if e != nil && e.tok.Value != "" && now.Add(minRemaining).Before(e.tok.ExpiresAt) {
		tok := e.tok.Value
		if e.call == nil && !now.Before(e.tok.ExpiresAt.Add(-s.cfg.RefreshBefore)) {
			e.call = s.startLocked(key, subject, false)
		}
		s.mu.Unlock()
		return tok, nil
	}
	if e == nil {
		s.evictLocked(now)
		e = &entry{}
		s.entries[key] = e
	}
	c := e.call
	if c == nil {
		c = s.startLocked(key, subject, true)
		e.call = c
	}
	s.mu.Unlock()
	select {
	case <-c.done:
		if c.err != nil {
			return "", c.err
		}
		return c.tok.Value, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// key is the cache key of a token: the subject's digest for an exchange
// (tokens are per caller), the namespace alone for client credentials.
func (s *Source) key(subject string) string {
	if s.cfg.Mode != ModeExchange {
		return s.ns + "self"
	}
	sum := sha256.Sum256([]byte(subject))
	return s.ns + base64.RawURLEncoding.EncodeToString(sum[:])
}

// startLocked starts the one fetch of key. shared says whether the
// shared cache may answer first (not when refreshing ahead: what it holds
// is likely the token being replaced).
func (s *Source) startLocked(key, subject string, shared bool) *call {
	c := &call{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		defer func() {
			if p := recover(); p != nil {
				c.err = fmt.Errorf("backendtoken: fetch panicked: %v", p)
			}
			s.finish(key, c)
		}()
		// Detached: a caller that gives up must not cancel the fetch the
		// others wait for.
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
		defer cancel()
		if shared {
			if tok, ok := s.fromShared(ctx, key); ok {
				c.tok = tok
				return
			}
		}
		c.tok, c.err = s.fetch(ctx, subject)
		if c.err == nil {
			s.toShared(ctx, key, c.tok)
		}
	}()
	return c
}

// finish records a fetch's outcome. A failed refresh keeps the token
// still held; a failed first fetch leaves nothing, so the next request
// tries again.
func (s *Source) finish(key string, c *call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.entries[key]
	if e == nil || e.call != c {
		return
	}
	e.call = nil
	if c.err == nil {
		e.tok = c.tok
		return
	}
	if e.tok.Value == "" {
		delete(s.entries, key)
	}
}

// evictLocked makes room for one more entry: expired ones go first, and
// when none has expired an arbitrary idle one goes (Go's map order), so a
// flood of distinct callers cannot grow the map without bound.
func (s *Source) evictLocked(now time.Time) {
	if len(s.entries) < s.cfg.MaxEntries {
		return
	}
	for k, e := range s.entries {
		if e.call == nil && !now.Before(e.tok.ExpiresAt) {
			delete(s.entries, k)
		}
	}
	for k, e := range s.entries {
		if len(s.entries) < s.cfg.MaxEntries {
			return
		}
		if e.call == nil {
			delete(s.entries, k)
		}
	}
}

func (s *Source) fromShared(ctx context.Context, key string) (Token, bool) {
	if s.shared == nil {
		return Token{}, false
	}
	b, ok, err := s.shared.Get(ctx, key)
	if err != nil {
		s.log.WarnContext(ctx, "shared backend token cache unavailable", "error", err)
		return Token{}, false
	}
	if !ok {
		return Token{}, false
	}
	tok, err := s.seal.open(key, b)
	if err != nil {
		s.log.WarnContext(ctx, "shared backend token entry refused", "error", err)
		return Token{}, false
	}
	if !s.now().Add(s.cfg.RefreshBefore).Before(tok.ExpiresAt) {
		return Token{}, false
	}
	return tok, true
}

func (s *Source) toShared(ctx context.Context, key string, tok Token) {
	if s.shared == nil {
		return
	}
	ttl := tok.ExpiresAt.Sub(s.now()) - s.cfg.RefreshBefore
	if ttl <= 0 {
		return
	}
	b, err := s.seal.seal(key, tok)
	if err == nil {
		err = s.shared.Set(ctx, key, b, ttl)
	}
	if err != nil {
		s.log.WarnContext(ctx, "shared backend token cache not written", "error", err)
	}
}
