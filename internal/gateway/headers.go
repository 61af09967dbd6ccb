package gateway

import (
	"net/http"
	"net/netip"
	"net/textproto"
	"strings"

	"github.com/portcullis/portcullis/internal/clientcert"
)

// builtinStripHeaders never reach an upstream, whoever sent them: identity
// headers a backend might believe (DESIGN: all authorization inputs come
// from signed claims), and method and URL overrides some frameworks honour,
// which would let a client run a different operation from the one whose
// scopes the gateway checked.
var builtinStripHeaders = []string{
	"X-User", "X-User-Id", "X-Remote-User", "X-Forwarded-User",
	"X-Authenticated-User", "X-Client-Id", "X-Scopes", "Remote-User",
	"X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"X-Original-Url", "X-Rewrite-Url",
	// The DPoP proof (RFC 9449 §4.1) is for the gateway, which checked
	// it; the upstream gets the JWT alone, and a proof passed on could be
	// replayed to another resource that trusts the gateway's hosts.
	"Dpop",
	// RFC 9440 §2: the client certificate and chain a TLS-terminating
	// proxy vouches for. A client's own would let it name a certificate
	// to a backend that checks bindings; forward_client_cert sets
	// Client-Cert from what the gateway itself verified.
	"Client-Cert", "Client-Cert-Chain",
}

// builtinStripPrefixes always apply, on top of the configured ones.
var builtinStripPrefixes = []string{"X-Auth-Request-", "X-Portcullis-"}

// forwardingHeaders say where a request came from: the client address
// CDNs, load balancers and ingress controllers pass on, and which
// backends and their frameworks commonly believe. Only a trusted proxy
// may send them; the gateway sets X-Forwarded-* itself.
var (
	forwardingHeaders = []string{
		"Forwarded", "X-Real-Ip", "True-Client-Ip", "X-Client-Ip", "Client-Ip",
		"Cf-Connecting-Ip", "Cf-Connecting-Ipv6", "Fastly-Client-Ip", "Akamai-Client-Ip",
		"X-Cluster-Client-Ip", "X-Original-Forwarded-For", "X-Originating-Ip",
		"X-Remote-Ip", "X-Remote-Addr", "X-Original-Host", "X-Host",
	}
	forwardingPrefixes = []string{"X-Forwarded-"}
)

// stripSet decides in one pass over a request's header names which ones
// go. Names are compared case-insensitively with "_" standing for "-",
// since CGI-style servers map X_User and X-User to the same variable.
type stripSet struct {
	first      [256]bool // lower-cased first bytes of every name and prefix
	always     map[string]bool
	prefixes   []string
	forwarding map[string]bool
}

func newStripSet(names, prefixes []string) *stripSet {
	s := &stripSet{always: map[string]bool{}, forwarding: map[string]bool{}}
	add := func(m map[string]bool, n string) {
		n = normalizeHeaderName(n)
		m[n] = true
		s.first[lower(n[0])] = true
	}
	for _, n := range builtinStripHeaders {
		add(s.always, n)
	}
	for _, n := range names {
		if n != "" {
			add(s.always, n)
		}
	}
	for _, n := range forwardingHeaders {
		add(s.forwarding, n)
	}
	for _, p := range append(append(append([]string(nil), builtinStripPrefixes...), prefixes...), forwardingPrefixes...) {
		if p == "" || contains(s.prefixes, p) {
			continue
		}
		s.prefixes = append(s.prefixes, p)
		s.first[lower(p[0])] = true
	}
	return s
}

// normalizeHeaderName is the canonical form with "_" read as "-".
func normalizeHeaderName(n string) string {
	return textproto.CanonicalMIMEHeaderKey(strings.ReplaceAll(n, "_", "-"))
}

// drop reports whether header k must not reach the upstream.
func (s *stripSet) drop(k string, trusted bool) bool {
	if k == "" || !s.first[lower(k[0])] {
		return false
	}
	if s.always[k] || !trusted && s.forwarding[k] {
		return true
	}
	for _, p := range s.prefixes {
		if hasHeaderPrefix(k, p) {
			// X-Forwarded-* from a trusted proxy is its chain, kept and
			// extended; X-Forwarded-User is in always and went above.
			if trusted && p == "X-Forwarded-" {
				continue
			}
			return true
		}
	}
	if strings.IndexByte(k, '_') >= 0 || textproto.CanonicalMIMEHeaderKey(k) != k {
		n := normalizeHeaderName(k)
		return s.always[n] || !trusted && s.forwarding[n]
	}
	return false
}

// hasHeaderPrefix is a case-insensitive prefix test with "_" equal to "-".
func hasHeaderPrefix(k, p string) bool {
	if len(k) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		a, b := lower(k[i]), lower(p[i])
		if a == '_' {
			a = '-'
		}
		if a != b {
			return false
		}
	}
	return true
}

// Shared header values.
var (
	headerProtoHTTP  = []string{"http"}
	headerProtoHTTPS = []string{"https"}
)

