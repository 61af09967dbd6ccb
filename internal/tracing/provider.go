package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Provider is the process's tracer provider, or nothing when tracing is
// off. A nil *Provider is off too, so callers need not check.
type Provider struct {
	sdk *sdktrace.TracerProvider
}

// New sets tracing up from the OTEL_* variables getenv reads (see
// readEnv); version is the service.version resource attribute. Off
// unless the variables ask for it, and then it makes no connection until
// the first batch of spans is exported. It installs nothing global.
func New(getenv func(string) string, version string) (*Provider, error) {
	s, err := readEnv(getenv)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	if !s.enabled {
		return &Provider{}, nil
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(s.endpoint)}
	if len(s.headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(s.headers))
	}
	if s.timeout > 0 {
		opts = append(opts, otlptracehttp.WithTimeout(s.timeout))
	}
	if s.gzip {
		opts = append(opts, otlptracehttp.WithCompression(otlptracehttp.GzipCompression))
	}
	// New only configures the client; the first export connects.
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	attrs := s.resource
	if version != "" {
		attrs = append(attrs, attribute.String("service.version", version))
	}
	return &Provider{sdk: sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithSampler(s.sampler),
		sdktrace.WithResource(resource.NewSchemaless(attrs...)),
	)}, nil
}

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// Tracer returns the named tracer, or nil when tracing is off: callers
// test it once where they are built and skip all span work on nil.
func (p *Provider) Tracer(name string) trace.Tracer {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.Tracer(name)
}

// Shutdown exports the spans still queued and stops the exporter, within
// ctx. A stopping node calls it after its listeners are closed, so the
// spans of the last requests are not lost.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	if err := p.sdk.Shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: shutdown: %w", err)
	}
	return nil
}
