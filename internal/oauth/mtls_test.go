package oauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/clientcert"
	"github.com/portcullis/portcullis/internal/clientcert/clientcerttest"
	"github.com/portcullis/portcullis/internal/store"
	"github.com/portcullis/portcullis/internal/token"
)

const mtlsProxy = "10.0.0.7:4000"

// mtlsHarness is a harness whose server takes client certificates from
// the connection, or from the Client-Cert header of 10.0.0.0/8, and
// trusts ca for tls_client_auth.
func mtlsHarness(t *testing.T, cfg Config) (*harness, *clientcerttest.CA) {
	t.Helper()
	ca := clientcerttest.NewCA(t, "client CA")
	h := newHarness(t, cfg, harnessOptions{
		clientCAs: ca.Pool(),
		certs: clientcert.Source{Header: clientcert.HeaderClientCert,
			Proxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	})
	return h, ca
}

// mtlsClient registers a tls_client_auth client of the given format whose
// certificate must carry the dNSName san, with bound access tokens.
func (h *harness) mtlsClient(id, format, san string, grants ...string) {
	h.t.Helper()
	if len(grants) == 0 {
		grants = []string{"client_credentials"}
	}
	c := store.Client{ID: id, AuthMethod: store.AuthTLSClient, GrantTypes: grants,
		TLSClientAuth: store.TLSClientAuth{SANDNS: san}, CertBoundAccessTokens: true,
		Scopes: []string{"read"}, AccessTokenFormat: format, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := h.db.CreateClient(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
}

// certRequest is a form POST to path over a TLS connection that presented
// cert (nil: none).
func certRequest(path string, form url.Values, cert *clientcerttest.Cert) *http.Request {
	r := httptest.NewRequest(http.MethodPost, harnessIssuer+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = "192.0.2.9:4000"
	r.TLS = &tls.ConnectionState{}
	if cert != nil {
		r.TLS.PeerCertificates = []*x509.Certificate{cert.Cert}
	}
	return r
}

// certToken posts form as client id (client_id in the form) with cert.
func (h *harness) certToken(id string, form url.Values, cert *clientcerttest.Cert) tokenResult {
	h.t.Helper()
	form = cloneValues(form)
	form.Set("client_id", id)
	return h.decodeToken(h.do(certRequest(pathToken, form, cert)))
}

func (h *harness) decodeToken(rec *httptest.ResponseRecorder) tokenResult {
	h.t.Helper()
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		h.t.Fatalf("token response %d is not JSON: %v: %s", rec.Code, err, rec.Body)
	}
	return tokenResult{rec.Code, rec.Header(), m}
}

// cnfX5T returns claims["cnf"]["x5t#S256"], "" when absent.
func cnfX5T(claims map[string]any) string {
	cnf, _ := claims["cnf"].(map[string]any)
	x5t, _ := cnf["x5t#S256"].(string)
	return x5t
}

// TestMTLSBoundAccessToken: a tls_client_auth client registered for bound
// tokens gets a Bearer token (RFC 8705 §3) whose cnf x5t#S256 is its
// certificate's thumbprint, in every form the token takes: the JWT, the
// introspection answer and the phantom token of opaque and split tokens.
func TestMTLSBoundAccessToken(t *testing.T) {
	h, ca := mtlsHarness(t, Config{MTLS: MTLSConfig{Enabled: true, PKI: true}})
	rsSecret := h.client(store.Client{ID: "rs", GrantTypes: []string{"client_credentials"}, CanIntrospect: true})
	cert := ca.Issue(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "svc"}, DNS: []string{"svc.example.com"}})
	want := clientcert.Thumbprint(cert.Cert)
	for _, f := range []string{store.FormatOpaque, store.FormatJWT, store.FormatSplit} {
		t.Run(f, func(t *testing.T) {
			h.mtlsClient("svc-"+f, f, "svc.example.com")
			res := h.certToken("svc-"+f, ccForm, &cert)
			if res.status != http.StatusOK {
				t.Fatalf("token = %d %v", res.status, res.body)
			}
			// RFC 8705 §3: a certificate-bound token is still a Bearer
			// token on the wire.
			if res.body["token_type"] != "Bearer" {
				t.Errorf("token_type = %v, want Bearer", res.body["token_type"])
			}
			access := res.body["access_token"].(string)
			if f == store.FormatJWT {
				if got := cnfX5T(jwtPayload(t, access)); got != want {
					t.Errorf("JWT cnf x5t#S256 = %q, want %q", got, want)
				}
			}
			_, body := h.introspectJSON(rsSecret, access, "")
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			if got := cnfX5T(m); got != want || m["token_type"] != "Bearer" || m["active"] != true {
				t.Errorf("introspection = %v, want active Bearer with cnf x5t#S256 %q", m, want)
			}
			if f != store.FormatJWT {
				code, jws := h.introspectJSON(rsSecret, access, "application/jwt")
				if code != http.StatusOK {
					t.Fatalf("phantom = %d", code)
				}
				if got := cnfX5T(jwtPayload(t, string(jws))); got != want {
					t.Errorf("phantom cnf x5t#S256 = %q, want %q", got, want)
				}
			}
		})
	}
}

// TestMTLSTokenEndpointRefusals: the token endpoint's answers for every
// way a certificate can be wrong or missing.
func TestMTLSTokenEndpointRefusals(t *testing.T) {
	h, ca := mtlsHarness(t, Config{MTLS: MTLSConfig{Enabled: true, PKI: true}})
	h.mtlsClient("svc", store.FormatOpaque, "svc.example.com")
	good := ca.Issue(t, clientcerttest.Spec{DNS: []string{"svc.example.com"}})
	wrongSAN := ca.Issue(t, clientcerttest.Spec{DNS: []string{"other.example.com"}})
	foreign := clientcerttest.NewCA(t, "other CA").Issue(t, clientcerttest.Spec{DNS: []string{"svc.example.com"}})
	// A secret-authenticated client registered for bound tokens.
	secret := h.client(store.Client{ID: "bound-secret", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}, CertBoundAccessTokens: true})
	withCert := func(r *http.Request) *http.Request { r.TLS.PeerCertificates = []*x509.Certificate{good.Cert}; return r }
	basic := func(r *http.Request) *http.Request { r.SetBasicAuth("bound-secret", secret); return r }

	header := func(remote string) *http.Request {
		r := certRequest(pathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}}, nil)
		r.TLS, r.RemoteAddr = nil, remote
		r.Header.Set(clientcert.HeaderClientCert, clientcert.FormatHeader(good.Cert))
		return r
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}}
	for _, tc := range []struct {
		name       string
		req        *http.Request
		status     int
		error      string
		x5tOfGood  bool
		bearerOnly bool
	}{
		{"no certificate", certRequest(pathToken, form, nil), http.StatusUnauthorized, "invalid_client", false, false},
		{"certificate of another CA", certRequest(pathToken, form, &foreign), http.StatusUnauthorized, "invalid_client", false, false},
		{"wrong SAN", certRequest(pathToken, form, &wrongSAN), http.StatusUnauthorized, "invalid_client", false, false},
		{"header from a client is ignored", header("192.0.2.9:4000"), http.StatusUnauthorized, "invalid_client", false, false},
		{"header from a trusted proxy", header(mtlsProxy), http.StatusOK, "", true, false},
		{"bound-token client without a certificate", basic(certRequest(pathToken, url.Values{"grant_type": {"client_credentials"}}, nil)),
			http.StatusBadRequest, "invalid_request", false, false},
		{"bound-token client with a certificate", withCert(basic(certRequest(pathToken, url.Values{"grant_type": {"client_credentials"}}, nil))),
			http.StatusOK, "", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := h.decodeToken(h.do(tc.req))
			if res.status != tc.status || (tc.error != "" && res.body["error"] != tc.error) {
				t.Fatalf("= %d %v, want %d %s", res.status, res.body, tc.status, tc.error)
			}
			if tc.x5tOfGood {
				x5t := h.boundX5T(res.body["access_token"])
				if x5t != clientcert.Thumbprint(good.Cert) {
					t.Errorf("stored cnf x5t#S256 = %q, want the certificate's", x5t)
				}
			}
		})
	}
	// Nothing said why: the description is the same for every failure.
	res := h.decodeToken(h.do(certRequest(pathToken, form, &wrongSAN)))
	if d, _ := res.body["error_description"].(string); strings.Contains(d, "SAN") || strings.Contains(d, "certificate") {
		t.Errorf("error_description %q tells why", d)
	}
}

