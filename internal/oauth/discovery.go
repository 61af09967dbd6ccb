package oauth

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/portcullis/portcullis/internal/keys"
)

// discoveryDoc is the server metadata of RFC 8414 §2 and OpenID Connect
// Discovery §3. It lists exactly what the server implements.
type discoveryDoc struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
	RevocationEndpoint    string `json:"revocation_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint"`
	// EndSessionEndpoint is OpenID Connect RP-Initiated Logout 1.0 §2.1.
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ScopesSupported                   []string `json:"scopes_supported,omitempty"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	TokenEndpointAuthSigningAlgs      []string `json:"token_endpoint_auth_signing_alg_values_supported"`
	IntrospectionAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	IntrospectionAuthSigningAlgs      []string `json:"introspection_endpoint_auth_signing_alg_values_supported"`
	RevocationAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	RevocationAuthSigningAlgs         []string `json:"revocation_endpoint_auth_signing_alg_values_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
	AuthorizationResponseIssParameter bool     `json:"authorization_response_iss_parameter_supported"`
	RequestParameterSupported         bool     `json:"request_parameter_supported"`
	RequestURIParameterSupported      bool     `json:"request_uri_parameter_supported"`
	ClaimsParameterSupported          bool     `json:"claims_parameter_supported"`
	PromptValuesSupported             []string `json:"prompt_values_supported"`
	AccessTokenSigningAlgs            []string `json:"access_token_signing_alg_values_supported,omitempty"`
	IntrospectionSigningAlgs          []string `json:"introspection_signing_alg_values_supported,omitempty"`
	// DPoPSigningAlgs is RFC 9449 §5.1: the proof algorithms accepted.
	DPoPSigningAlgs []string `json:"dpop_signing_alg_values_supported,omitempty"`
	// CertBoundAccessTokens is RFC 8705 §3.3; MTLSEndpointAliases §5.
	// Both are left out unless mutual TLS is configured.
	CertBoundAccessTokens bool              `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	MTLSEndpointAliases   map[string]string `json:"mtls_endpoint_aliases,omitempty"`
}

// assertionAlgs are the algorithms accepted for private_key_jwt client
// assertions (asymmetric only).
var assertionAlgs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// authMethods are the client authentication methods of every endpoint
// that takes them: the confidential ones, then the mutual-TLS ones (RFC
// 8705 §2) when configured, then none for public clients. The
// introspection endpoint takes no public clients (RFC 7662 §2.1).
func (s *Server) authMethods() (all, confidential []string) {
	confidential = []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
	if m := s.cfg.MTLS; m.Enabled {
		if m.PKI {
			confidential = append(confidential, "tls_client_auth")
		}
		confidential = append(confidential, "self_signed_tls_client_auth")
	}
	return append(slices.Clip(confidential), "none"), confidential
}

func (s *Server) discoveryDocument() discoveryDoc {
	authMethods, confidential := s.authMethods()
	return discoveryDoc{
		Issuer:                            s.cfg.Issuer,
		AuthorizationEndpoint:             s.url(pathAuthorize),
		TokenEndpoint:                     s.url(pathToken),
		IntrospectionEndpoint:             s.url(pathIntrospect),
		RevocationEndpoint:                s.url(pathRevoke),
		UserinfoEndpoint:                  s.url(pathUserinfo),
		EndSessionEndpoint:                s.url(pathEndSession),
		JWKSURI:                           s.url(pathJWKS),
		ScopesSupported:                   s.cfg.Scopes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               s.grantTypesSupported(),
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{s.o.Keys.Alg(keys.UseID)},
		TokenEndpointAuthMethodsSupported: authMethods,
		TokenEndpointAuthSigningAlgs:      assertionAlgs,
		IntrospectionAuthMethodsSupported: confidential,
		IntrospectionAuthSigningAlgs:      assertionAlgs,
		RevocationAuthMethodsSupported:    authMethods,
		RevocationAuthSigningAlgs:         assertionAlgs,
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce",
			"azp", "at_hash", "preferred_username", "roles"},
		AuthorizationResponseIssParameter: true,
		PromptValuesSupported:             []string{"none", "login", "consent"},
		AccessTokenSigningAlgs:            []string{s.o.Keys.Alg(keys.UseAccess)},
		IntrospectionSigningAlgs:          []string{s.o.Keys.Alg(keys.UseAccess)},
		DPoPSigningAlgs:                   s.dpop.algs,
		CertBoundAccessTokens:             s.cfg.MTLS.Enabled,
		MTLSEndpointAliases:               s.mtlsAliases(),
	}
}

func (s *Server) discovery(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeBody(w, s.discoveryJSON())
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	// RFC 7517 §8.5.1 media type; a short cache keeps rotations visible.
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeBody(w, s.o.Keys.JWKS())
}

func writeBody(w http.ResponseWriter, b []byte) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (s *Server) discoveryJSON() []byte {
	b, err := json.Marshal(s.discoveryDocument())
	if err != nil {
		panic("oauth: discovery document does not marshal: " + err.Error())
	}
	return b
}
