package catalog

import (
	"time"

	"github.com/portcullis/portcullis/internal/duration"
)

// SecurityHeaders are the response headers an API's answers get from the
// gateway, whatever the upstream sent. Each default is the safe one; a
// field opts out of it or adds to it.
type SecurityHeaders struct {
	// HSTS is the Strict-Transport-Security max-age (RFC 6797 §6.1).
	// Zero sends none: only a gateway reached over https (directly or
	// through a TLS-terminating proxy) should send it, and browsers
	// remember it for that long.
	HSTS Duration `yaml:"hsts"`
	// HSTSSubdomains adds includeSubDomains.
	HSTSSubdomains bool `yaml:"hsts_subdomains"`
	// AllowSniffing stops the gateway from sending
	// X-Content-Type-Options: nosniff, which keeps browsers from running
	// a JSON answer as a script or a page.
	AllowSniffing bool `yaml:"allow_sniffing"`
	// CacheTokenResponses lets an answer to a request that carried a
	// token go without Cache-Control. False (the default) adds
	// Cache-Control: no-store when the upstream set none, so a shared
	// cache never keeps one caller's data for the next (RFC 9111 §3.5
	// leaves it to the response when Authorization was sent).
	CacheTokenResponses bool `yaml:"cache_token_responses"`
}

// maxHSTS bounds hsts: two years is what browsers' preload lists ask.
const maxHSTS = 2 * 365 * 24 * time.Hour

// securityHeaders checks the API's security_headers.
func (v *validator) securityHeaders(f string, a *API) {
	sh := a.SecurityHeaders
	if sh.HSTS != 0 {
		v.duration(f+".security_headers.hsts", sh.HSTS, duration.Bounds{Min: time.Second, Max: maxHSTS})
	}
	if sh.HSTSSubdomains && sh.HSTS == 0 {
		v.add(f+".security_headers.hsts_subdomains", "needs hsts: includeSubDomains is a parameter of Strict-Transport-Security", nil)
	}
}
