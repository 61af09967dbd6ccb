package gateway

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

// BenchmarkGatewayTracing is BenchmarkGateway's JWT and phantom paths
// with tracing on: every request sampled (spans batched to an exporter
// that drops them, so the export's network cost is not counted), and
// every request sampled out (tracing on, ratio 0).
func BenchmarkGatewayTracing(b *testing.B) {
	for _, c := range []struct {
		name    string
		sampler sdktrace.Sampler
	}{
		{"sampled", sdktrace.AlwaysSample()},
		{"unsampled", sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0))},
	} {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(c.sampler), sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		is, _, gw := benchEnvWith(b, func(o *Options) { o.Tracer = tp.Tracer("bench") })
		claims := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}}
		b.Run(c.name+"/jwt", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.JWT(b, claims)) })
		b.Run(c.name+"/phantom", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.Opaque(b, claims)) })
	}
}
