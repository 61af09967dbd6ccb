package admin

import (
	"net/http"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/registry"
)

// ClientRequest is the body of POST /admin/v1/clients (RFC 7591 §2 names
// where one exists).
type ClientRequest struct {
	ClientID     string   `json:"client_id,omitempty"`
	Name         string   `json:"client_name,omitempty"`
	GrantTypes   []string `json:"grant_types,omitempty"`
	RedirectURIs []string `json:"redirect_uris,omitempty"`
	// PostLogoutRedirectURIs are OpenID Connect RP-Initiated Logout 1.0
	// §3.1's post_logout_redirect_uris.
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	Audience                []string `json:"audience,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	Public                  bool     `json:"public,omitempty"`
	AccessTokenFormat       string   `json:"access_token_format,omitempty"`
	JWKS                    string   `json:"jwks,omitempty"`
	// The RFC 8705 metadata (§2.1.2, §3.4).
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`
	CertBoundAccessTokens  bool   `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	Introspect             bool   `json:"introspect,omitempty"`
	SkipConsent            bool   `json:"skip_consent,omitempty"`
}

func clientETag(c registry.ClientInfo) string {
	c.ClientSecret = ""
	return etag(c)
}

func (a *API) listClients(w http.ResponseWriter, r *http.Request, reqID string) {
	limit, after, ok := a.pageParams(w, r, reqID)
	if !ok {
		return
	}
	list, err := a.clients.List(r.Context())
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	slices.SortFunc(list, func(x, y registry.ClientInfo) int { return strings.Compare(x.ClientID, y.ClientID) })
	writeJSON(w, http.StatusOK, paginate(list, func(c registry.ClientInfo) string { return c.ClientID }, after, limit))
}

func (a *API) getClient(w http.ResponseWriter, r *http.Request, reqID string) {
	c, err := a.clients.Get(r.Context(), r.PathValue("client_id"))
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", clientETag(c))
	writeJSON(w, http.StatusOK, c)
}

func (a *API) createClient(w http.ResponseWriter, r *http.Request, reqID string) {
	var req ClientRequest
	if !a.decode(w, r, reqID, &req) {
		return
	}
	spec := registry.ClientSpec{
		ID: req.ClientID, Name: req.Name, GrantTypes: req.GrantTypes, RedirectURIs: req.RedirectURIs,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		Audience:               req.Audience, AuthMethod: req.TokenEndpointAuthMethod, Public: req.Public,
		Format: req.AccessTokenFormat, CanIntrospect: req.Introspect, SkipConsent: req.SkipConsent,
		TLSClientAuth: registry.TLSClientAuth{SubjectDN: req.TLSClientAuthSubjectDN, SANDNS: req.TLSClientAuthSANDNS,
			SANURI: req.TLSClientAuthSANURI, SANIP: req.TLSClientAuthSANIP, SANEmail: req.TLSClientAuthSANEmail},
		CertBoundAccessTokens: req.CertBoundAccessTokens,
	}
	if req.Scope != "" {
		spec.Scopes = []string{req.Scope}
	}
	if req.JWKS != "" {
		spec.JWKS = []byte(req.JWKS)
	}
	c, err := a.clients.Create(r.Context(), spec)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", clientETag(c))
	w.Header().Set("Location", "/admin/v1/clients/"+c.ClientID)
	// The secret is shown here once; it is never stored in the clear.
	writeJSON(w, http.StatusCreated, c)
}

func (a *API) deleteClient(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("client_id")
	if len(r.Header.Values("If-Match")) > 0 {
		c, err := a.clients.Get(r.Context(), id)
		if err != nil {
			a.fail(w, reqID, err)
			return
		}
		if !a.ifMatch(w, r, reqID, clientETag(c)) {
			return
		}
	}
	if err := a.clients.Delete(r.Context(), id); err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *API) rotateClientSecret(w http.ResponseWriter, r *http.Request, reqID string) {
	id := r.PathValue("client_id")
	if len(r.Header.Values("If-Match")) > 0 {
		c, err := a.clients.Get(r.Context(), id)
		if err != nil {
			a.fail(w, reqID, err)
			return
		}
		if !a.ifMatch(w, r, reqID, clientETag(c)) {
			return
		}
	}
	c, err := a.clients.RotateSecret(r.Context(), id)
	if err != nil {
		a.fail(w, reqID, err)
		return
	}
	w.Header().Set("ETag", clientETag(c))
	writeJSON(w, http.StatusOK, c)
}