// headerStep is the last word on what the upstream hears: the verified
// JWT as the only credential, no forgeable identity, forwarding headers
// from the connection, and the request id. It edits the inbound request's
// header, which the proxy then copies; the proxy's Rewrite puts back what
// httputil.ReverseProxy removes on principle (X-Forwarded-*, hop-by-hop
// headers a client listed in Connection).
type headerStep struct {
	strip *stripSet
	// websocket lets a WebSocket handshake through (the operation's
	// upgrade); every other Upgrade is dropped.
	websocket bool
	next      http.Handler
}

func newHeaders(c *stepConfig, next http.Handler) (http.Handler, error) {
	return &headerStep{strip: c.strip, websocket: c.op.websocket, next: next}, nil
}

func (s *headerStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	h := r.Header
	for k := range h {
		if s.strip.drop(k, ex.trusted) {
			delete(h, k)
		}
	}
	// RFC 9110 §7.8: a server may ignore Upgrade, and the gateway does
	// unless the operation declares the protocol. Without the header,
	// httputil.ReverseProxy sends no Connection: Upgrade and refuses a
	// 101 from the upstream, so no tunnel (h2c above all, RFC 7540 §3.2,
	// which would carry requests the gateway never sees) is opened.
	if up, ok := h["Upgrade"]; ok && !(s.websocket && isWebSocketHandshake(r.Method, up, h["Connection"])) {
		delete(h, "Upgrade")
	}
	delete(h, "Http2-Settings")
	switch v := ex.verified; {
	case v == nil:
		delete(h, "Authorization")
	case v.JWT == ex.raw && isCanonicalBearer(h["Authorization"], ex.raw):
		// The client presented the JWT itself, spelled the canonical way:
		// forward the header as it is rather than build the same string.
	default:
		h["Authorization"] = []string{"Bearer " + v.JWT}
	}
	peer := ex.peerText
	if xff := h["X-Forwarded-For"]; ex.trusted && len(xff) > 0 {
		h["X-Forwarded-For"] = []string{strings.Join(xff, ", ") + ", " + peer}
	} else {
		h["X-Forwarded-For"] = []string{peer}
	}
	if !ex.trusted || len(h["X-Forwarded-Proto"]) == 0 {
		if r.TLS != nil {
			h["X-Forwarded-Proto"] = headerProtoHTTPS
		} else {
			h["X-Forwarded-Proto"] = headerProtoHTTP
		}
	}
	if !ex.trusted || len(h["X-Forwarded-Host"]) == 0 {
		if r.URL.Host == "" {
			h["X-Forwarded-Host"] = []string{r.Host}
		} else {
			// An absolute-form request line ("GET http://evil.example/x",
			// RFC 9112 §3.2.2) sets r.Host from the client's URL and
			// the Host header it sent is gone: name no host rather
			// than one the client chose.
			delete(h, "X-Forwarded-Host")
		}
	}
	h["X-Request-Id"] = ex.idHeader
	if ex.cert != nil {
		// RFC 9440 §2.2, as a TLS-terminating proxy sends it.
		h[clientcert.HeaderClientCert] = []string{clientcert.FormatHeader(ex.cert)}
	}
	s.next.ServeHTTP(w, r)
}

// isWebSocketHandshake reports whether a request is an RFC 6455 §4.1
// opening handshake: GET, Upgrade naming websocket alone, Connection
// listing upgrade.
func isWebSocketHandshake(method string, upgrade, connection []string) bool {
	return method == http.MethodGet && len(upgrade) == 1 &&
		strings.EqualFold(strings.TrimSpace(upgrade[0]), "websocket") &&
		listsToken(connection, "upgrade")
}

// listsToken reports whether a comma-separated header (RFC 9110 §5.6.1)
// lists token, ignoring case.
func listsToken(values []string, token string) bool {
	for _, v := range values {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// isCanonicalBearer reports whether vals is exactly "Bearer <raw>": raw
// was extracted from the value's end, so the length settles it.
func isCanonicalBearer(vals []string, raw string) bool {
	return len(vals) == 1 && len(vals[0]) == bearerPrefixLen+len(raw) && vals[0][:bearerPrefixLen] == "Bearer "
}

// trustedProxies is the parsed trusted_proxies list.
type trustedProxies []netip.Prefix

func (t trustedProxies) contains(a netip.Addr) bool {
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address policies see: the peer, or, when the peer is
// a trusted proxy, the right-most X-Forwarded-For entry that is not itself
// a trusted proxy (entries left of it are the client's to write). An entry
// that does not parse stops the walk at the last address known good.
func (t trustedProxies) clientAddr(peer netip.Addr, xff []string) netip.Addr {
	client := peer
	for i := len(xff) - 1; i >= 0; i-- {
		line := xff[i]
		for line != "" {
			j := strings.LastIndexByte(line, ',')
			entry := strings.TrimSpace(line[j+1:])
			if j < 0 {
				line = ""
			} else {
				line = line[:j]
			}
			a, err := netip.ParseAddr(entry)
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !t.contains(client) {
				return client
			}
		}
	}
	return client
}

// peerAddr parses r.RemoteAddr ("ip:port"), returning the address and its
// text without the port, for X-Forwarded-For.
func peerAddr(remote string) (netip.Addr, string) {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		host := remote[:strings.LastIndexByte(remote, ':')]
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		return ap.Addr().Unmap(), host
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return a.Unmap(), remote
	}
	return netip.Addr{}, "unknown"
}
