package gateway

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
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
		is := gatewaytest.NewIssuer(b)
		up := gatewaytest.NewBenchUpstream(b)
		cfg := warehouseConfig(is, gatewaytest.NewUpstream(b))
		cfg.APIs[0].Upstream = up.URL() + "/backend"
		cfg.APIs[0].CORS = nil
		ctx, cancel := context.WithCancel(context.Background())
		b.Cleanup(cancel)
		gw, err := New(ctx, Options{
			Catalog:     cfg,
			SplitSource: is.SplitSource(),
			Getenv:      func(string) string { return is.ClientSecret },
			Logger:      slog.New(slog.DiscardHandler),
			Metrics:     prometheus.NewRegistry(),
			Tracer:      tp.Tracer("bench"),
		})
		if err != nil {
			b.Fatal(err)
		}
		claims := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"}}
		b.Run(c.name+"/jwt", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.JWT(b, claims)) })
		b.Run(c.name+"/phantom", func(b *testing.B) { runParallel(b, gw, "/warehouse/items/42", is.Opaque(b, claims)) })
	}
}
