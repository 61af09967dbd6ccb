package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/printable"
)

// LoginThrottle limits password guessing at the login form, per account
// and per client address (identity.ThrottleConfig). Every zero field
// means its default.
type LoginThrottle struct {
	// MaxFailures is how many failures in a row lock an account. Zero
	// means 5.
	MaxFailures int `yaml:"max_failures"`
	// BaseLock is the first account lock; each further failure doubles
	// it. Zero means 30s.
	BaseLock Duration `yaml:"base_lock"`
	// MaxLock caps the account lock; failures are forgotten after
	// 2×MaxLock without one. Zero means 15m.
	MaxLock Duration `yaml:"max_lock"`
	// MaxAddrFailures is how many failures from one client address (an
	// IPv4 address or an IPv6 /64) within AddrWindow lock that address
	// out of every account. Zero means 50; -1 turns the address limit off
	// (behind a reverse proxy every login shares the proxy's address).
	MaxAddrFailures int `yaml:"max_addr_failures"`
	// AddrWindow is the window MaxAddrFailures counts in. Zero means 15m.
	AddrWindow Duration `yaml:"addr_window"`
	// AddrLock is how long a locked address stays locked. Zero means 15m.
	AddrLock Duration `yaml:"addr_lock"`
	// MaxEntries bounds the accounts, and separately the addresses, the
	// throttle tracks in memory. Zero means 100000.
	MaxEntries int `yaml:"max_entries"`
}

// Clients sets how clients authenticate.
type Clients struct {
	// LegacyTokenEndpointAudience also accepts the token endpoint URL as
	// the audience of a private_key_jwt client assertion (RFC 7523 §3),
	// not only the issuer identifier. False (the default) follows
	// draft-ietf-oauth-rfc7523bis: an endpoint-URL audience is what the
	// 2025 audience-injection attack exploits.
	LegacyTokenEndpointAudience bool `yaml:"legacy_token_endpoint_audience"`
	// MTLS turns on mutual-TLS client authentication and
	// certificate-bound access tokens (RFC 8705); off by default.
	MTLS ClientMTLS `yaml:"mtls,omitempty"`
}

// The login throttle defaults, as the field comments state them (the
// same as identity.ThrottleConfig's).
const (
	defaultThrottleMaxFailures     = 5
	defaultThrottleBaseLock        = 30 * time.Second
	defaultThrottleMaxLock         = 15 * time.Minute
	defaultThrottleMaxAddrFailures = 50
	defaultThrottleAddrWindow      = 15 * time.Minute
	defaultThrottleAddrLock        = 15 * time.Minute
	defaultThrottleMaxEntries      = 100000

	// maxThrottleCount bounds the failure counts; maxThrottleEntries the
	// tables (each entry costs about 200 bytes).
	maxThrottleCount   = 100000
	maxThrottleEntries = 10000000
)

// ApplyDefaults fills every zero field with its default;
// Config.ApplyDefaults calls it. MaxAddrFailures -1 (off) is kept.
func (t *LoginThrottle) ApplyDefaults() {
	if t.MaxFailures == 0 {
		t.MaxFailures = defaultThrottleMaxFailures
	}
	setDuration(&t.BaseLock, defaultThrottleBaseLock)
	setDuration(&t.MaxLock, defaultThrottleMaxLock)
	if t.MaxAddrFailures == 0 {
		t.MaxAddrFailures = defaultThrottleMaxAddrFailures
	}
	setDuration(&t.AddrWindow, defaultThrottleAddrWindow)
	setDuration(&t.AddrLock, defaultThrottleAddrLock)
	if t.MaxEntries == 0 {
		t.MaxEntries = defaultThrottleMaxEntries
	}
}

// loginThrottle checks the login_throttle section. Negative durations
// never get here: the parser refuses them with their line.
func (v *validator) loginThrottle() {
	t := v.c.LoginThrottle
	const f = "login_throttle."
	if t.MaxFailures < 1 || t.MaxFailures > maxThrottleCount {
		v.add(f+"max_failures", fmt.Sprintf("%d is not a number from 1 to %d", t.MaxFailures, maxThrottleCount), nil)
	}
	v.duration(f+"base_lock", t.BaseLock, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.duration(f+"max_lock", t.MaxLock, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	if t.MaxLock < t.BaseLock && t.BaseLock > 0 {
		v.add(f+"max_lock", fmt.Sprintf("%s is shorter than base_lock (%s)", t.MaxLock, t.BaseLock), nil)
	}
	if t.MaxAddrFailures != -1 && (t.MaxAddrFailures < 1 || t.MaxAddrFailures > maxThrottleCount) {
		v.add(f+"max_addr_failures", fmt.Sprintf("%d is not a number from 1 to %d, or -1 (off)", t.MaxAddrFailures, maxThrottleCount), nil)
	}
	v.duration(f+"addr_window", t.AddrWindow, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.duration(f+"addr_lock", t.AddrLock, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	if t.MaxEntries < 1 || t.MaxEntries > maxThrottleEntries {
		v.add(f+"max_entries", fmt.Sprintf("%d is not a number from 1 to %d", t.MaxEntries, maxThrottleEntries), nil)
	}
}

// resources checks tokens.resources: absolute URIs without fragment
// (RFC 8707 §2), each once.
func (v *validator) resources() {
	res := v.c.Tokens.Resources
	for i, r := range res {
		field := fmt.Sprintf("tokens.resources[%d]", i)
		if msg := resourceProblem(r); msg != "" {
			v.add(field, msg, nil)
		} else if slices.Contains(res[:i], r) {
			v.add(field, fmt.Sprintf("%q is listed twice", r), nil)
		}
	}
}

// resourceProblem says what keeps s from being a resource indicator (RFC
// 8707 §2: an absolute URI without a fragment; RFC 7519 §4.1.3 makes aud
// a StringOrURI, and a URN such as urn:portcullis:api:warehouse is one),
// or "" when nothing does.
func resourceProblem(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs():
		return "must be an absolute URI such as https://api.example.com or urn:example:api (RFC 8707 §2)"
	case strings.Contains(s, "#"):
		return "must not have a fragment (RFC 8707 §2)"
	case strings.IndexFunc(s, printable.IsSpaceOrControl) >= 0:
		return "must not contain spaces or control characters"
	}
	return ""
}

// ResourceServers returns the audiences the authorization server at issuer
// may issue access tokens for at a client's request (the RFC 8707
// resource parameter) when the client has no audiences of its own:
// tokens.resources, then the audiences of every gateway API that trusts
// issuer's tokens, in file order and each once. tokens.default_audience
// is allowed by the authorization server itself. Gateway audiences that
// are not URIs are left out: a resource indicator is always one.
func (c *Config) ResourceServers(issuer string) []string {
	out := slices.Clone(c.Tokens.Resources)
	issuer = strings.TrimSuffix(issuer, "/")
	snap := catalog.Snapshot{Issuers: c.Gateway.Issuers, APIs: c.Gateway.APIs}
	for i := range snap.APIs {
		api := &snap.APIs[i]
		is := snap.IssuerFor(api)
		if is == nil || strings.TrimSuffix(is.Issuer, "/") != issuer {
			continue
		}
		for _, aud := range api.Audiences {
			if resourceProblem(aud) == "" && !slices.Contains(out, aud) {
				out = append(out, aud)
			}
		}
	}
	return out
}
