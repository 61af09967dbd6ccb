package config

import (
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// Gateway is the gateway role's configuration. Editing it and sending
// SIGHUP swaps the route table atomically; an invalid file is refused and
// the old table keeps serving.
//
// Its APIs, issuers and settings are the catalog's model (package
// catalog), read from the file; Snapshot hands them to the gateway.
type Gateway struct {
	// TrustedProxies are CIDRs whose X-Forwarded-For the gateway believes
	// when it works out the client address. Empty means none: the peer
	// address is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ClientCertHeader is the header a TLS-terminating proxy in front of
	// the gateway forwards the client certificate in, for
	// certificate-bound tokens: RFC 9440's "Client-Cert" (a structured
	// field byte sequence of the DER certificate). Empty means none is
	// read. Needs ClientCertProxies. Read at start-up only.
	ClientCertHeader string `yaml:"client_cert_header"`
	// ClientCertProxies are the addresses (CIDR prefixes or single IPs)
	// whose ClientCertHeader is believed; from anyone else the header is
	// removed unread. Needs ClientCertHeader. Read at start-up only.
	ClientCertProxies []string `yaml:"client_cert_proxies"`
	// StripHeaders are request headers removed before proxying, on top of
	// the built-in identity headers (X-User, X-User-Id, X-Remote-User,
	// X-Forwarded-User, X-Authenticated-User, X-Client-Id, X-Scopes,
	// X-Portcullis-*).
	StripHeaders []string `yaml:"strip_headers"`
	// StripHeaderPrefixes are prefixes of request headers removed before
	// proxying. Empty means ["X-Portcullis-"]; the built-in list always
	// applies.
	StripHeaderPrefixes []string `yaml:"strip_header_prefixes"`
	// TimeZone is the zone policies read times in (IANA name). Empty means
	// UTC.
	TimeZone string `yaml:"time_zone"`
	// PreAuthLimit bounds, per client address, the requests that present
	// a token, before the token is resolved (catalog.PreAuthLimit). Zero
	// means off.
	PreAuthLimit PreAuthLimit `yaml:"preauth_limit"`
	// Watch reloads the configuration when the file changes, as SIGHUP
	// does. False means reload on SIGHUP only.
	Watch bool `yaml:"watch"`
	// CatalogPoll is how often a gateway reads the stored catalog's
	// revision and, when it moved, rebuilds its route table with the
	// stored API versions (100ms to 1h). Zero means 2s.
	CatalogPoll Duration `yaml:"catalog_poll"`
	// Group is the gateway group this gateway belongs to: of the stored
	// catalog it serves only the versions whose gateways list names it
	// (a version listing none is the default group's). A lowercase name
	// (catalog.GroupNameProblem). Empty means "default"
	// (catalog.DefaultGatewayGroup). Read at start-up only.
	Group string `yaml:"group"`
	// Issuers are the authorization servers whose tokens are accepted.
	Issuers []Issuer `yaml:"issuers"`
	// APIs are the protected APIs.
	APIs []API `yaml:"apis"`
	// TokenHandler runs the OAuth agent of single-page apps on the
	// gateway listener and lets their cookies stand in for a bearer token
	// on the APIs each fronts (docs/token-handler.md). Empty means none.
	TokenHandler tokenhandler.Config `yaml:"token_handler"`
	// RateLimit is a copy of the top-level ratelimit section (plans, abuse
	// rules, backend), made by Config.ApplyDefaults and Config.Validate so
	// that Snapshot, on this section alone, carries them on every reload.
	// It is not read from or written to the gateway section of a file.
	RateLimit RateLimit `yaml:"-"`
}

// DefaultCatalogPoll is what a zero Gateway.CatalogPoll means.
const DefaultCatalogPoll = 2 * time.Second

// The model types of the gateway section, under the names the
// configuration has always used for them.
type (
	// Issuer is one trusted authorization server (catalog.Issuer).
	Issuer = catalog.Issuer
	// API is one protected API (catalog.API).
	API = catalog.API
	// Operation is one method on one path pattern of an API
	// (catalog.Operation).
	Operation = catalog.Operation
	// CORS is the cross-origin policy of an API (catalog.CORS).
	CORS = catalog.CORS
	// Timeouts toward an upstream (catalog.Timeouts).
	Timeouts = catalog.Timeouts
	// UpstreamTLS configures TLS toward an upstream (catalog.UpstreamTLS).
	UpstreamTLS = catalog.UpstreamTLS
	// Limit is one rate or quota (catalog.Limit).
	Limit = catalog.Limit
	// AbuseRule blocks a client or user rejected too often
	// (catalog.AbuseRule).
	AbuseRule = catalog.AbuseRule
	// PreAuthLimit is the per-address rate checked before token
	// resolution (catalog.PreAuthLimit).
	PreAuthLimit = catalog.PreAuthLimit
)

// ApplyDefaults fills every zero field of the gateway section with its
// default (the catalog's); Config.ApplyDefaults calls it. TimeZone stays
// empty, which means UTC.
func (g *Gateway) ApplyDefaults() {
	g.RateLimit.ApplyDefaults()
	if g.Group == "" {
		g.Group = catalog.DefaultGatewayGroup
	}
	if len(g.StripHeaderPrefixes) == 0 {
		g.StripHeaderPrefixes = catalog.DefaultStripHeaderPrefixes()
	}
	for i := range g.Issuers {
		g.Issuers[i].ApplyDefaults()
	}
	for i := range g.APIs {
		g.APIs[i].ApplyDefaults()
	}
	g.TokenHandler.ApplyDefaults()
}

// Snapshot returns the catalog the section declares, with the plans and
// abuse rules of its RateLimit copy: what gateway.New and Reload take.
// The snapshot shares the section's slices; the gateway clones what it
// keeps.
func (g *Gateway) Snapshot() catalog.Snapshot {
	return catalog.Snapshot{
		TrustedProxies:      g.TrustedProxies,
		StripHeaders:        g.StripHeaders,
		StripHeaderPrefixes: g.StripHeaderPrefixes,
		TimeZone:            g.TimeZone,
		PreAuthLimit:        g.PreAuthLimit,
		Issuers:             g.Issuers,
		APIs:                g.APIs,
		RateLimit:           g.RateLimit.model(),
	}
}
