package oauth

import (
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/portcullis/portcullis/internal/store"
)

func TestRedirectAllowed(t *testing.T) {
	confidential := store.Client{AuthMethod: store.AuthSecretBasic,
		RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:9999/cb", "http://127.0.0.1/native"}}
	native := store.Client{AuthMethod: store.AuthNone,
		RedirectURIs: []string{"http://127.0.0.1/cb", "http://[::1]/cb", "com.example.app:/cb"}}
	// A browser app: public, but with a web redirect URI.
	spa := store.Client{AuthMethod: store.AuthNone,
		RedirectURIs: []string{"https://spa.example/cb", "http://127.0.0.1/cb"}}
	// A browser app in development: its loopback URI names a port.
	devSPA := store.Client{AuthMethod: store.AuthNone,
		RedirectURIs: []string{"http://127.0.0.1:5173/cb"}}
	tests := []struct {
		name   string
		client store.Client
		uri    string
		want   bool
	}{
		{"exact", confidential, "https://app.example/cb", true},
		{"trailing slash", confidential, "https://app.example/cb/", false},
		{"case of host", confidential, "https://APP.example/cb", false},
		{"extra query", confidential, "https://app.example/cb?x=1", false},
		{"fragment", confidential, "https://app.example/cb#x", false},
		{"other port for confidential loopback", confidential, "http://127.0.0.1:1234/cb", false},
		{"any port for confidential portless loopback", confidential, "http://127.0.0.1:1234/native", false},
		{"userinfo trick", confidential, "https://app.example/cb@evil.example", false},

		{"native loopback exact", native, "http://127.0.0.1/cb", true},
		{"native loopback any port", native, "http://127.0.0.1:51234/cb", true},
		{"native ipv6 loopback any port", native, "http://[::1]:4000/cb", true},
		{"native lowest port", native, "http://127.0.0.1:1/cb", true},
		{"native highest port", native, "http://127.0.0.1:65535/cb", true},
		{"native port 0", native, "http://127.0.0.1:0/cb", false},
		{"native port above 65535", native, "http://127.0.0.1:99999/cb", false},
		{"native port 65536", native, "http://127.0.0.1:65536/cb", false},
		{"native port with leading zero", native, "http://127.0.0.1:0080/cb", false},
		{"native empty port", native, "http://127.0.0.1:/cb", false},
		{"native loopback other path", native, "http://127.0.0.1:51234/other", false},
		{"native other loopback address", native, "http://127.0.0.2:51234/cb", false},
		{"native localhost name is not an IP", native, "http://localhost:51234/cb", false},
		{"native loopback https", native, "https://127.0.0.1:51234/cb", false},
		{"native private-use scheme exact", native, "com.example.app:/cb", true},
		{"native loopback with userinfo", native, "http://x@127.0.0.1:1/cb", false},
		{"native loopback with fragment", native, "http://127.0.0.1:1/cb#x", false},

		{"spa exact", spa, "https://spa.example/cb", true},
		{"spa portless loopback exact", spa, "http://127.0.0.1/cb", true},
		{"spa loopback any port", spa, "http://127.0.0.1:51234/cb", false},
		{"dev spa exact", devSPA, "http://127.0.0.1:5173/cb", true},
		{"dev spa other port", devSPA, "http://127.0.0.1:5174/cb", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redirectAllowed(tc.client, tc.uri); got != tc.want {
				t.Errorf("redirectAllowed(%q) = %v, want %v", tc.uri, got, tc.want)
			}
		})
	}
}

func TestNativeClient(t *testing.T) {
	tests := []struct {
		name string
		c    store.Client
		want bool
	}{
		{"portless loopback", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}, true},
		{"private-use scheme", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"com.example.app:/cb"}}, true},
		{"both", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"http://[::1]/cb", "com.example.app:/cb"}}, true},
		{"loopback with a port", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"http://127.0.0.1:8000/cb"}}, false},
		{"localhost", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"http://localhost/cb"}}, false},
		{"web redirect", store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"https://spa.example/cb", "http://127.0.0.1/cb"}}, false},
		{"no redirect", store.Client{AuthMethod: store.AuthNone}, false},
		{"confidential", store.Client{AuthMethod: store.AuthSecretBasic, RedirectURIs: []string{"http://127.0.0.1/cb"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nativeClient(tc.c); got != tc.want {
				t.Errorf("nativeClient(%v) = %v, want %v", tc.c.RedirectURIs, got, tc.want)
			}
		})
	}
}

