package catalog

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/printable"
)

// issuerAlgs are the JWS algorithms an issuer may allow: asymmetric only
// (RFC 8725 §3.1, §3.2). HS* would let anyone holding the public key
// forge tokens, and none needs no key at all.
var issuerAlgs = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

// gateway checks the gateway-wide settings, the issuers and the APIs.
func (v *validator) gateway() {
	s := v.s
	for i, p := range s.TrustedProxies {
		if _, ok := ParseTrustedProxy(p); !ok {
			v.add(v.gw(fmt.Sprintf("trusted_proxies[%d]", i)), proxyMsg(p), nil)
		}
	}
	v.headerNames(v.gw("strip_headers"), s.StripHeaders)
	v.headerNames(v.gw("strip_header_prefixes"), s.StripHeaderPrefixes)
	loc := v.timeZone(v.gw("time_zone"), s.TimeZone)
	v.preAuthLimit()
	for i := range s.Issuers {
		v.issuer(i)
	}
	for i := range s.APIs {
		v.api(i, loc)
	}
}

// preAuthLimit checks preauth_limit: a rate when set, a burst only with
// one.
func (v *validator) preAuthLimit() {
	p := v.s.PreAuthLimit
	switch {
	case p.Rate != "":
		if _, _, err := ParseRate(p.Rate); err != nil {
			v.add(v.gw("preauth_limit.rate"), err.Error(), nil)
		}
		if p.Burst < 0 || p.Burst > MaxLimitCount {
			v.add(v.gw("preauth_limit.burst"), fmt.Sprintf("must be between 0 (the rate's N) and %d", MaxLimitCount), nil)
		}
	case p.Burst != 0:
		v.add(v.gw("preauth_limit.burst"), "needs a rate", nil)
	}
}

// proxyMsg says what is wrong with a trusted proxy entry.
func proxyMsg(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil && p != p.Masked() {
		return fmt.Sprintf("%q has bits set past its prefix length: write %s", s, p.Masked())
	}
	return fmt.Sprintf("%q is not a CIDR prefix (10.0.0.0/8, 2001:db8::/32) or an IP address", s)
}

// headerNames checks a list of header names (or name prefixes): each a
// field-name token (RFC 9110 §5.1), listed once.
func (v *validator) headerNames(field string, names []string) {
	seen := make(map[string]bool, len(names))
	for i, name := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		key := strings.ToLower(name)
		switch {
		case !isHTTPToken(name):
			v.add(f, fmt.Sprintf("%q is not a header name: letters, digits and !#$%%&'*+-.^_`|~ (RFC 9110 §5.1)", name), nil)
		case seen[key]:
			v.add(f, fmt.Sprintf("%q is listed twice (header names ignore case)", name), nil)
		}
		seen[key] = true
	}
}

