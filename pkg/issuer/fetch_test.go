package issuer

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"https://as.example/jwks.json", true},
		{"https://as.example:8443/jwks", true},
		{"http://127.0.0.1:8080/jwks", true},
		{"http://127.9.9.9/jwks", true},
		{"http://[::1]:8080/jwks", true},
		{"http://localhost:8080/jwks", true},
		{"http://[::ffff:127.0.0.1]/jwks", true}, // IPv4 loopback, mapped
		{"http://as.example/jwks", false},
		{"http://10.0.0.1/jwks", false},
		{"http://localhost.evil.example/jwks", false},
		{"http://127.0.0.1.evil.example/jwks", false},
		{"file:///etc/passwd", false},
		{"ftp://as.example/jwks", false},
		{"https://user:pass@as.example/jwks", false},
		{"https://user@as.example/jwks", false},
		{"/jwks.json", false},
		{"//as.example/jwks", false},
		{"https:as.example", false},
		{"://", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if _, err := CheckURL(tc.in); (err == nil) != tc.ok {
				t.Errorf("CheckURL(%q) err = %v, want ok %v", tc.in, err, tc.ok)
			}
		})
	}
}

func TestCheckIdentifier(t *testing.T) {
	for in, ok := range map[string]bool{
		"https://as.example":          true,
		"https://as.example/tenant/1": true,
		"http://127.0.0.1:8080":       true,
		"":                            false,
		"https://as.example?x=1":      false,
		"https://as.example?":         false,
		"https://as.example#":         false,
		"https://as.example#f":        false,
		"http://as.example":           false,
	} {
		if err := CheckIdentifier(in); (err == nil) != ok {
			t.Errorf("CheckIdentifier(%q) = %v, want ok %v", in, err, ok)
		}
	}
}

func TestFetchJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat(" ", MaxDocumentSize+1)))
		case "/doc":
			if r.Header.Get("Accept") != "application/json" {
				http.Error(w, "accept", http.StatusNotAcceptable)
				return
			}
			_, _ = w.Write([]byte(`{"ok":true}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	client := RestrictRedirects(srv.Client())
	if body, err := FetchJSON(t.Context(), client, srv.URL+"/doc"); err != nil || string(body) != `{"ok":true}` {
		t.Errorf("FetchJSON(/doc) = %q, %v", body, err)
	}
	if _, err := FetchJSON(t.Context(), client, srv.URL+"/big"); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("FetchJSON(/big) = %v, want a size error", err)
	}
	var se *StatusError
	if _, err := FetchJSON(t.Context(), client, srv.URL+"/none"); !errors.As(err, &se) || se.Code != http.StatusNotFound {
		t.Errorf("FetchJSON(/none) = %v, want a StatusError 404", err)
	}
	if _, err := FetchJSON(t.Context(), client, "http://as.example/doc"); err == nil {
		t.Error("FetchJSON fetched clear text off loopback")
	}
}

func TestRestrictRedirects(t *testing.T) {
	hops := 0
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/off-loopback":
			http.Redirect(w, r, "http://keys.example/jwks", http.StatusFound)
		case "/loop":
			hops++
			http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
		case "/once":
			http.Redirect(w, r, srv.URL+"/doc", http.StatusFound)
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer srv.Close()
	called := false
	client := RestrictRedirects(&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { called = true; return nil }})
	if _, err := FetchJSON(t.Context(), client, srv.URL+"/off-loopback"); err == nil || !strings.Contains(err.Error(), "redirect refused") {
		t.Errorf("redirect off loopback in clear text: %v", err)
	}
	if _, err := FetchJSON(t.Context(), client, srv.URL+"/loop"); err == nil || hops > maxRedirects+1 {
		t.Errorf("redirect loop: %v after %d hops", err, hops)
	}
	if _, err := FetchJSON(t.Context(), client, srv.URL+"/once"); err != nil || !called {
		t.Errorf("one redirect: %v; client's own CheckRedirect called: %v", err, called)
	}
	// https to http, even to loopback, would drop TLS.
	from, _ := url.Parse("https://a.example/")
	to, _ := url.Parse("http://127.0.0.1/")
	if err := client.CheckRedirect(&http.Request{URL: to}, []*http.Request{{URL: from}}); err == nil {
		t.Error("a redirect from https to http was allowed")
	}
}
