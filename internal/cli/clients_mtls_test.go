package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/registry"
)

// TestCLIClientsMTLS: clients create registers a tls_client_auth client
// (RFC 8705 §2.1.2) with its subject and bound tokens, without a secret,
// and refuses a subject for another method.
func TestCLIClientsMTLS(t *testing.T) {
	e := newCLIEnv(t)
	out := e.mustRun("", "clients", "create", "--config", e.config, "--id", "svc",
		"--auth-method", "tls_client_auth", "--tls-client-auth-subject-dn", "CN=svc,O=Example",
		"--tls-bound-tokens", "--json")
	var got registry.ClientInfo
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("clients create --json: %v: %s", err, out)
	}
	if got.TokenEndpointAuthMethod != "tls_client_auth" || got.TLSClientAuthSubjectDN != "CN=svc,O=Example" ||
		!got.CertBoundAccessTokens || got.ClientSecret != "" {
		t.Errorf("created %+v", got)
	}
	text := e.mustRun("", "clients", "show", "svc", "--config", e.config)
	for _, want := range []string{"tls_client_auth_subject_dn:", "CN=svc,O=Example", "tls_client_certificate_bound_access_tokens:"} {
		if !strings.Contains(text, want) {
			t.Errorf("clients show lacks %q:\n%s", want, text)
		}
	}
	if _, err := e.run("", "clients", "create", "--config", e.config, "--id", "x",
		"--tls-client-auth-san-dns", "x.example"); err == nil || !strings.Contains(err.Error(), "--tls-client-auth-san-dns") {
		t.Errorf("subject for a secret client: error %v", err)
	}
	if _, err := e.run("", "clients", "create", "--config", e.config, "--id", "y",
		"--auth-method", "tls_client_auth"); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("tls_client_auth without a subject: error %v", err)
	}
}
