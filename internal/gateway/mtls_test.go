package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/token"
)

// proxyAddr is the TLS-terminating proxy the mTLS tests configure;
// request's default peer, 192.0.2.10, is a client.
const proxyAddr = "192.0.2.1:5000"

// withClientCerts has the gateway believe Client-Cert from proxyAddr.
func withClientCerts(o *Options) {
	o.ClientCerts = clientcert.Source{Header: clientcert.HeaderClientCert,
		Proxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}}
}

func withMTLS(mode string, forward bool) func(*catalog.Snapshot) {
	return func(s *catalog.Snapshot) { s.APIs[0].MTLS, s.APIs[0].ForwardClientCert = mode, forward }
}

// newClientCert is a client's certificate: issued by a CA, since the
// gateway looks at the thumbprint only, a self-signed one would do too.
func newClientCert(t testing.TB) *x509.Certificate {
	t.Helper()
	return clientcerttest.NewCA(t, "test ca").Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc"}}).Cert
}

// certBoundToken mints a token of kind whose cnf is cnf, as the
// authorization server binds it: in the JWT, in the introspection answer
// of an opaque token and in the stored half of a split one.
func (e *env) certBoundToken(t testing.TB, kind string, cnf map[string]any) string {
	t.Helper()
	c := gatewaytest.Claims{Subject: "alice", ClientID: "svc", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"cnf": cnf}}
	switch kind {
	case "jwt":
		return e.is.JWT(t, c)
	case "opaque":
		return e.is.Opaque(t, c)
	case "split":
		return e.is.Split(t, c)
	}
	t.Fatalf("unknown token kind %q", kind)
	return ""
}

// x5t is the cnf of a token bound to cert.
func x5t(cert *x509.Certificate) map[string]any {
	return map[string]any{"x5t#S256": clientcert.Thumbprint(cert)}
}

// overTLS is the request as it arrives over a TLS connection on which
// the client presented cert.
func overTLS(r *http.Request, cert *x509.Certificate) *http.Request {
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{cert}}
	return r
}

// viaProxy is the request as a TLS-terminating proxy passes it on, the
// client's certificate in Client-Cert.
func viaProxy(r *http.Request, cert *x509.Certificate) *http.Request {
	r.RemoteAddr = proxyAddr
	r.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(cert))
	return r
}

// TestMTLSAccepted: a token bound to a certificate, of each kind, passes
// when the call presents that certificate, over TLS or through a trusted
// proxy; the access log and the metric say it was verified.
func TestMTLSAccepted(t *testing.T) {
	cert := newClientCert(t)
	for _, mode := range []string{"", catalog.MTLSAllowed, catalog.MTLSRequired} {
		e := newEnvWith(t, withMTLS(mode, false), withClientCerts)
		for _, kind := range []string{"jwt", "opaque", "split"} {
			for name, present := range map[string]func(*http.Request, *x509.Certificate) *http.Request{
				"tls": overTLS, "proxy": viaProxy,
			} {
				t.Run(mode+"/"+kind+"/"+name, func(t *testing.T) {
					e.up.Reset()
					tok := e.certBoundToken(t, kind, x5t(cert))
					w := e.serve(present(request("GET", "/warehouse/items", tok), cert))
					if w.Code != http.StatusOK {
						t.Fatalf("status = %d, want 200; WWW-Authenticate %q", w.Code, w.Header().Values("Www-Authenticate"))
					}
					got, ok := e.up.Last()
					if !ok {
						t.Fatal("nothing reached the upstream")
					}
					if want := "Bearer " + e.forwarded(kind, tok); got.Header.Get("Authorization") != want {
						t.Errorf("upstream Authorization = %.40q, want the JWT", got.Header.Get("Authorization"))
					}
					if v := got.Header.Values("Client-Cert"); len(v) != 0 {
						t.Error("the client certificate reached the upstream without forward_client_cert")
					}
					lines := e.logLines(t, "request")
					if m, _ := lines[len(lines)-1]["mtls"].(map[string]any); m["result"] != "verified" {
						t.Errorf("access log mtls = %v, want result verified", lines[len(lines)-1]["mtls"])
					}
				})
			}
		}
		if got := gathered(t, e, "portcullis_gateway_mtls_total",
			`api="warehouse",operation="GET /items",reason="",result="verified",version="v1"`); got != 6 {
			t.Errorf("mode %q: verified count = %v, want 6", mode, got)
		}
	}
}