func TestVerifyPKCE(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mJ92IZHpjD6ZKjLnW9QoRVqGCs0SLk"
	// BASE64URL(SHA256(verifier)), computed independently.
	const challenge = "wV2I6zUmKrVyiQCPm3oJUKBsRiYX8Dz5wnau7zKItOA"
	tests := []struct {
		name, verifier string
		wantErr        bool
	}{
		{"matching verifier", verifier, false},
		{"missing", "", true},
		{"short", verifier[:42], true},
		{"bad chars", verifier[:42] + "+", true},
		{"other verifier", "eBjftJeZ4CVP-mJ92IZHpjD6ZKjLnW9QoRVqGCs0SLk", true},
		{"challenge as verifier", challenge, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := verifyPKCE(tc.verifier, challenge)
			if (e != nil) != tc.wantErr {
				t.Fatalf("verifyPKCE = %v, wantErr %v", e, tc.wantErr)
			}
			if e != nil && errorCode(e) != errInvalidGrant {
				t.Errorf("code = %s, want invalid_grant", errorCode(e))
			}
		})
	}
}

func TestParseScope(t *testing.T) {
	tests := []struct {
		name    string
		form    url.Values
		want    []string
		wantErr bool
	}{
		{"absent means client default", url.Values{}, []string{"a", "b"}, false},
		{"dedupe keeps order", url.Values{"scope": {"b a b"}}, []string{"b", "a"}, false},
		{"empty", url.Values{"scope": {""}}, []string{}, false},
		{"quote refused", url.Values{"scope": {`a"b`}}, nil, true},
		{"backslash refused", url.Values{"scope": {`a\b`}}, nil, true},
		{"control refused", url.Values{"scope": {"a\nb"}}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, e := parseScope(tc.form, []string{"a", "b"})
			if (e != nil) != tc.wantErr {
				t.Fatalf("err = %v", e)
			}
			if e == nil && !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAcceptsJWT(t *testing.T) {
	for accept, want := range map[string]bool{
		"":                                  false,
		"application/json":                  false,
		"application/jwt":                   true,
		"application/json, application/jwt": true,
		"application/jwt;q=0":               false,
		"APPLICATION/JWT":                   true,
		"application/jwt+x":                 false,
	} {
		if got := acceptsJWT(accept); got != want {
			t.Errorf("acceptsJWT(%q) = %v, want %v", accept, got, want)
		}
	}
}

func TestCheckSingle(t *testing.T) {
	if e := checkSingle(url.Values{"a": {"1"}, "resource": {"x", "y"}}); e != nil {
		t.Errorf("resource may repeat: %v", e)
	}
	e := checkSingle(url.Values{"grant_type": {"a", "b"}})
	if e == nil || errorCode(e) != errInvalidRequest {
		t.Errorf("repeated grant_type: %v", e)
	}
}

// errorCode is the RFC error code err carries, or "" when it carries none.
func errorCode(err error) string {
	var e *oauthError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// FuzzFormParameters feeds arbitrary form bodies to the parameter parsers
// the token, introspection and authorization endpoints share.
func FuzzFormParameters(f *testing.F) {
	for _, s := range []string{
		"grant_type=client_credentials&scope=a+b",
		"scope=%22&scope=a",
		"resource=https%3A%2F%2Fapi&resource=x%23y",
		"code_verifier=dBjftJeZ4CVP-mJ92IZHpjD6ZKjLnW9QoRVqGCs0SLk",
		"%zz=1",
	} {
		f.Add(s)
	}
	s := &Server{cfg: Config{Issuer: "https://as.example"}}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		_ = checkSingle(v)
		if scopes, e := parseScope(v, nil); e == nil {
			for _, sc := range scopes {
				if sc == "" {
					t.Fatalf("empty scope from %q", body)
				}
			}
		}
		_, _ = s.audience(v, store.Client{})
		_ = verifyPKCE(v.Get("code_verifier"), "wV2I6zUmKrVyiQCPm3oJUKBsRiYX8Dz5wnau7zKItOA")
		_ = redirectAllowed(store.Client{AuthMethod: store.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}, v.Get("redirect_uri"))
		_ = acceptsJWT(v.Get("accept"))
	})
}
