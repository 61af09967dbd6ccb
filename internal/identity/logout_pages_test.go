package identity_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity"
)

func TestLogoutPage(t *testing.T) {
	p := newPages(t)
	for _, tc := range []struct {
		name string
		d    identity.LogoutPage
		want []string
	}{
		{
			name: "named client and user",
			d: identity.LogoutPage{Action: "/oauth2/logout/confirm", Request: "sealed.req", CSRF: "tok123",
				ClientName: "Warehouse", Username: "alice"},
			want: []string{
				`<form method="post" action="/oauth2/logout/confirm">`,
				`<input type="hidden" name="request" value="sealed.req">`,
				`<input type="hidden" name="csrf_token" value="tok123">`,
				`<button type="submit" id="confirm-signout">Sign out</button>`,
				`<strong>Warehouse</strong> asks to sign you out.`,
				`Signed in as <strong>alice</strong>`,
			},
		},
		{
			name: "anonymous request",
			d:    identity.LogoutPage{Action: "/oauth2/logout/confirm", Request: "r", CSRF: "c"},
			want: []string{`An application asks to sign you out.`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.Logout(rec, tc.d)
			body := checkPage(t, rec, http.StatusOK)
			mustContain(t, body, tc.want...)
			if tc.d.Username == "" && strings.Contains(body, "Signed in as") {
				t.Error("page names a user it was not given")
			}
		})
	}
}

func TestSignedOutPage(t *testing.T) {
	p := newPages(t)
	for _, tc := range []struct {
		name string
		d    identity.SignedOutPage
		want []string
	}{
		{"named client", identity.SignedOutPage{ClientName: "Warehouse"},
			[]string{`<h1 id="signed-out">You are signed out</h1>`, `To use <strong>Warehouse</strong> again`}},
		{"no client", identity.SignedOutPage{}, []string{`You can close this page.`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.SignedOut(rec, tc.d)
			mustContain(t, checkPage(t, rec, http.StatusOK), tc.want...)
		})
	}
}

func TestLogoutPagesEscapeHostileInput(t *testing.T) {
	p := newPages(t)
	for name, fn := range map[string]func(*httptest.ResponseRecorder){
		"logout": func(w *httptest.ResponseRecorder) {
			p.Logout(w, identity.LogoutPage{Action: "javascript:alert(3)", Request: hostile, CSRF: hostile,
				ClientName: hostile, Username: hostile})
		},
		"signed out": func(w *httptest.ResponseRecorder) {
			p.SignedOut(w, identity.SignedOutPage{ClientName: hostile})
		},
	} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			fn(rec)
			body := checkPage(t, rec, http.StatusOK)
			if strings.Contains(body, "<img") || !strings.Contains(body, "&lt;script&gt;") {
				t.Errorf("hostile input not escaped:\n%s", body)
			}
		})
	}
}
