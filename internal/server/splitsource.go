package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/store"
)

// tokenReader is the part of the authorization server's store a
// storeSplitSource reads: the token stored under a digest, or store.ErrNotFound.
type tokenReader interface {
	GetToken(ctx context.Context, digest []byte) (store.Token, error)
}

// storeSplitSource is the gateway's phantom.SplitSource on a node that
// shares the authorization server's database: it reads split tokens
// straight from the authorization server's store (or its in-process
// cache), in process. Safe for concurrent use if the reader is.
type storeSplitSource struct {
	r   tokenReader
	now func() time.Time
}

var (
	_ phantom.SplitSource = (*storeSplitSource)(nil)
	_ tokenReader         = (*store.DB)(nil)
)

// newStoreSplitSource returns a source reading r; now is the clock that decides
// expiry (nil means time.Now). It panics if r is nil.
func newStoreSplitSource(r tokenReader, now func() time.Time) *storeSplitSource {
	if r == nil {
		panic("phantom: newStoreSplitSource needs a token reader")
	}
	if now == nil {
		now = time.Now
	}
	return &storeSplitSource{r: r, now: now}
}

// HeaderPayload returns the header.payload part of the split access token
// stored under digest. Unknown, revoked or expired tokens, refresh tokens
// and tokens of another format are all ErrInactive alike: RFC 7662 §2.2
// reveals nothing more about a token that is not active, and neither does
// the gateway. A store failure is ErrUnavailable.
func (s *storeSplitSource) HeaderPayload(ctx context.Context, digest []byte) (string, error) {
	t, err := s.r.GetToken(ctx, digest)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", phantom.ErrInactive
	case err != nil:
		return "", fmt.Errorf("%w: %w", phantom.ErrUnavailable, err)
	}
	// The store returns expired and revoked rows as they are; activity
	// is decided here, the same way the introspection endpoint decides.
	if t.Kind != store.KindAccess || t.Format != store.FormatSplit || t.Revoked ||
		!s.now().Before(t.ExpiresAt) || t.Payload == "" {
		return "", phantom.ErrInactive
	}
	return t.Payload, nil
}