// TestMTLSRefused is every way a certificate-bound token, or an unbound
// one where binding is required, is refused: 401 invalid_token with a
// fixed description, a problem body, nothing upstream, nothing of the
// token in the answer or the logs, the reason in the access log and the
// metric.
func TestMTLSRefused(t *testing.T) {
	cert, other := newClientCert(t), newClientCert(t)
	tests := []struct {
		name   string
		mode   string
		kind   string
		cnf    map[string]any // nil: an unbound token
		make   func(*http.Request) *http.Request
		status int
		reason string
		desc   string
	}{
		{"no certificate", "", "jwt", x5t(cert), nil, 401, "no_certificate", "the access token is bound to a client certificate"},
		{"no certificate, phantom", "", "opaque", x5t(cert), nil, 401, "no_certificate", ""},
		{"no certificate, split", "", "split", x5t(cert), nil, 401, "no_certificate", ""},
		{"another certificate over TLS", "", "jwt", x5t(cert), func(r *http.Request) *http.Request { return overTLS(r, other) },
			401, "certificate_mismatch", "bound to another client certificate"},
		{"another certificate, phantom", "", "opaque", x5t(cert), func(r *http.Request) *http.Request { return overTLS(r, other) },
			401, "certificate_mismatch", ""},
		{"another certificate via the proxy", "", "split", x5t(cert), func(r *http.Request) *http.Request { return viaProxy(r, other) },
			401, "certificate_mismatch", ""},
		{"the right certificate in a client's header", "", "jwt", x5t(cert), func(r *http.Request) *http.Request {
			r.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(cert))
			return r
		}, 401, "no_certificate", ""},
		{"required, unbound token", catalog.MTLSRequired, "jwt", nil, func(r *http.Request) *http.Request { return overTLS(r, cert) },
			401, "unbound_token", "requires a certificate-bound access token"},
		{"required, unbound phantom token", catalog.MTLSRequired, "opaque", nil, nil, 401, "unbound_token", ""},
		{"x5t#S256 a number", "", "jwt", map[string]any{"x5t#S256": 42}, func(r *http.Request) *http.Request { return overTLS(r, cert) },
			401, "malformed_cnf", "confirmation (cnf) claim is malformed"},
		{"x5t#S256 empty", "", "jwt", map[string]any{"x5t#S256": ""}, func(r *http.Request) *http.Request { return overTLS(r, cert) },
			401, "malformed_cnf", ""},
		{"x5t#S256 of another length", "", "jwt", map[string]any{"x5t#S256": clientcert.Thumbprint(cert) + "A"},
			func(r *http.Request) *http.Request { return overTLS(r, cert) }, 401, "certificate_mismatch", ""},
		{"malformed proxy header", "", "jwt", x5t(cert), func(r *http.Request) *http.Request {
			r.RemoteAddr = proxyAddr
			r.Header.Set(clientcert.HeaderClientCert, ":bm90IGEgY2VydA==:")
			return r
		}, 400, "bad_certificate_header", ""},
	}
	// Made with the parent's t, so they outlive each subtest: a phantom
	// token needs its issuer's introspection endpoint still up.
	envs := map[string]*env{}
	for _, mode := range []string{"", catalog.MTLSRequired} {
		envs[mode] = newEnvWith(t, withMTLS(mode, false), withClientCerts)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := envs[tc.mode]
			var tok string
			if tc.cnf == nil {
				tok = e.token(t, tc.kind, "list_items")
			} else {
				tok = e.certBoundToken(t, tc.kind, tc.cnf)
			}
			r := request("GET", "/warehouse/items", tok)
			if tc.make != nil {
				r = tc.make(r)
			}
			e.up.Reset()
			w := e.serve(r)
			if w.Code != tc.status {
				t.Fatalf("status = %d, want %d; WWW-Authenticate %q", w.Code, tc.status, w.Header().Values("Www-Authenticate"))
			}
			ch := w.Header().Values("Www-Authenticate")
			wantCode := "invalid_token"
			if tc.status == 400 {
				wantCode = "invalid_request"
			}
			if len(ch) != 1 || !strings.HasPrefix(ch[0], `Bearer realm="warehouse", error="`+wantCode+`"`) {
				t.Errorf("WWW-Authenticate = %q, want one Bearer %s challenge", ch, wantCode)
			}
			if tc.desc != "" && !strings.Contains(ch[0], tc.desc) {
				t.Errorf("WWW-Authenticate = %q, want a description with %q", ch[0], tc.desc)
			}
			p := readProblem(t, w)
			if want := map[int]string{401: "urn:portcullis:problem:invalid-token", 400: "urn:portcullis:problem:bad-request"}[tc.status]; p.Type != want {
				t.Errorf("problem type = %q, want %q", p.Type, want)
			}
			if _, ok := e.up.Last(); ok {
				t.Error("request reached the upstream")
			}
			if strings.Contains(e.logs.String(), tok) || strings.Contains(w.Body.String(), tok) || strings.Contains(strings.Join(ch, ""), tok) {
				t.Error("token echoed")
			}
			var line map[string]any
			for _, l := range e.logLines(t, "request") {
				if l["request_id"] == w.Header().Get("X-Request-Id") {
					line = l
				}
			}
			if m, _ := line["mtls"].(map[string]any); m["result"] != "refused" || m["reason"] != tc.reason {
				t.Errorf("access log mtls = %v, want refused, %s", line["mtls"], tc.reason)
			}
			if got := gathered(t, e, "portcullis_gateway_mtls_total",
				`api="warehouse",operation="GET /items",reason="`+tc.reason+`",result="refused",version="v1"`); got < 1 {
				t.Errorf("refusal count = %v, want at least 1", got)
			}
		})
	}
}

