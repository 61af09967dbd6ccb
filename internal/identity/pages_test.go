package identity_test

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/identity"
)

const hostile = `"><script>alert(1)</script><img src=x onerror=alert(2)>`

func newPages(t *testing.T) *identity.Pages {
	t.Helper()
	p, err := identity.NewPages(nil)
	if err != nil {
		t.Fatalf("NewPages: %v", err)
	}
	return p
}

var (
	styleRE     = regexp.MustCompile(`(?s)<style>(.*?)</style>`)
	quotedRE    = regexp.MustCompile(`"[^"]*"`)
	scriptRE    = regexp.MustCompile(`(?i)<script`)
	handlerRE   = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
	jsURLRE     = regexp.MustCompile(`(?i)javascript:`)
	styleAttrRE = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
)

// checkPage checks the status, the security headers and that the inline
// stylesheet is exactly what the CSP hash allows.
func checkPage(t *testing.T, rec *httptest.ResponseRecorder, wantStatus int) string {
	t.Helper()
	if rec.Code != wantStatus {
		t.Errorf("status = %d, want %d", rec.Code, wantStatus)
	}
	body := rec.Body.String()
	m := styleRE.FindAllStringSubmatch(body, -1)
	if len(m) != 1 {
		t.Fatalf("page has %d <style> elements, want 1", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	wantCSP := "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'"
	want := map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Content-Security-Policy": wantCSP,
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
		"Pragma":                  "no-cache",
		"Referrer-Policy":         "no-referrer",
	}
	got := map[string]string{}
	for k := range want {
		got[k] = rec.Header().Get(k)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	// html/template writes every attribute value in double quotes and
	// escapes quotes elsewhere, so dropping quoted values leaves the markup.
	markup := quotedRE.ReplaceAllString(body, `""`)
	for _, bad := range []*regexp.Regexp{scriptRE, handlerRE, styleAttrRE} {
		if m := bad.FindString(markup); m != "" {
			t.Errorf("page contains %q, which runs script or which the CSP would block", m)
		}
	}
	if m := jsURLRE.FindString(body); m != "" {
		t.Errorf("page contains a %q URL", m)
	}
	return body
}

// mustContain fails for each snippet missing from body.
func mustContain(t *testing.T, body string, snippets ...string) {
	t.Helper()
	for _, s := range snippets {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %s", s)
		}
	}
}

func TestLoginPage(t *testing.T) {
	p := newPages(t)
	for _, tc := range []struct {
		name   string
		status int
		d      identity.LoginPage
		want   []string
	}{
		{
			name:   "fresh",
			status: http.StatusOK,
			d:      identity.LoginPage{Action: "/oauth2/authorize", Request: "sealed.req", CSRF: "tok123", ClientName: "Warehouse SPA"},
			want: []string{
				`<form method="post" action="/oauth2/authorize">`,
				`<input type="hidden" name="request" value="sealed.req">`,
				`<input type="hidden" name="csrf_token" value="tok123">`,
				`name="username" value="" autocomplete="username"`,
				`name="password" autocomplete="current-password"`,
				`<strong>Warehouse SPA</strong>`,
				`<button type="submit">Sign in</button>`,
			},
		},
		{
			name:   "failed attempt",
			status: http.StatusUnauthorized,
			d:      identity.LoginPage{Action: "/oauth2/authorize", Username: "alice", Error: "Wrong username or password."},
			want: []string{
				`<p class="error" id="login-error" role="alert">Wrong username or password.</p>`,
				`name="username" value="alice"`,
				`aria-describedby="login-error"`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.Login(rec, tc.status, tc.d)
			body := checkPage(t, rec, tc.status)
			mustContain(t, body, tc.want...)
		})
	}
}

func TestConsentPage(t *testing.T) {
	p := newPages(t)
	rec := httptest.NewRecorder()
	p.Consent(rec, identity.ConsentPage{
		Action:            "/oauth2/authorize",
		Request:           "sealed.req",
		CSRF:              "tok123",
		ClientName:        "Warehouse SPA",
		Username:          "alice",
		Scopes:            []string{"openid", "list_items", "order_item"},
		ScopeDescriptions: map[string]string{"list_items": "List warehouse items"},
	})
	body := checkPage(t, rec, http.StatusOK)
	mustContain(t, body,
		`<form method="post" action="/oauth2/authorize">`,
		`<input type="hidden" name="request" value="sealed.req">`,
		`<input type="hidden" name="csrf_token" value="tok123">`,
		`<button type="submit" name="decision" value="allow">`,
		`<button type="submit" name="decision" value="deny" class="secondary">`,
		`<li>Confirm who you are (<code>openid</code>)</li>`,
		`<li>List warehouse items (<code>list_items</code>)</li>`,
		`<li><code>order_item</code></li>`,
		`Signed in as <strong>alice</strong>`,
		`Allow <strong>Warehouse SPA</strong> access?`,
	)
	// Enter in a form submits its first button: that must be deny.
	if strings.Index(body, `value="deny"`) > strings.Index(body, `value="allow"`) {
		t.Error("allow comes before deny; the default action must be deny")
	}
}

func TestErrorPage(t *testing.T) {
	p := newPages(t)
	for _, tc := range []struct {
		name   string
		status int
		d      identity.ErrorPage
		want   []string
	}{
		{"titled", http.StatusBadRequest, identity.ErrorPage{Title: "Unknown client", Message: "The application is not registered."},
			[]string{"<title>Unknown client · Portcullis</title>", "<h1>Unknown client</h1>", "<p>The application is not registered.</p>"}},
		{"untitled", http.StatusInternalServerError, identity.ErrorPage{},
			[]string{"<title>Error · Portcullis</title>", "<h1>Error</h1>"}},
		{"zero status means ok", 0, identity.ErrorPage{Title: "x"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			p.Error(rec, tc.status, tc.d)
			want := tc.status
			if want == 0 {
				want = http.StatusOK
			}
			mustContain(t, checkPage(t, rec, want), tc.want...)
		})
	}
}

func TestInvalidStatusIs500(t *testing.T) {
	p := newPages(t)
	rec := httptest.NewRecorder()
	p.Error(rec, 42, identity.ErrorPage{Title: "x"})
	checkPage(t, rec, http.StatusInternalServerError)
}

// TestPagesEscapeHostileInput renders every page with attacker-chosen
// strings in every field and checks none comes out as markup.
func TestPagesEscapeHostileInput(t *testing.T) {
	p := newPages(t)
	render := map[string]func(*httptest.ResponseRecorder){
		"login": func(w *httptest.ResponseRecorder) {
			p.Login(w, http.StatusOK, identity.LoginPage{Action: "javascript:alert(3)", Request: hostile, CSRF: hostile,
				ClientName: hostile, Username: hostile, Error: hostile})
		},
		"consent": func(w *httptest.ResponseRecorder) {
			p.Consent(w, identity.ConsentPage{Action: "javascript:alert(3)", Request: hostile, CSRF: hostile,
				ClientName: hostile, Username: hostile, Scopes: []string{hostile},
				ScopeDescriptions: map[string]string{hostile: hostile}})
		},
		"error": func(w *httptest.ResponseRecorder) {
			p.Error(w, http.StatusBadRequest, identity.ErrorPage{Title: hostile, Message: hostile})
		},
	}
	for name, fn := range render {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			fn(rec)
			body := rec.Body.String()
			// checkPage fails on <script, on-handlers and javascript: URLs.
			checkPage(t, rec, rec.Code)
			if strings.Contains(body, "<img") {
				t.Error("hostile <img> rendered as markup")
			}
			if !strings.Contains(body, "&lt;script&gt;") {
				t.Error("hostile text missing in escaped form")
			}
		})
	}
}

func TestNewPagesDiscardsWithNilLogger(t *testing.T) {
	if _, err := identity.NewPages(nil); err != nil {
		t.Fatalf("NewPages(nil): %v", err)
	}
}
