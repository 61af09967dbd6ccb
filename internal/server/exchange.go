package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/oauth"
	"github.com/portcullis/portcullis/internal/token"
)

// tokenExchange builds the token exchange grant (RFC 8693) from the
// token_exchange section; nil when it is off. Each trusted issuer gets
// the JWKS cache and verifier the gateway uses for its issuers, refreshed
// until ctx ends. An issuer whose keys cannot be fetched at start does
// not stop the server: its tokens are refused until they can (fail
// closed), and the cache keeps retrying.
func tokenExchange(ctx context.Context, cfg *config.Config, issuer string, logger *slog.Logger, now func() time.Time) (*oauth.ExchangeOptions, error) {
	x := cfg.TokenExchange
	if !x.Enabled {
		return nil, nil
	}
	p, err := x.Policy()
	if err != nil {
		return nil, fmt.Errorf("token exchange policy: %w", err)
	}
	opts := &oauth.ExchangeOptions{Policy: p, MaxTTL: x.TTL(), Issuers: map[string]*token.Verifier{}}
	log := logger.With("component", "token_exchange")
	for _, is := range x.TrustedIssuers {
		cache := token.NewJWKSCache(token.JWKSConfig{Issuer: is.Issuer, JWKSURI: is.JWKSURI}, log, now)
		if err := cache.Start(ctx); err != nil {
			log.Warn("trusted issuer keys not loaded yet; its tokens are refused until they are",
				"issuer", is.Issuer, "err", err)
		}
		auds := is.Audiences
		if len(auds) == 0 {
			auds = []string{issuer}
		}
		types := is.Types
		if len(types) == 0 {
			types = []string{token.TypeAccessJWT, "JWT"}
		}
		v, err := token.NewVerifier(token.VerifierConfig{Issuer: is.Issuer, Audiences: auds, Types: types}, cache, now)
		if err != nil {
			return nil, fmt.Errorf("token exchange: trusted issuer %s: %w", is.Issuer, err)
		}
		opts.Issuers[is.Issuer] = v
	}
	return opts, nil
}