// TestMTLSUnboundAllowed: where binding is allowed (the default), an
// unbound token passes with or without a certificate, and its log line
// has no mtls group.
func TestMTLSUnboundAllowed(t *testing.T) {
	e := newEnvWith(t, nil, withClientCerts)
	cert := newClientCert(t)
	for name, r := range map[string]*http.Request{
		"no certificate":   request("GET", "/warehouse/items", e.token(t, "opaque", "list_items")),
		"with certificate": overTLS(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")), cert),
	} {
		t.Run(name, func(t *testing.T) {
			if w := e.serve(r); w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			lines := e.logLines(t, "request")
			if m := lines[len(lines)-1]["mtls"]; m != nil {
				t.Errorf("access log mtls = %v, want none", m)
			}
		})
	}
}

// TestMTLSHeaderFromClientStripped: a Client-Cert a client sends
// (whatever its case or spelling) is removed before anything reads it
// and never reaches the upstream, whether or not the gateway is behind a
// proxy; a trusted proxy's is read but not passed on either.
func TestMTLSHeaderFromClientStripped(t *testing.T) {
	cert := newClientCert(t)
	for name, opts := range map[string]func(*Options){"proxy configured": withClientCerts, "no proxy": nil} {
		t.Run(name, func(t *testing.T) {
			e := newEnvWith(t, nil, opts)
			for _, peer := range []string{"192.0.2.10:40000", proxyAddr} {
				r := request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))
				r.RemoteAddr = peer
				r.Header.Set("Client-Cert", clientcert.FormatHeader(cert))
				r.Header["Client-Cert-Chain"] = []string{clientcert.FormatHeader(cert)}
				r.Header["client_cert"] = []string{"x"}
				if w := e.serve(r); w.Code != http.StatusOK {
					t.Fatalf("%s: status = %d", peer, w.Code)
				}
				got, _ := e.up.Last()
				for k := range got.Header {
					if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "client-cert") || strings.EqualFold(k, "client-cert-chain") {
						t.Errorf("%s: upstream got %s", peer, k)
					}
				}
			}
		})
	}
	// The strip happens first: a Client-Cert from a client is gone from
	// the request before any step runs.
	e := newEnvWith(t, nil, withClientCerts)
	r := request("GET", "/warehouse/health", "")
	r.Header.Set("Client-Cert", clientcert.FormatHeader(cert))
	e.serve(r)
	if r.Header.Get("Client-Cert") != "" {
		t.Error("Client-Cert from a client was left on the request")
	}
}

