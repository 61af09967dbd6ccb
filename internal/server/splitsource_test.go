package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

// epoch is the fixed clock of these tests.
var epoch = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// issuerName is the issuer of the test tokens.
const issuerName = "https://issuer.test"

// fakeReader answers GetToken with one fixed token or error.
type fakeReader struct {
	tok store.Token
	err error
}

func (r fakeReader) GetToken(_ context.Context, digest []byte) (store.Token, error) {
	if r.err != nil {
		return store.Token{}, r.err
	}
	if string(digest) != string(r.tok.Digest) {
		return store.Token{}, fmt.Errorf("get token: %w", store.ErrNotFound)
	}
	return r.tok, nil
}

func TestStoreSplitSource(t *testing.T) {
	now := epoch
	digest := token.Digest("signature")
	active := store.Token{
		Digest:    digest,
		Kind:      store.KindAccess,
		Format:    store.FormatSplit,
		Payload:   "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9",
		IssuedAt:  now.Add(-time.Minute),
		ExpiresAt: now.Add(time.Minute),
	}
	with := func(change func(*store.Token)) store.Token {
		t := active
		change(&t)
		return t
	}
	tests := []struct {
		name    string
		r       fakeReader
		digest  []byte
		want    string
		wantErr error
	}{
		{name: "active", r: fakeReader{tok: active}, digest: digest, want: active.Payload},
		{name: "not found", r: fakeReader{tok: active}, digest: token.Digest("other"), wantErr: phantom.ErrInactive},
		{name: "revoked", r: fakeReader{tok: with(func(t *store.Token) { t.Revoked = true })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "expires now", r: fakeReader{tok: with(func(t *store.Token) { t.ExpiresAt = now })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "expired", r: fakeReader{tok: with(func(t *store.Token) { t.ExpiresAt = now.Add(-time.Second) })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "refresh token", r: fakeReader{tok: with(func(t *store.Token) { t.Kind = store.KindRefresh })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "opaque format", r: fakeReader{tok: with(func(t *store.Token) { t.Format = store.FormatOpaque })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "jwt format", r: fakeReader{tok: with(func(t *store.Token) { t.Format = store.FormatJWT })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "no payload", r: fakeReader{tok: with(func(t *store.Token) { t.Payload = "" })}, digest: digest, wantErr: phantom.ErrInactive},
		{name: "store down", r: fakeReader{err: errors.New("connection refused")}, digest: digest, wantErr: phantom.ErrUnavailable},
		{name: "cancelled", r: fakeReader{err: context.Canceled}, digest: digest, wantErr: phantom.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := newStoreSplitSource(tc.r, func() time.Time { return now })
			got, err := src.HeaderPayload(t.Context(), tc.digest)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("HeaderPayload err = %v, want %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("HeaderPayload = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestStoreSplitSourceWithResolver runs a split token end to end over the
// store adapter: issued, resolved, revoked (visible after MaxTTL).
func TestStoreSplitSourceWithResolver(t *testing.T) {
	clock := phantomtest.NewClock(epoch)
	iss := phantomtest.NewIssuer(t, issuerName)
	jwt := iss.AccessToken(t, "alice", "list_items", clock.Now(), clock.Now().Add(time.Hour))
	hp, sig, err := token.Split(jwt)
	if err != nil {
		t.Fatal(err)
	}
	r := &fakeReader{tok: store.Token{
		Digest: token.Digest(sig), Kind: store.KindAccess, Format: store.FormatSplit,
		Payload: hp, ExpiresAt: clock.Now().Add(time.Hour),
	}}
	src := newStoreSplitSource(readerFunc(func(ctx context.Context, d []byte) (store.Token, error) {
		return r.GetToken(ctx, d)
	}), clock.Now)
	res := phantom.NewSplitResolver(src, iss.Verifier(clock.Now), phantom.IntrospectorConfig{MaxTTL: 30 * time.Second}, nil, clock.Now)

	got, err := res.Resolve(t.Context(), sig)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got.JWT != jwt {
		t.Errorf("Resolve JWT = %q, want %q", got.JWT, jwt)
	}
	r.tok.Revoked = true
	clock.Advance(30 * time.Second)
	if _, err := res.Resolve(t.Context(), sig); !errors.Is(err, phantom.ErrInactive) {
		t.Errorf("Resolve after revocation and MaxTTL err = %v, want ErrInactive", err)
	}
}

type readerFunc func(ctx context.Context, digest []byte) (store.Token, error)

func (f readerFunc) GetToken(ctx context.Context, digest []byte) (store.Token, error) {
	return f(ctx, digest)
}
