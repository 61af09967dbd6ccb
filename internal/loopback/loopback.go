// Package loopback decides whether a host or URL never leaves the machine:
// the one place where plain http (and cookies without Secure) may be
// allowed. Every package that relaxes a TLS rule for development asks here,
// so the exception is written once.
//
// It must never resolve names: "localhost" is accepted by its spelling
// where a rule allows it, and IP literals by their address.
package loopback

import (
	"net/netip"
	"net/url"
	"strings"
)

// Host reports whether host is "localhost" (any case) or a loopback IP
// literal (IPv4-mapped IPv6 included). Brackets of an IPv6 literal must
// already be removed, as url.URL.Hostname does.
func Host(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	return IP(host)
}

// IP reports whether host is a loopback IP literal. RFC 8252 §8.3 advises
// against "localhost" for native-app redirect URIs, which a resolver could
// send elsewhere; those rules use IP instead of Host.
func IP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

// HTTPURL reports whether raw is a plain http URL whose host is loopback
// (per Host): the only case where a browser cookie may go without Secure
// and a server URL without TLS.
func HTTPURL(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Scheme == "http" && Host(u.Hostname())
}
