package gateway

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
)

// largeCatalog is cfg with its first API copied into n API versions of
// ops operations each, as a big stored catalog makes them.
func largeCatalog(cfg catalog.Snapshot, n, ops int) catalog.Snapshot {
	proto := cfg.APIs[0]
	cfg.APIs = make([]catalog.API, 0, n)
	for i := range n {
		api := proto
		api.Name = fmt.Sprintf("api%04d", i)
		api.BasePath = fmt.Sprintf("/api%04d/v1", i)
		api.OpenAPI = ""
		api.Operations = make([]catalog.Operation, ops)
		for j := range ops {
			method := "GET"
			if j%2 == 1 {
				method = "POST"
			}
			api.Operations[j] = catalog.Operation{
				Method: method,
				Path:   fmt.Sprintf("/resource%02d/{id}", j/2),
				Scopes: []string{"list_items"},
			}
		}
		cfg.APIs = append(cfg.APIs, api)
	}
	return cfg
}

// BenchmarkReloadLargeCatalog builds and swaps the route table of 1,000
// API versions with 20 operations each: what a gateway does on every
// catalog change.
func BenchmarkReloadLargeCatalog(b *testing.B) {
	is := gatewaytest.NewIssuer(b)
	snap := largeCatalog(warehouseConfig(is, gatewaytest.NewUpstream(b)), 1000, 20)
	gw, err := New(b.Context(), Options{
		Catalog:     snap,
		SplitSource: is.SplitSource(),
		Getenv:      func(string) string { return is.ClientSecret },
		Logger:      slog.New(slog.DiscardHandler),
		Metrics:     prometheus.NewRegistry(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := gw.Reload(b.Context(), snap); err != nil {
			b.Fatal(err)
		}
	}
}
