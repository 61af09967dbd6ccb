package phantom

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/store"
)

// TokenReader is the part of the authorization server's store a
// StoreSource reads: the token stored under a digest, or store.ErrNotFound.
type TokenReader interface {
	GetToken(ctx context.Context, digest []byte) (store.Token, error)
}

// StoreSource is the SplitSource of a single node: it reads split tokens
// straight from the authorization server's store (or its in-process
// cache), in process. Safe for concurrent use if the reader is.
type StoreSource struct {
	r   TokenReader
	now func() time.Time
}

var (
	_ SplitSource = (*StoreSource)(nil)
	_ TokenReader = (*store.DB)(nil)
)

// NewStoreSource returns a source reading r; now is the clock that decides
// expiry (nil means time.Now). It panics if r is nil.
func NewStoreSource(r TokenReader, now func() time.Time) *StoreSource {
	if r == nil {
		panic("phantom: NewStoreSource needs a token reader")
	}
	if now == nil {
		now = time.Now
	}
	return &StoreSource{r: r, now: now}
}

// HeaderPayload returns the header.payload part of the split access token
// stored under digest. Unknown, revoked or expired tokens, refresh tokens
// and tokens of another format are all ErrInactive alike: RFC 7662 §2.2
// reveals nothing more about a token that is not active, and neither does
// the gateway. A store failure is ErrUnavailable.
func (s *StoreSource) HeaderPayload(ctx context.Context, digest []byte) (string, error) {
	t, err := s.r.GetToken(ctx, digest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", ErrInactive
	case err != nil:
		return "", fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	// The store returns expired and revoked rows as they are; activity
	// is decided here, the same way the introspection endpoint decides.
	if t.Kind != store.KindAccess || t.Format != store.FormatSplit || t.Revoked ||
		!s.now().Before(t.ExpiresAt) || t.Payload == "" {
		return "", ErrInactive
	}
	return t.Payload, nil
}
