package audit

import (
	"encoding/json"
	"testing"
)

func TestSensitive(t *testing.T) {
	for name, want := range map[string]bool{
		"client_secret": true, "secret_digest": true, "SecretDigest": true, "password_hash": true,
		"password": true, "refresh_token": true, "id-token": true, "api_key": true, "apiKey": true,
		"private_key": true, "private_sealed": true, "Authorization": true, "credentials": true,
		"access_token_ttl": false, "access_token_format": false, "token_endpoint_auth_method": false,
		"secret_key_id": false, "has_password": false, "client_id": false, "username": false, "roles": false,
	} {
		if got := Sensitive(name); got != want {
			t.Errorf("Sensitive(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{``, ``},
		{`null`, ``},
		{`{"client_id":"svc","secret_digest":"q83vEjRWeJA=","access_token_ttl":"5m0s"}`,
			`{"access_token_ttl":"5m0s","client_id":"svc","secret_digest":"[redacted]"}`},
		// Empty values stay, so the trail shows whether a secret was set.
		{`{"secret_digest":null,"password_hash":"","tokens":[],"secrets":{}}`,
			`{"password_hash":"","secret_digest":null,"secrets":{},"tokens":[]}`},
		// At any depth, whatever the value's type.
		{`{"attrs":{"api_token":"abc","office":"head"},"list":[{"password":{"x":1}}],"has_password":true}`,
			`{"attrs":{"api_token":"[redacted]","office":"head"},"has_password":true,"list":[{"password":"[redacted]"}]}`},
	} {
		got, err := Redact(json.RawMessage(tc.in))
		if err != nil {
			t.Errorf("Redact(%s): %v", tc.in, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("Redact(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
