package oauth

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// startSpan starts the span of an endpoint's request when tracing is on
// (Options.Tracer), returning r with the span in its context; otherwise r
// and a nil span, and no work. The caller ends a non-nil span.
func (s *Server) startSpan(r *http.Request, name string) (*http.Request, trace.Span) {
	if s.o.Tracer == nil {
		return r, nil
	}
	ctx, span := s.o.Tracer.Start(r.Context(), name)
	return r.WithContext(ctx), span
}

// traceRequest records who asked and for which grant on span (nil when
// tracing is off). The grant type is one of the names the server knows,
// never the client's text, and no value of the form is recorded: they
// hold codes, refresh tokens, secrets and assertions.
func traceRequest(span trace.Span, clientID, grantType string) {
	if span == nil {
		return
	}
	switch grantType {
	case "client_credentials", "authorization_code", "refresh_token", grantTokenExchange:
	default:
		grantType = "other"
	}
	span.SetAttributes(
		attribute.String("oauth.client_id", clientID),
		attribute.String("oauth.grant_type", grantType),
	)
}

// traceRefusal records the RFC 6749 §5.2 error code of a refused request
// on the span of r's context, when tracing is on. The code is from the
// RFC's fixed vocabulary; the description is not recorded.
func (s *Server) traceRefusal(r *http.Request, e oauthError) {
	if s.o.Tracer == nil {
		return
	}
	if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
		span.SetAttributes(attribute.String("oauth.error", e.Code))
		if e.Status >= http.StatusInternalServerError {
			span.SetStatus(codes.Error, e.Code)
		}
	}
}
