package cluster

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/identity/identitytest"
)

// browser is a user agent with a cookie jar that does not follow
// redirects, so each step of the authorization flow can be inspected.
type browser struct {
	t testing.TB
	c *http.Client
}

func newBrowser(t testing.TB) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodGet, u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(b.t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// form returns the action (resolved against base) and the hidden fields
// of the first form of page.
func form(t testing.TB, base, page string) (string, url.Values) {
	t.Helper()
	raw, hidden, ok := identitytest.Form(page)
	if !ok {
		t.Fatalf("no form in page:\n%s", page)
	}
	bu, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	action, err := bu.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return action.String(), hidden
}

// login drives the authorization endpoint at authURL through the login
// and, when shown, consent pages, and returns the final redirect's query.
func (b *browser) login(authURL, username, password string) url.Values {
	b.t.Helper()
	resp, page := b.get(authURL)
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("authorize: status %d (Location %q): %s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	action, fields := form(b.t, authURL, page)
	fields.Set("username", username)
	fields.Set("password", password)
	resp, page = b.post(action, fields)
	if resp.StatusCode == http.StatusOK && strings.Contains(page, `name="decision"`) {
		action, fields = form(b.t, action, page)
		fields.Set("decision", "allow")
		resp, page = b.post(action, fields)
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		b.t.Fatalf("no redirect after login: status %d: %s", resp.StatusCode, page)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("bad redirect %q: %v", loc, err)
	}
	return u.Query()
}

// pkce returns a fresh verifier and its S256 challenge (RFC 7636 §4.2).
func pkce(t testing.TB) (verifier, challenge string) {
	verifier = base64.RawURLEncoding.EncodeToString(random(t, 32))
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}
