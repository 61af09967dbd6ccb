package gateway

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"net/http"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
)

// Certificate-bound access tokens at the gateway, the resource server's
// side of RFC 8705 §3: a token whose claims carry cnf["x5t#S256"] is
// accepted only from a caller that presented the client certificate with
// that SHA-256 thumbprint, in the TLS handshake with the gateway or, behind
// a TLS-terminating proxy, in the RFC 9440 Client-Cert header a configured
// proxy sent (clientcert.Source; Gateway.ServeHTTP strips the header from
// everyone else first). Like the DPoP step, this one runs once the token
// is resolved, JWT, phantom or split alike: an opaque token's binding
// arrives in its introspection answer and is in the claims by then.
//
// The check needs the thumbprint only (§3: the resource server compares
// it); whether the certificate chains to some authority is the TLS
// listener's business (listen.gateway_tls.client_ca_file) and the
// authorization server's, which bound the token. A token bound both to a
// DPoP key and to a certificate must satisfy both steps.

// mtlsMode is catalog.API.MTLS. There is no off: a binding is always
// checked (catalog/mtls.go).
type mtlsMode uint8

const (
	mtlsAllowed mtlsMode = iota
	mtlsRequired
)

// mtlsReason is why the certificate check refused a request: a fixed
// set, the reason label of the metric and the access log's mtls.reason.
type mtlsReason uint8

const (
	mtlsReasonNone mtlsReason = iota
	mtlsNoCertificate
	mtlsMismatch
	mtlsUnbound
	mtlsBadCnf
	mtlsBadHeader
	mtlsReasonCount
)

// mtlsReasons name each reason and say what the client is told in
// error_description: fixed text in the characters RFC 6750 §3 allows,
// quoting nothing the client sent.
var mtlsReasons = [mtlsReasonCount]struct {
	name, description string
}{
	mtlsNoCertificate: {"no_certificate", "the access token is bound to a client certificate: present it over mutual TLS with that certificate"},
	mtlsMismatch:      {"certificate_mismatch", "the access token is bound to another client certificate than the one presented"},
	mtlsUnbound:       {"unbound_token", "this API requires a certificate-bound access token"},
	mtlsBadCnf:        {"malformed_cnf", "the access token's confirmation (cnf) claim is malformed"},
	// A trusted proxy's header that does not parse: the request is the
	// proxy's fault, answered 400 rather than read as "no certificate".
	mtlsBadHeader: {"bad_certificate_header", ""},
}

func (r mtlsReason) String() string { return mtlsReasons[r].name }

// mtlsPolicy is an API's mtls mode and its challenges, rendered once.
type mtlsPolicy struct {
	mode mtlsMode
	// forward sends the presented certificate upstream in Client-Cert
	// (forward_client_cert).
	forward bool
	// bearer[r] and dpop[r] answer a refusal for r of a token presented
	// with the Bearer scheme (or a session cookie) and with the DPoP
	// scheme; dpop is nil when the API takes no DPoP.
	bearer, dpop [mtlsReasonCount][]string
}

// setMTLS reads the API's mtls settings. It runs after setDPoP, whose
// challenge a DPoP-scheme refusal carries.
func (a *apiRoute) setMTLS(mode string, forward bool) {
	p := &a.mtls
	p.mode = mtlsAllowed
	if mode == catalog.MTLSRequired {
		p.mode = mtlsRequired
	}
	p.forward = forward
	for r := mtlsReasonNone + 1; r < mtlsReasonCount; r++ {
		d := mtlsReasons[r].description
		if d == "" {
			p.bearer[r], p.dpop[r] = a.challengeRequest, a.challengeRequest
			continue
		}
		// The name is safe in a quoted string (see setDPoP).
		p.bearer[r] = []string{`Bearer realm="` + a.name + `", error="invalid_token", error_description="` + d + `"`}
		if a.dpop.mode != dpopOff {
			p.dpop[r] = a.dpop.challenge("invalid_token", d, "")
		}
	}
}

// mtlsStep enforces the certificate binding of a resolved token (§3).
type mtlsStep struct {
	api    *apiRoute
	certs  clientcert.Source
	counts mtlsCounts
	next   http.Handler
}

func newMTLS(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public {
		return next, nil
	}
	return &mtlsStep{api: c.api, certs: c.clientCerts, counts: newMTLSCounts(c.op.metrics), next: next}, nil
}

func (s *mtlsStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	p := &s.api.mtls
	x5t, ok := boundCertificate(ex.verified.Claims.Raw)
	switch {
	case !ok:
		s.refuse(ex, mtlsBadCnf)
		return
	case x5t == "" && p.mode == mtlsRequired:
		s.refuse(ex, mtlsUnbound)
		return
	case x5t == "" && !p.forward:
		// An unbound token, the common case: one map lookup, done.
		s.next.ServeHTTP(w, r)
		return
	}
	cert, err := s.certs.Certificate(r)
	if err != nil {
		s.refuse(ex, mtlsBadHeader)
		return
	}
	if x5t != "" {
		switch {
		case cert == nil:
			s.refuse(ex, mtlsNoCertificate)
			return
		case !thumbprintMatches(cert, x5t):
			s.refuse(ex, mtlsMismatch)
			return
		}
		ex.mtls.result = checkVerified
		s.counts.verified()
	}
	if p.forward {
		ex.cert = cert
	}
	s.next.ServeHTTP(w, r)
}

// refuse answers 401 invalid_token for r (400 for a bad proxy header),
// records it for the access log and counts it.
func (s *mtlsStep) refuse(ex *exchange, r mtlsReason) {
	p := &s.api.mtls
	ch := p.bearer[r]
	if ex.scheme == schemeDPoP && p.dpop[r] != nil {
		ch = p.dpop[r]
	}
	ex.rw.Header()["Www-Authenticate"] = ch
	ex.reason = "mtls: " + r.String()
	ex.mtls = mtlsOutcome{result: checkRefused, reason: r}
	s.counts.refused(r)
	if r == mtlsBadHeader {
		ex.problem(problemBadRequest, decisionBadRequest)
		return
	}
	ex.problem(problemInvalidToken, decisionDenyToken)
}

// thumbprintLen is the length of an x5t#S256: 32 bytes in unpadded
// base64url.
const thumbprintLen = 43

// thumbprintMatches reports whether cert's SHA-256 thumbprint is x5t
// (RFC 8705 §3.1), comparing in constant time. It works in buffers on
// the stack: a bound call pays a hash of the certificate and no
// allocation.
func thumbprintMatches(cert *x509.Certificate, x5t string) bool {
	sum := sha256.Sum256(cert.Raw)
	var enc [thumbprintLen]byte
	base64.RawURLEncoding.Encode(enc[:], sum[:])
	return subtle.ConstantTimeCompare(enc[:], []byte(x5t)) == 1
}

// boundCertificate reads cnf["x5t#S256"] (RFC 8705 §3.1) from a token's
// claims: "" for a token without cnf or with another confirmation method
// only; ok is false when cnf is not an object or x5t#S256 not a non-empty
// string, which no issuer sends and which must not pass as "unbound".
func boundCertificate(claims map[string]any) (x5t string, ok bool) {
	v, present := claims["cnf"]
	if !present {
		return "", true
	}
	cnf, isObj := v.(map[string]any)
	if !isObj {
		return "", false
	}
	t, present := cnf["x5t#S256"]
	if !present {
		return "", true
	}
	x5t, _ = t.(string)
	return x5t, x5t != ""
}