// TestMTLSForwardClientCert: with forward_client_cert the upstream gets
// the certificate the call presented in Client-Cert, which a backend
// can check the binding against (pkg/verify); never one a client wrote.
func TestMTLSForwardClientCert(t *testing.T) {
	cert, forged := newClientCert(t), newClientCert(t)
	e := newEnvWith(t, withMTLS("", true), withClientCerts)
	tests := []struct {
		name string
		r    func() *http.Request
		want string
	}{
		{"bound token over TLS", func() *http.Request {
			r := overTLS(request("GET", "/warehouse/items", e.certBoundToken(t, "jwt", x5t(cert))), cert)
			r.Header.Set("Client-Cert", clientcert.FormatHeader(forged))
			return r
		}, clientcert.FormatHeader(cert)},
		{"bound token via the proxy", func() *http.Request {
			return viaProxy(request("GET", "/warehouse/items", e.certBoundToken(t, "opaque", x5t(cert))), cert)
		}, clientcert.FormatHeader(cert)},
		{"unbound token over TLS", func() *http.Request {
			return overTLS(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items")), cert)
		}, clientcert.FormatHeader(cert)},
		{"unbound token, no certificate, a client's header", func() *http.Request {
			r := request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))
			r.Header.Set("Client-Cert", clientcert.FormatHeader(forged))
			return r
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e.up.Reset()
			if w := e.serve(tc.r()); w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200 (%q)", w.Code, w.Header().Values("Www-Authenticate"))
			}
			got, _ := e.up.Last()
			if v := got.Header.Values("Client-Cert"); tc.want == "" && len(v) != 0 || tc.want != "" && (len(v) != 1 || v[0] != tc.want) {
				t.Errorf("upstream Client-Cert = %.30q, want %.30q", v, tc.want)
			}
		})
	}
}

// TestMTLSAndDPoP: a token bound to a DPoP key and to a certificate
// needs both, the proof and the certificate.
func TestMTLSAndDPoP(t *testing.T) {
	cert := newClientCert(t)
	k := newDPoPKey(t)
	e := newEnvWith(t, nil, withClientCerts)
	cnf := map[string]any{"jkt": k.jkt, "x5t#S256": clientcert.Thumbprint(cert)}
	for _, kind := range []string{"jwt", "opaque", "split"} {
		t.Run(kind, func(t *testing.T) {
			tok := e.certBoundToken(t, kind, cnf)
			// Over TLS, the client addressed an https URL (RFC 9449 §4.3).
			const httpsItems = "https://example.com/warehouse/items"
			w := e.serve(overTLS(dpopRequest("GET", "/warehouse/items", "DPoP", tok, k.proof(t, "GET", httpsItems, tok, nil)), cert))
			if w.Code != http.StatusOK {
				t.Fatalf("proof and certificate: status = %d, want 200 (%q)", w.Code, w.Header().Values("Www-Authenticate"))
			}
			lines := e.logLines(t, "request")
			last := lines[len(lines)-1]
			if d, _ := last["dpop"].(map[string]any); d["result"] != "verified" {
				t.Errorf("access log dpop = %v, want verified", last["dpop"])
			}
			if m, _ := last["mtls"].(map[string]any); m["result"] != "verified" {
				t.Errorf("access log mtls = %v, want verified", last["mtls"])
			}

			// The proof alone: refused by the certificate check, with the
			// DPoP challenge the scheme calls for.
			w = e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, k.proof(t, "GET", itemsURL, tok, nil)))
			ch := w.Header().Values("Www-Authenticate")
			if w.Code != http.StatusUnauthorized || len(ch) == 0 || !strings.HasPrefix(ch[0], `DPoP realm="warehouse", error="invalid_token"`) ||
				!strings.Contains(ch[0], "bound to a client certificate") {
				t.Errorf("proof without certificate: %d %q, want 401 with a DPoP invalid_token challenge", w.Code, ch)
			}
			// The certificate alone (Bearer, no proof): refused by DPoP.
			w = e.serve(overTLS(request("GET", "/warehouse/items", tok), cert))
			if w.Code != http.StatusUnauthorized {
				t.Errorf("certificate without proof: status = %d, want 401", w.Code)
			}
			lines = e.logLines(t, "request")
			if d, _ := lines[len(lines)-1]["dpop"].(map[string]any); d["reason"] != "bound_as_bearer" {
				t.Errorf("certificate without proof: access log dpop = %v, want bound_as_bearer", lines[len(lines)-1]["dpop"])
			}
		})
	}
}

