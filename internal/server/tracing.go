package server

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/tracing"
)

// Tracer names (the instrumentation scope of each part's spans) and the
// authorization server's request span.
const (
	tracerGateway = "github.com/portcullis/portcullis/internal/gateway"
	tracerOAuth   = "github.com/portcullis/portcullis/internal/oauth"
	tracerAuthz   = "github.com/portcullis/portcullis/internal/server"
	tracerStore   = "github.com/portcullis/portcullis/internal/store"
	spanAuthz     = "authz.request"
)

// tracingFlushTimeout bounds how long a stopping node waits for its last
// spans to reach the collector: a collector that is down must not hold
// the shutdown.
const tracingFlushTimeout = 5 * time.Second

// setupTracing reads the OTEL_* environment through getenv and, when it
// turns tracing on, returns logger stamping trace and span ids on lines
// logged inside a span. Off, it returns logger unchanged.
func setupTracing(getenv func(string) string, logger *slog.Logger) (*tracing.Provider, *slog.Logger, error) {
	tp, err := tracing.New(getenv, "")
	if err != nil {
		return nil, nil, err
	}
	if !tp.Enabled() {
		return tp, logger, nil
	}
	logger.Info("tracing on: spans are exported over OTLP/HTTP", "component", "tracing")
	return tp, slog.New(tracing.LogHandler(logger.Handler())), nil
}

// closeTracing exports the spans still queued, within
// tracingFlushTimeout.
func (w *wiring) closeTracing() error {
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	return w.tracing.Shutdown(ctx)
}

// tracedStore makes a client span of each store call the authorization
// server makes, so a token request's trace shows its database time. Only
// the operation is recorded: never a digest, an id or a value.
type tracedStore struct {
	next    oauth.Store
	tracer  trace.Tracer
	dialect string
}

var _ oauth.Store = tracedStore{}

// tracedStore wraps s when tracing is on; otherwise s itself.
func (w *wiring) tracedStore(s oauth.Store) oauth.Store {
	t := w.tracing.Tracer(tracerStore)
	if t == nil {
		return s
	}
	return tracedStore{next: s, tracer: t, dialect: w.db.Dialect()}
}

func (s tracedStore) start(ctx context.Context, op string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "store."+op,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", s.dialect),
			attribute.String("db.operation.name", op),
		))
}

// end ends span, marking it failed unless err is nil or a not-found,
// which is an answer rather than a failure. The error's text is not
// recorded.
func end(span trace.Span, err error) {
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		span.SetStatus(codes.Error, "")
	}
	span.End()
}

func (s tracedStore) GetClient(ctx context.Context, id string) (store.Client, error) {
	ctx, span := s.start(ctx, "GetClient")
	c, err := s.next.GetClient(ctx, id)
	end(span, err)
	return c, err
}

func (s tracedStore) GetUser(ctx context.Context, id string) (store.User, error) {
	ctx, span := s.start(ctx, "GetUser")
	u, err := s.next.GetUser(ctx, id)
	end(span, err)
	return u, err
}

func (s tracedStore) CreateToken(ctx context.Context, t store.Token) error {
	ctx, span := s.start(ctx, "CreateToken")
	err := s.next.CreateToken(ctx, t)
	end(span, err)
	return err
}

func (s tracedStore) GetToken(ctx context.Context, digest []byte) (store.Token, error) {
	ctx, span := s.start(ctx, "GetToken")
	t, err := s.next.GetToken(ctx, digest)
	end(span, err)
	return t, err
}

func (s tracedStore) RevokeToken(ctx context.Context, digest []byte) error {
	ctx, span := s.start(ctx, "RevokeToken")
	err := s.next.RevokeToken(ctx, digest)
	end(span, err)
	return err
}

func (s tracedStore) RevokeGrant(ctx context.Context, grantID string) (int64, error) {
	ctx, span := s.start(ctx, "RevokeGrant")
	n, err := s.next.RevokeGrant(ctx, grantID)
	end(span, err)
	return n, err
}

func (s tracedStore) UseRefreshToken(ctx context.Context, digest []byte, clientID string, now time.Time) (store.Token, error) {
	ctx, span := s.start(ctx, "UseRefreshToken")
	t, err := s.next.UseRefreshToken(ctx, digest, clientID, now)
	end(span, err)
	return t, err
}

func (s tracedStore) CreateCode(ctx context.Context, c store.AuthCode) error {
	ctx, span := s.start(ctx, "CreateCode")
	err := s.next.CreateCode(ctx, c)
	end(span, err)
	return err
}

func (s tracedStore) ConsumeCode(ctx context.Context, digest []byte, clientID string, now time.Time) (store.AuthCode, error) {
	ctx, span := s.start(ctx, "ConsumeCode")
	c, err := s.next.ConsumeCode(ctx, digest, clientID, now)
	end(span, err)
	return c, err
}

func (s tracedStore) GetConsent(ctx context.Context, subject, clientID string) (store.Consent, error) {
	ctx, span := s.start(ctx, "GetConsent")
	c, err := s.next.GetConsent(ctx, subject, clientID)
	end(span, err)
	return c, err
}

func (s tracedStore) SaveConsent(ctx context.Context, c store.Consent) error {
	ctx, span := s.start(ctx, "SaveConsent")
	err := s.next.SaveConsent(ctx, c)
	end(span, err)
	return err
}