// boundX5T is the x5t#S256 a stored access token is bound to.
func (h *harness) boundX5T(access any) string {
	h.t.Helper()
	s, _ := access.(string)
	tok, err := h.db.GetToken(context.Background(), token.Digest(s))
	if err != nil {
		h.t.Fatalf("stored token: %v", err)
	}
	b, err := boundTo(tok.Claims)
	if err != nil {
		h.t.Fatal(err)
	}
	return b.X5T
}

// TestMTLSPublicRefreshBound: a public client's refresh token is bound to
// the certificate of its code exchange (RFC 8705 §4): refreshing without
// it, or with another, is invalid_grant and spends nothing; with it, the
// refresh works and the new tokens stay bound.
func TestMTLSPublicRefreshBound(t *testing.T) {
	h, _ := mtlsHarness(t, Config{MTLS: MTLSConfig{Enabled: true}})
	cookie := publicCodeClient(h, "app")
	c, err := h.db.GetClient(context.Background(), "app")
	if err != nil {
		t.Fatal(err)
	}
	c.CertBoundAccessTokens = true
	if err := h.db.UpdateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	// RFC 8705 §4: a public client may use a self-signed certificate it
	// never registered; the binding is what counts.
	mine := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "app"}})
	other := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "app"}})

	res := h.certToken("app", codeForm(h.code("app", cookie, nil)), &mine)
	if res.status != http.StatusOK || res.body["refresh_token"] == nil {
		t.Fatalf("code exchange = %d %v", res.status, res.body)
	}
	if got := h.boundX5T(res.body["access_token"]); got != clientcert.Thumbprint(mine.Cert) {
		t.Fatalf("access token x5t = %q", got)
	}
	rt := res.body["refresh_token"]
	for _, tc := range []struct {
		name string
		cert *clientcerttest.Cert
		want string
	}{
		// The client's registration asks for a certificate before the
		// refresh token is even looked at.
		{"without a certificate", nil, "invalid_request"},
		{"with another certificate", &other, "invalid_grant"},
	} {
		got := h.certToken("app", refreshForm(rt), tc.cert)
		if got.status != http.StatusBadRequest || got.body["error"] != tc.want {
			t.Errorf("refresh %s = %d %v, want 400 %s", tc.name, got.status, got.body, tc.want)
		}
	}
	res = h.certToken("app", refreshForm(rt), &mine)
	if res.status != http.StatusOK {
		t.Fatalf("refresh with the certificate = %d %v", res.status, res.body)
	}
	if got := h.boundX5T(res.body["access_token"]); got != clientcert.Thumbprint(mine.Cert) {
		t.Errorf("refreshed access token x5t = %q", got)
	}
	if got := h.certToken("app", refreshForm(res.body["refresh_token"]), &other); got.body["error"] != "invalid_grant" {
		t.Errorf("rotated refresh token with another certificate = %d %v", got.status, got.body)
	}
}