// issuer checks issuers[i].
func (v *validator) issuer(i int) {
	s := v.s
	is := &s.Issuers[i]
	f := v.gw(fmt.Sprintf("issuers[%d]", i))
	switch {
	case is.Issuer == "":
		v.add(f+".issuer", "must not be empty: the issuer URL, as in its tokens' iss claim", nil)
	case IssuerURLProblem(is.Issuer) != "":
		v.add(f+".issuer", IssuerURLProblem(is.Issuer), nil)
	default:
		if j := slices.IndexFunc(s.Issuers[:i], func(o Issuer) bool { return o.Issuer == is.Issuer }); j >= 0 {
			v.add(f+".issuer", fmt.Sprintf("is the same issuer as %s", v.gw(fmt.Sprintf("issuers[%d]", j))), nil)
		}
	}
	v.endpointURL(f+".jwks_uri", is.JWKSURI)
	v.endpointURL(f+".introspection_url", is.IntrospectionURL)
	for k, alg := range is.Algorithms {
		af := fmt.Sprintf("%s.algorithms[%d]", f, k)
		switch {
		case !contains(issuerAlgs, alg):
			v.add(af, fmt.Sprintf("%q is not one of %s: none and HMAC (HS*) are never accepted (RFC 8725 §3.1, §3.2)", alg, strings.Join(issuerAlgs, ", ")), nil)
		case contains(is.Algorithms[:k], alg):
			v.add(af, fmt.Sprintf("%q is listed twice", alg), nil)
		}
	}
	// The gateway authenticates at the introspection endpoint with
	// client_secret_basic (RFC 7662 §2.1): a client id and one place to
	// read its secret from.
	hasFile, hasEnv := is.ClientSecretFile != "", is.ClientSecretEnv != ""
	switch {
	case is.ClientID == "" && (hasFile || hasEnv):
		v.add(f+".client_id", "must be set when client_secret_file or client_secret_env is", nil)
	case is.ClientID != "" && hasFile && hasEnv:
		v.add(f+".client_secret_env", "set only one of client_secret_file and client_secret_env", nil)
	case is.ClientID != "" && !hasFile && !hasEnv:
		v.add(f+".client_id", "needs client_secret_file or client_secret_env to read the secret from (the secret itself never goes in this file)", nil)
	}
	if is.ClientID != "" && printable.HasControl(is.ClientID) {
		v.add(f+".client_id", "must not contain control characters", nil)
	}
	if hasEnv && !envName.MatchString(is.ClientSecretEnv) {
		v.add(f+".client_secret_env", "is not an environment variable name: letters, digits and _, not starting with a digit", nil)
	}
	if hasFile && printable.HasControl(is.ClientSecretFile) {
		v.add(f+".client_secret_file", "must not contain control characters", nil)
	}
	// The cache bound is how late a revocation takes effect at the
	// gateway: past an hour, revoking is nearly pointless.
	v.duration(f+".cache_ttl", is.CacheTTL, duration.Bounds{Min: time.Second, Max: time.Hour, Why: " (revocation takes effect within it)"})
	v.duration(f+".negative_cache_ttl", is.NegativeCacheTTL, duration.Bounds{Min: time.Second, Max: 10 * time.Minute})
	v.duration(f+".leeway", is.Leeway, duration.Bounds{Max: 5 * time.Minute, Why: " (RFC 7519 §4.1.4 asks for a small leeway)"})
	if is.MaxIntrospections < 1 || is.MaxIntrospections > MaxMaxIntrospections {
		v.add(f+".max_introspections", fmt.Sprintf("%d is not between 1 and %d", is.MaxIntrospections, MaxMaxIntrospections), nil)
	}
	if is.OpaqueFormat != OpaqueFormatPortcullis && is.OpaqueFormat != OpaqueFormatAny {
		v.add(f+".opaque_format", fmt.Sprintf("%q is not %s (the default) or %s", is.OpaqueFormat, OpaqueFormatPortcullis, OpaqueFormatAny), nil)
	}
}

// IssuerURLProblem says what is wrong with an issuer URL, or "" when
// nothing is. RFC 8414 §2 and OpenID Connect Discovery §3: an https URL
// without query or fragment. RFC 6749 §3.1 and §3.2 require TLS at the
// endpoints under it, so plain http is allowed only where nothing
// crosses a network: a loopback address or localhost. The URL itself is
// never echoed: it could carry user information.
func IssuerURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "is not a valid URL"
	case !u.IsAbs() || u.Opaque != "":
		return "must be an absolute URL such as https://auth.example.com"
	case u.User != nil:
		return "must not contain user information"
	case strings.ContainsAny(raw, "?#"):
		return "must not have a query or fragment (RFC 8414 §2)"
	case u.Hostname() == "":
		return "has no host"
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback.Host(u.Hostname()) {
			return "must use https unless the host is a loopback address or localhost (RFC 6749 §3.1, §3.2 require TLS)"
		}
	default:
		return fmt.Sprintf("scheme %q is not https", u.Scheme)
	}
	return ""
}

// endpointURL checks a URL the gateway fetches with trust attached (keys,
// introspection with the gateway's secret): absolute, https unless on
// loopback, without user information or fragment. Empty is allowed
// (discovery supplies it). The URL is never echoed.
func (v *validator) endpointURL(field, raw string) {
	if raw == "" {
		return
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		v.add(field, "is not a valid URL", nil)
	case !u.IsAbs() || u.Opaque != "" || u.Hostname() == "":
		v.add(field, "must be an absolute URL such as https://auth.example.com/jwks.json", nil)
	case u.User != nil:
		v.add(field, "must not contain user information", nil)
	case strings.Contains(raw, "#"):
		v.add(field, "must not have a fragment", nil)
	case u.Scheme == "http" && !loopback.Host(u.Hostname()):
		v.add(field, "must use https unless the host is a loopback address or localhost: keys and introspection answers decide access", nil)
	case u.Scheme != "https" && u.Scheme != "http":
		v.add(field, fmt.Sprintf("scheme %q is not https", u.Scheme), nil)
	}
}
