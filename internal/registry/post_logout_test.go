package registry

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPostLogoutRedirectURIs(t *testing.T) {
	code := []string{GrantAuthorizationCode}
	web := []string{"https://app.example/cb"}
	tests := []struct {
		name string
		spec ClientSpec
		// want is the stored list when the spec is valid.
		want []string
		// wantIn is part of the error when it is not.
		wantIn string
	}{
		{name: "none", spec: ClientSpec{GrantTypes: code, RedirectURIs: web}},
		{
			name: "https and loopback, verbatim, duplicates once",
			spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{
				"https://app.example/?bye=1", "http://127.0.0.1:5173/", "https://app.example/?bye=1"}},
			want: []string{"https://app.example/?bye=1", "http://127.0.0.1:5173/"},
		},
		{
			name: "private-use scheme for a public native app",
			spec: ClientSpec{Public: true, RedirectURIs: []string{"com.example.app:/cb"},
				PostLogoutRedirectURIs: []string{"com.example.app:/signed-out"}},
			want: []string{"com.example.app:/signed-out"},
		},
		{name: "relative", spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{"/bye"}}, wantIn: "absolute"},
		{name: "fragment", spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{"https://app.example/#bye"}}, wantIn: "fragment"},
		{name: "plain http remote", spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{"http://app.example/"}}, wantIn: "loopback"},
		{name: "user info", spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{"https://u@app.example/"}}, wantIn: "user information"},
		{name: "custom scheme for confidential", spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: []string{"com.example.app:/bye"}}, wantIn: "confidential"},
		{name: "javascript", spec: ClientSpec{Public: true, RedirectURIs: web, PostLogoutRedirectURIs: []string{"javascript:alert(1)"}}, wantIn: "reverse domain"},
		{name: "without authorization_code", spec: ClientSpec{PostLogoutRedirectURIs: []string{"https://app.example/"}}, wantIn: "only by authorization_code"},
		{
			name: "too many",
			spec: ClientSpec{GrantTypes: code, RedirectURIs: web, PostLogoutRedirectURIs: func() []string {
				var l []string
				for i := range maxURIs + 1 {
					l = append(l, "https://app.example/"+strings.Repeat("x", i+1))
				}
				return l
			}()},
			wantIn: "at most",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.spec, time.Now())
			if tt.wantIn == "" {
				if err != nil {
					t.Fatalf("NewClient: %v", err)
				}
				if !slices.Equal(c.PostLogoutRedirectURIs, tt.want) {
					t.Errorf("PostLogoutRedirectURIs = %q, want %q", c.PostLogoutRedirectURIs, tt.want)
				}
				return
			}
			var ice *InvalidClientError
			if !errors.As(err, &ice) {
				t.Fatalf("NewClient error = %v, want *InvalidClientError", err)
			}
			if ice.Field != "post-logout-redirect-uri" || !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error = %q (field %q), want field post-logout-redirect-uri mentioning %q", err, ice.Field, tt.wantIn)
			}
		})
	}
}