// TestMTLSPublicOperation: public operations check no token, so no
// binding either, and forward no certificate.
func TestMTLSPublicOperation(t *testing.T) {
	e := newEnvWith(t, withMTLS(catalog.MTLSRequired, true), withClientCerts)
	if w := e.serve(overTLS(request("GET", "/warehouse/health", ""), newClientCert(t))); w.Code != http.StatusOK {
		t.Fatalf("status = %d, want 200", w.Code)
	}
	if got, _ := e.up.Last(); got.Header.Get("Client-Cert") != "" {
		t.Error("a public operation forwarded the certificate")
	}
}

// TestMTLSStepAllocatesNothing: an unbound token costs a map lookup; a
// bound one a hash of the certificate, and neither allocates.
func TestMTLSStepAllocatesNothing(t *testing.T) {
	cert := newClientCert(t)
	api := &apiRoute{name: "warehouse"}
	api.setDPoP("")
	api.setMTLS("", false)
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	s := &mtlsStep{api: api, next: next}
	for name, claims := range map[string]map[string]any{
		"unbound": {"sub": "alice"},
		"bound":   {"sub": "alice", "cnf": map[string]any{"x5t#S256": clientcert.Thumbprint(cert)}},
	} {
		r := overTLS(httptest.NewRequest("GET", "/warehouse/items", nil), cert)
		ex := &exchange{rw: httptest.NewRecorder(), scheme: schemeBearer,
			verified: &token.Verified{Claims: &token.Claims{Raw: claims}}}
		if n := testing.AllocsPerRun(100, func() { s.ServeHTTP(ex, r) }); n != 0 {
			t.Errorf("%s: the mtls step allocates %v times", name, n)
		}
		if ex.status != 0 {
			t.Errorf("%s: the step answered %d", name, ex.status)
		}
	}
}

// TestBoundCertificate: cnf is read strictly.
func TestBoundCertificate(t *testing.T) {
	for _, tc := range []struct {
		claims map[string]any
		x5t    string
		ok     bool
	}{
		{map[string]any{}, "", true},
		{map[string]any{"cnf": map[string]any{"jkt": "k"}}, "", true},
		{map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}}, "abc", true},
		{map[string]any{"cnf": "abc"}, "", false},
		{map[string]any{"cnf": nil}, "", false},
		{map[string]any{"cnf": map[string]any{"x5t#S256": ""}}, "", false},
		{map[string]any{"cnf": map[string]any{"x5t#S256": []any{"abc"}}}, "", false},
		{map[string]any{"cnf": map[string]any{"x5t#S256": nil}}, "", false},
	} {
		if got, ok := boundCertificate(tc.claims); got != tc.x5t || ok != tc.ok {
			t.Errorf("boundCertificate(%v) = %q, %v; want %q, %v", tc.claims, got, ok, tc.x5t, tc.ok)
		}
	}
}
