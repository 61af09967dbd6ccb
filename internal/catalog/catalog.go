// Package catalog is the model of what the gateway serves: APIs and their
// operations, the issuers whose tokens they accept, rate limits, plans and
// abuse rules, CORS, and the gateway-wide settings a route table is built
// from. It owns the one validation of that model, used by the YAML
// configuration and by the gateway alike (and, later, by the admin API and
// `portcullis apply`), with errors that name the field.
//
// The model types carry YAML tags, so the gateway section of the
// configuration file (and an apply file) decodes straight into them.
//
// It must never import the configuration or the store (they depend on
// it, not the other way round), and never do I/O: no files, no network,
// no environment. File paths in the model (OpenAPI documents, secret and
// certificate files) are read by whoever builds from it.
package catalog

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"time"
	// Time zones are checked and loaded from the embedded database, so a
	// zone means the same on every host (or a scratch container).
	_ "time/tzdata"
)

// Snapshot is everything a gateway's route table is built from: the
// gateway-wide settings, the issuers, the APIs and the rate-limit plans
// and abuse rules. A snapshot is a value: Clone before editing one that
// someone else may hold.
type Snapshot struct {
	// TrustedProxies are CIDRs (or single addresses) whose
	// X-Forwarded-For the gateway believes when it works out the client
	// address. Empty means none: the peer address is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// StripHeaders are request headers removed before proxying, on top
	// of the built-in identity headers.
	StripHeaders []string `yaml:"strip_headers"`
	// StripHeaderPrefixes are prefixes of request headers removed before
	// proxying. Empty means ["X-Portcullis-"].
	StripHeaderPrefixes []string `yaml:"strip_header_prefixes"`
	// TimeZone is the zone policies read times in (IANA name). Empty
	// means UTC.
	TimeZone string `yaml:"time_zone"`
	// PreAuthLimit bounds, per client address, the requests that present
	// a token, before the token is resolved. Zero means off.
	PreAuthLimit PreAuthLimit `yaml:"preauth_limit"`
	// Issuers are the authorization servers whose tokens are accepted.
	Issuers []Issuer `yaml:"issuers"`
	// APIs are the protected APIs.
	APIs []API `yaml:"apis"`
	// RateLimit holds the plans, client assignments and abuse rules.
	RateLimit RateLimits `yaml:"ratelimit"`
}

// PreAuthLimit is a rate per client address that every request
// presenting a token is counted against before its token is resolved
// (verified, introspected or looked up), so one address cannot make the
// gateway ask the authorization server about token after token. It
// counts in each gateway node's memory. The address is the client's as
// the gateway works it out (TrustedProxies); IPv6 clients are counted
// per /64, the least a host is usually given. A request over the rate is
// refused with 429 and Retry-After.
type PreAuthLimit struct {
	// Rate is "N/s", "N/m" or "N/h" per client address. Empty means no
	// pre-authentication limit: addresses behind one NAT share it, so
	// set it only as high as your busiest shared address needs.
	Rate string `yaml:"rate"`
	// Burst is how many requests an address may make at once. Zero
	// means N.
	Burst int64 `yaml:"burst"`
}

// Source yields the catalog a gateway serves: the YAML gateway section
// today, the store's published API versions later. A gateway asks again
// on every reload.
type Source interface {
	Snapshot(ctx context.Context) (Snapshot, error)
}

// defaultStripHeaderPrefixes is the zero value's meaning of
// Snapshot.StripHeaderPrefixes.
var defaultStripHeaderPrefixes = []string{"X-Portcullis-"}

// DefaultStripHeaderPrefixes returns what an empty StripHeaderPrefixes
// means, as a new slice.
func DefaultStripHeaderPrefixes() []string { return slices.Clone(defaultStripHeaderPrefixes) }

// ApplyDefaults fills every zero field with its default, in place.
// TimeZone stays empty, which means UTC (see Location).
func (s *Snapshot) ApplyDefaults() {
	setList(&s.StripHeaderPrefixes, defaultStripHeaderPrefixes)
	for i := range s.Issuers {
		s.Issuers[i].ApplyDefaults()
	}
	for i := range s.APIs {
		s.APIs[i].ApplyDefaults()
	}
	s.RateLimit.ApplyDefaults()
}

