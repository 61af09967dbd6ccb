package verify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/portcullis/portcullis/pkg/issuer"
)

// The token types a Verifier accepts by default (RFC 8725 §3.11).
const (
	// TypeAccessToken is the typ of a JWT access token (RFC 9068 §2.1):
	// what the gateway forwards when the client itself held a JWT.
	TypeAccessToken = "at+jwt"
	// TypePhantomToken is the typ of the JWT the gateway forwards for an
	// opaque or split token: an access token's claims, typed apart so it
	// cannot be presented at the gateway's edge by whoever reads it here.
	TypePhantomToken = "phantom+jwt"
)

// Defaults of Config.
const (
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultMaxTokenSize bounds a token, in bytes, before it is parsed.
	DefaultMaxTokenSize = 8 << 10
	// DefaultKeysTTL is how long a fetched key set is used before it is
	// fetched again.
	DefaultKeysTTL = 5 * time.Minute
	// DefaultKeysMaxStale is how long past its TTL a key set is still
	// used while the issuer cannot be reached.
	DefaultKeysMaxStale = time.Hour
	// DefaultMinRefetchInterval is the least time between two fetches of
	// the key set that were not due (an unknown kid, a retry after a
	// failure), so junk kids cannot turn a backend against its issuer.
	DefaultMinRefetchInterval = 10 * time.Second
)

// defaultAlgorithms are the algorithms accepted when Config names none.
var defaultAlgorithms = []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}

// defaultTypes are the typ headers accepted when Config names none: what
// the gateway forwards.
var defaultTypes = []string{TypeAccessToken, TypePhantomToken}

// Config says which tokens a Verifier accepts and where it finds the
// issuer's keys. Issuer and Audience are required; every other field has
// a default, named in its comment, that its zero value selects.
type Config struct {
	// Issuer is the authorization server's issuer identifier, e.g.
	// "https://auth.example.com". The iss claim must equal it exactly
	// (RFC 8725 §3.8), and so must the issuer named in its discovery
	// document. It must be https (http only on a loopback host) with no
	// query or fragment (RFC 8414 §2).
	Issuer string
	// Audience identifies this backend, e.g.
	// "urn:portcullis:api:warehouse"; the aud claim must contain it
	// (RFC 8725 §3.9), so a token minted for another API is refused.
	Audience string
	// JWKSURL is where the issuer publishes its JWK Set. Empty means it
	// is read from the issuer's discovery document
	// (/.well-known/openid-configuration, then the RFC 8414
	// /.well-known/oauth-authorization-server). Same URL rules as Issuer.
	JWKSURL string
	// Algorithms are the accepted JWS algorithms. Empty means ES256,
	// ES384, RS256, PS256 and EdDSA. Only asymmetric algorithms may be
	// named: New refuses "none" and HS256/384/512.
	Algorithms []string
	// Types are the accepted typ headers, compared case-insensitively
	// and with an optional "application/" prefix (RFC 7515 §4.1.9).
	// Empty means TypeAccessToken and TypePhantomToken.
	Types []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Zero means
	// DefaultLeeway; negative is an error.
	Leeway time.Duration
	// MaxTokenSize bounds a token in bytes. Zero means
	// DefaultMaxTokenSize; negative is an error.
	MaxTokenSize int
	// KeysTTL is how long a fetched key set is used before it is fetched
	// again (in the background; requests keep using the cached set).
	// Zero means DefaultKeysTTL.
	KeysTTL time.Duration
	// KeysMaxStale is how long past KeysTTL a key set is still used
	// while refetches fail. After that, tokens are refused with
	// ErrKeysUnavailable: a key the issuer withdrew must not be trusted
	// forever because the issuer cannot be reached. Zero means
	// DefaultKeysMaxStale.
	KeysMaxStale time.Duration
	// MinRefetchInterval is the least time between fetches that were not
	// due: an unknown kid, or a retry after a failed fetch. Zero means
	// DefaultMinRefetchInterval.
	MinRefetchInterval time.Duration
	// HTTPClient fetches the discovery document and the key set. Nil
	// means a client with a 10 s timeout. Redirects are limited to three,
	// must obey the URL rules above and never leave https for http.
	HTTPClient *http.Client
	// Logger receives key set changes and fetch failures (never a
	// token). Nil discards them.
	Logger *slog.Logger
	// Now is the clock. Nil means time.Now.
	Now func() time.Time
}

// settings is a Config with its defaults applied and checked.
type settings struct {
	Config
}

// resolve applies defaults to cfg and validates it. It never fetches.
func resolve(cfg Config) (settings, error) {
	s := settings{cfg}
	if err := issuer.CheckIdentifier(cfg.Issuer); err != nil {
		return s, fmt.Errorf("verify: issuer: %w", err)
	}
	if cfg.Audience == "" {
		return s, errors.New("verify: an audience is required")
	}
	if cfg.JWKSURL != "" {
		if _, err := issuer.CheckURL(cfg.JWKSURL); err != nil {
			return s, fmt.Errorf("verify: jwks url: %w", err)
		}
	}
	if len(cfg.Algorithms) == 0 {
		s.Algorithms = defaultAlgorithms
	}
	for _, a := range s.Algorithms {
		if !issuer.SignatureAlgorithm(a) {
			return s, fmt.Errorf("verify: algorithm %q is not an asymmetric JWS algorithm", a)
		}
	}
	s.Algorithms = slices.Clone(s.Algorithms)
	if len(cfg.Types) == 0 {
		s.Types = defaultTypes
	}
	for _, t := range s.Types {
		if t == "" {
			return s, errors.New("verify: an accepted type must not be empty")
		}
	}
	s.Types = slices.Clone(s.Types)
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"leeway", &s.Leeway, DefaultLeeway},
		{"keys ttl", &s.KeysTTL, DefaultKeysTTL},
		{"keys max stale", &s.KeysMaxStale, DefaultKeysMaxStale},
		{"min refetch interval", &s.MinRefetchInterval, DefaultMinRefetchInterval},
	}
	for _, d := range durations {
		switch {
		case *d.v < 0:
			return s, fmt.Errorf("verify: %s must not be negative", d.name)
		case *d.v == 0:
			*d.v = d.def
		}
	}
	switch {
	case s.MaxTokenSize < 0:
		return s, errors.New("verify: max token size must not be negative")
	case s.MaxTokenSize == 0:
		s.MaxTokenSize = DefaultMaxTokenSize
	}
	if s.HTTPClient == nil {
		s.HTTPClient = &http.Client{Timeout: issuer.FetchTimeout}
	}
	s.HTTPClient = issuer.RestrictRedirects(s.HTTPClient)
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	return s, nil
}