// TestMTLSConfidentialRefreshUnbound: a confidential client's refresh
// token is not bound (RFC 8705 §4 binds public clients' only): a renewed
// certificate refreshes, and the new access token is bound to it.
func TestMTLSConfidentialRefreshUnbound(t *testing.T) {
	h, ca := mtlsHarness(t, Config{MTLS: MTLSConfig{Enabled: true, PKI: true}})
	c := store.Client{ID: "web", AuthMethod: store.AuthTLSClient, TLSClientAuth: store.TLSClientAuth{SANDNS: "web.example.com"},
		CertBoundAccessTokens: true, GrantTypes: []string{"authorization_code", "refresh_token"},
		RedirectURIs: []string{"https://app.example/cb"}, Scopes: []string{"openid", "read"}, SkipConsent: true,
		AccessTokenFormat: store.FormatOpaque, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := h.db.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	cookie := h.session(h.user("alice"))
	old := ca.Issue(t, clientcerttest.Spec{DNS: []string{"web.example.com"}})
	renewed := ca.Issue(t, clientcerttest.Spec{DNS: []string{"web.example.com"}})
	res := h.certToken("web", codeForm(h.code("web", cookie, nil)), &old)
	if res.status != http.StatusOK {
		t.Fatalf("code exchange = %d %v", res.status, res.body)
	}
	res = h.certToken("web", refreshForm(res.body["refresh_token"]), &renewed)
	if res.status != http.StatusOK {
		t.Fatalf("refresh with the renewed certificate = %d %v", res.status, res.body)
	}
	if got := h.boundX5T(res.body["access_token"]); got != clientcert.Thumbprint(renewed.Cert) {
		t.Errorf("refreshed token x5t = %q, want the renewed certificate's", got)
	}
}

// TestMTLSUserinfo: the userinfo endpoint honours a certificate-bound
// token only with its certificate (RFC 8705 §3).
func TestMTLSUserinfo(t *testing.T) {
	h, _ := mtlsHarness(t, Config{MTLS: MTLSConfig{Enabled: true}})
	cookie := publicCodeClient(h, "app")
	c, _ := h.db.GetClient(context.Background(), "app")
	c.CertBoundAccessTokens = true
	if err := h.db.UpdateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	mine := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "app"}})
	other := clientcerttest.SelfSigned(t, clientcerttest.Spec{Subject: pkix.Name{CommonName: "app"}})
	res := h.certToken("app", codeForm(h.code("app", cookie, nil)), &mine)
	if res.status != http.StatusOK {
		t.Fatalf("code exchange = %d %v", res.status, res.body)
	}
	for _, tc := range []struct {
		name string
		cert *clientcerttest.Cert
		want int
	}{{"with the certificate", &mine, http.StatusOK}, {"without", nil, http.StatusUnauthorized}, {"with another", &other, http.StatusUnauthorized}} {
		r := certRequest(pathUserinfo, url.Values{}, tc.cert)
		r.Method = http.MethodGet
		r.Header.Set("Authorization", "Bearer "+res.body["access_token"].(string))
		if got := h.do(r).Code; got != tc.want {
			t.Errorf("userinfo %s = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestMTLSDiscovery: the metadata offers RFC 8705 exactly as configured
// (§3.3, §5), and nothing of it when mutual TLS is off.
func TestMTLSDiscovery(t *testing.T) {
	type doc struct {
		Token      []string          `json:"token_endpoint_auth_methods_supported"`
		Introspect []string          `json:"introspection_endpoint_auth_methods_supported"`
		Revoke     []string          `json:"revocation_endpoint_auth_methods_supported"`
		Bound      *bool             `json:"tls_client_certificate_bound_access_tokens"`
		Aliases    map[string]string `json:"mtls_endpoint_aliases"`
	}
	get := func(cfg Config) doc {
		h := newHarness(t, cfg, harnessOptions{})
		iss := cfg.Issuer
		if iss == "" {
			iss = harnessIssuer
		}
		rec := h.do(httptest.NewRequest(http.MethodGet, iss+"/.well-known/openid-configuration", nil))
		var d doc
		if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	off := get(Config{})
	if off.Bound != nil || off.Aliases != nil || slices.Contains(off.Token, "tls_client_auth") ||
		slices.Contains(off.Token, "self_signed_tls_client_auth") {
		t.Errorf("mutual TLS off, yet advertised: %+v", off)
	}
	selfOnly := get(Config{MTLS: MTLSConfig{Enabled: true}})
	if slices.Contains(selfOnly.Token, "tls_client_auth") || !slices.Contains(selfOnly.Token, "self_signed_tls_client_auth") {
		t.Errorf("without trust anchors: token methods %v", selfOnly.Token)
	}
	on := get(Config{Issuer: "https://as.example/tenant", MTLS: MTLSConfig{Enabled: true, PKI: true, EndpointBase: "https://mtls.as.example"}})
	for _, list := range [][]string{on.Token, on.Introspect, on.Revoke} {
		if !slices.Contains(list, "tls_client_auth") || !slices.Contains(list, "self_signed_tls_client_auth") {
			t.Errorf("auth methods %v lack the mutual-TLS ones", list)
		}
	}
	if slices.Contains(on.Introspect, "none") {
		t.Errorf("introspection methods %v include none", on.Introspect)
	}
	if on.Bound == nil || !*on.Bound {
		t.Error("tls_client_certificate_bound_access_tokens is not true")
	}
	want := map[string]string{
		"token_endpoint":         "https://mtls.as.example/tenant/oauth2/token",
		"revocation_endpoint":    "https://mtls.as.example/tenant/oauth2/revoke",
		"introspection_endpoint": "https://mtls.as.example/tenant/oauth2/introspect",
		"userinfo_endpoint":      "https://mtls.as.example/tenant/userinfo",
	}
	if len(on.Aliases) != len(want) {
		t.Errorf("mtls_endpoint_aliases = %v, want %v", on.Aliases, want)
	}
	for k, v := range want {
		if on.Aliases[k] != v {
			t.Errorf("mtls_endpoint_aliases[%s] = %q, want %q", k, on.Aliases[k], v)
		}
	}
}