// Clone returns a deep copy of s, so that applying defaults to it or
// editing it leaves the original (and whoever shares it) alone.
func (s Snapshot) Clone() Snapshot {
	s.TrustedProxies = slices.Clone(s.TrustedProxies)
	s.StripHeaders = slices.Clone(s.StripHeaders)
	s.StripHeaderPrefixes = slices.Clone(s.StripHeaderPrefixes)
	s.Issuers = slices.Clone(s.Issuers)
	for i := range s.Issuers {
		s.Issuers[i].Algorithms = slices.Clone(s.Issuers[i].Algorithms)
	}
	s.APIs = slices.Clone(s.APIs)
	for i := range s.APIs {
		s.APIs[i] = s.APIs[i].clone()
	}
	s.RateLimit = s.RateLimit.clone()
	return s
}

// Location is the zone policies read times in: TimeZone loaded, UTC when
// it is empty. A zone Validate would refuse also gives UTC, so an
// unvalidated snapshot cannot make a policy read the host's local time.
func (s *Snapshot) Location() *time.Location { return loadZone(s.TimeZone) }

// QuotaLocation is the zone calendar quota windows start in:
// RateLimit.TimeZone, else the gateway's zone (see Location).
func (s *Snapshot) QuotaLocation() *time.Location {
	if s.RateLimit.TimeZone == "" {
		return s.Location()
	}
	return loadZone(s.RateLimit.TimeZone)
}

// loadZone loads an IANA zone; empty, "Local" and unknown names give UTC.
func loadZone(tz string) *time.Location {
	if tz == "" || tz == "Local" {
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return time.UTC
	}
	return loc
}

// IssuerFor returns the issuer whose tokens api accepts: the one its
// Issuer field names, or the only one when that is empty. It returns nil
// when there is none (a public API on a gateway without issuers, or a
// snapshot Validate would refuse). The result points into s.Issuers.
func (s *Snapshot) IssuerFor(api *API) *Issuer {
	if api.Issuer == "" {
		if len(s.Issuers) == 1 {
			return &s.Issuers[0]
		}
		return nil
	}
	for i := range s.Issuers {
		if s.Issuers[i].Issuer == api.Issuer {
			return &s.Issuers[i]
		}
	}
	return nil
}

// LimitsEnabled reports whether anything needs a rate-limit backend: a
// plan limit, an API or operation limit, or an abuse rule.
func (s *Snapshot) LimitsEnabled() bool {
	if len(s.RateLimit.Abuse) > 0 {
		return true
	}
	for _, limits := range s.RateLimit.Plans {
		if len(limits) > 0 {
			return true
		}
	}
	for _, a := range s.APIs {
		if len(a.Limits) > 0 {
			return true
		}
		for _, op := range a.Operations {
			if len(op.Limits) > 0 {
				return true
			}
		}
	}
	return false
}

// TrustedProxyPrefixes returns TrustedProxies parsed (see
// ParseTrustedProxy). Entries Validate would refuse are left out, so an
// unvalidated snapshot trusts less, never more.
func (s *Snapshot) TrustedProxyPrefixes() []netip.Prefix {
	out := make([]netip.Prefix, 0, len(s.TrustedProxies))
	for _, p := range s.TrustedProxies {
		if p, ok := ParseTrustedProxy(p); ok {
			out = append(out, p)
		}
	}
	return out
}

// ParseTrustedProxy reads a CIDR prefix or a single address (a prefix
// holding just it). A prefix with bits set beyond its length (10.1.2.3/16,
// most likely a typo) and addresses with a zone are refused. Peers are
// compared unmapped, so IPv4-mapped IPv6 entries become IPv4 ones.
func ParseTrustedProxy(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" || p != p.Masked() {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() {
			// Masked, a mapped prefix has at least 96 bits: the ffff
			// marker ends at bit 96.
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96), true
		}
		return p, true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func setList(l *[]string, def []string) {
	if len(*l) == 0 {
		*l = slices.Clone(def)
	}
}

func setString(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDuration(d *Duration, def time.Duration) {
	if *d == 0 {
		*d = Duration(def)
	}
}
