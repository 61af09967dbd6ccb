package catalog

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
)

// cors checks an API's CORS policy (Fetch standard, "CORS protocol").
func (v *validator) cors(f string, c *CORS) {
	if len(c.AllowedOrigins) == 0 {
		v.add(f+".allowed_origins", "must list at least one origin (leave cors out to send no CORS headers)", nil)
	}
	for k, o := range c.AllowedOrigins {
		of := fmt.Sprintf("%s.allowed_origins[%d]", f, k)
		switch {
		case o == "*" && c.AllowCredentials:
			// Fetch refuses "*" with credentials; echoing every origin
			// instead would hand any site the user's session.
			v.add(of, `"*" cannot be combined with allow_credentials (browsers refuse it): list the origins`, nil)
		case o == "*":
		case OriginProblem(o) != "":
			v.add(of, fmt.Sprintf("%q %s", o, OriginProblem(o)), nil)
		case contains(c.AllowedOrigins[:k], o):
			v.add(of, fmt.Sprintf("%q is listed twice", o), nil)
		}
	}
	for k, m := range c.AllowedMethods {
		if !contains(knownMethods, m) {
			v.add(fmt.Sprintf("%s.allowed_methods[%d]", f, k), fmt.Sprintf("%q is not one of %s; methods are case sensitive", m, strings.Join(knownMethods, ", ")), nil)
		}
	}
	v.corsHeaders(f+".allowed_headers", c.AllowedHeaders)
	v.corsHeaders(f+".exposed_headers", c.ExposedHeaders)
	v.duration(f+".max_age", c.MaxAge, duration.Bounds{Min: time.Second, Max: 24 * time.Hour, Why: " (browsers cap it lower still)"})
}

// corsHeaders checks a CORS header list. "*" is refused: it never covers
// Authorization and means nothing with credentials, so listing the
// headers is the only way to say what is meant.
func (v *validator) corsHeaders(field string, names []string) {
	if k := slices.Index(names, "*"); k >= 0 {
		v.add(fmt.Sprintf("%s[%d]", field, k), `"*" does not cover Authorization and is ignored with credentials: list the headers`, nil)
		return
	}
	v.headerNames(field, names)
}

// OriginProblem says what is wrong with a CORS origin, or "" when
// nothing is. An origin is compared with the Origin header as browsers
// serialize it (RFC 6454 §6.1): lower case, no path, no default port.
// "https://*.example.com" allows the subdomains of example.com.
func OriginProblem(o string) string {
	const shape = "is not an origin: http(s)://host[:port] such as https://app.example.com, or https://*.domain for its subdomains"
	if o != strings.ToLower(o) {
		return "must be lower case, as browsers send it"
	}
	scheme, rest, ok := strings.Cut(o, "://")
	if !ok || rest == "" {
		return shape
	}
	if scheme != "http" && scheme != "https" {
		return "is not an http or https origin"
	}
	if strings.ContainsAny(rest, "/?#@") {
		return "must not have a path, query, fragment or user information: an origin is scheme://host[:port]"
	}
	host, port, hasPort := rest, "", false
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return shape
		}
		a, err := netip.ParseAddr(rest[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return shape
		}
		after := rest[end+1:]
		if after != "" {
			p, ok := strings.CutPrefix(after, ":")
			if !ok {
				return shape
			}
			port, hasPort = p, true
		}
		host = ""
	} else if k := strings.LastIndexByte(rest, ':'); k >= 0 {
		host, port, hasPort = rest[:k], rest[k+1:], true
	}
	if hasPort {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
			return "has a port that is not a number from 1 to 65535"
		}
		if scheme == "http" && n == 80 || scheme == "https" && n == 443 {
			return fmt.Sprintf("names the default port %d, which browsers leave out of Origin: drop it", n)
		}
	}
	switch {
	case host == "":
		// An IPv6 literal, already checked.
	case strings.HasPrefix(host, "*."):
		domain := host[2:]
		if !isDNSName(domain) || !strings.Contains(domain, ".") {
			return "is a wildcard too wide or malformed: write scheme://*.example.com to allow the subdomains of example.com"
		}
	case isDNSName(host):
	default:
		return shape
	}
	return ""
}

// isDNSName reports a lower-case host name (RFC 1123 §2.1) or IPv4
// address: dot-separated labels of letters, digits and hyphens.
func isDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
