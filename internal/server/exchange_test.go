package server

import (
	"log/slog"
	"testing"

	"github.com/portcullis/portcullis/internal/config"
)

func TestTokenExchangeWiring(t *testing.T) {
	cfg := config.Default()
	off, err := tokenExchange(t.Context(), cfg, "https://as.example", slog.New(slog.DiscardHandler), nil)
	if err != nil || off != nil {
		t.Fatalf("disabled: tokenExchange() = %v, %v, want nil, nil", off, err)
	}
	cfg.TokenExchange = config.TokenExchange{
		Enabled: true,
		// Nothing listens there: the server still starts, and the
		// issuer's tokens are refused until its keys load.
		TrustedIssuers: []config.TrustedIssuer{{Issuer: "http://127.0.0.1:1"}},
		Rules:          []config.ExchangeRule{{Name: "r", Clients: []string{"a"}, Audiences: []string{"b"}}},
	}
	on, err := tokenExchange(t.Context(), cfg, "https://as.example", slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatalf("enabled: tokenExchange() error = %v", err)
	}
	if on.Policy == nil || on.MaxTTL != config.DefaultExchangeMaxTTL || on.Issuers["http://127.0.0.1:1"] == nil {
		t.Errorf("enabled: tokenExchange() = %+v, want a policy, the default TTL and the issuer's verifier", on)
	}
}
