package adminclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNewChecksTheServer(t *testing.T) {
	for _, tc := range []struct {
		server string
		ok     bool
	}{
		{"https://admin.example:8081", true},
		{"https://admin.example/base/", true},
		{"http://127.0.0.1:8081", true},
		{"http://localhost:8081", true},
		{"http://[::1]:8081", true},
		{"http://admin.example:8081", false},
		{"http://10.0.0.1:8081", false},
		{"ftp://admin.example", false},
		{"admin.example:8081", false},
		{"https://user:pw@admin.example", false},
		{"https://admin.example/?x=1", false},
	} {
		_, err := New(tc.server, "token", nil)
		if (err == nil) != tc.ok {
			t.Errorf("New(%q) error = %v, want ok %t", tc.server, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q) error %q shows the URL's password", tc.server, err)
		}
	}
	if _, err := New("https://admin.example", "", nil); err == nil {
		t.Error("New without a token: no error")
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var followed bool
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := New(srv.URL, "secret-token", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListClients(t.Context())
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusTemporaryRedirect {
		t.Fatalf("ListClients error = %v, want the 307 as an *Error", err)
	}
	if followed {
		t.Error("the redirect was followed with the token")
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error %q shows the token", err)
	}
}
