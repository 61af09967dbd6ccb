package demo

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/portcullis/portcullis/internal/identity"
)

// TokenOptions are the flags of `portcullis demo token`.
type TokenOptions struct {
	// Dir is the demo's data directory; empty means DefaultDir().
	Dir string
	// User is the demo user who signs in. Required.
	User string
	// Client is the client the user signs in to; empty means clinic-app.
	Client string
	// Scopes are the scopes asked for; empty means every scope the
	// client may ask for.
	Scopes []string
}

// loginTimeout bounds one headless sign-in: a handful of loopback calls.
const loginTimeout = 30 * time.Second

// Token signs a demo user in as a browser would, through the running
// demo's authorization endpoint (the authorization code flow with PKCE
// S256, RFC 7636; login and consent pages with their CSRF tokens), and
// returns the access token the client gets. The user's password and the
// client's secret come from DIR/demo.json. It exists so the walkthrough
// can call APIs as a user from a shell; a real app signs users in in
// their own browser.
func Token(ctx context.Context, o TokenOptions) (string, error) {
	if o.Dir == "" {
		o.Dir = DefaultDir()
	}
	if o.Client == "" {
		o.Client = clinicClient
	}
	path := filepath.Join(o.Dir, demoStateFile)
	f, err := readDemoFile(path)
	if err != nil {
		return "", err
	}
	if f == nil {
		return "", fmt.Errorf("%s does not exist: run portcullis demo --data %s first", path, o.Dir)
	}
	u := f.User(o.User)
	if u == nil {
		return "", fmt.Errorf("%q is not a demo user (see %s)", o.User, path)
	}
	c := f.Client(o.Client)
	if c == nil {
		return "", fmt.Errorf("%q is not a demo client (see %s)", o.Client, path)
	}
	if c.ClientSecret == "" || len(c.RedirectURIs) == 0 || !strings.Contains(" "+strings.Join(c.GrantTypes, " ")+" ", " authorization_code ") {
		return "", fmt.Errorf("client %s does not sign users in with a secret (use warehouse-web or %s)", o.Client, clinicClient)
	}
	scopes := o.Scopes
	if len(scopes) == 0 {
		scopes = strings.Fields(c.Scope)
	}
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()

	conf := &oauth2.Config{
		ClientID:     c.ClientID,
		ClientSecret: c.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   f.Endpoints.Authorization,
			TokenURL:  f.Endpoints.Token,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
		RedirectURL: c.RedirectURIs[0],
		Scopes:      scopes,
	}
	state, nonce := rand.Text(), rand.Text()
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("nonce", nonce))
	b, err := newLoginBrowser()
	if err != nil {
		return "", err
	}
	callback, err := b.signIn(ctx, authURL, u.Username, u.Password)
	if err != nil {
		return "", err
	}
	q := callback.Query()
	if e := q.Get("error"); e != "" {
		return "", fmt.Errorf("the authorization server refused: %s: %s", e, q.Get("error_description"))
	}
	if q.Get("state") != state {
		return "", errors.New("the redirect's state is not the one sent (RFC 6749 §10.12)")
	}
	tok, err := conf.Exchange(context.WithValue(ctx, oauth2.HTTPClient, b.c), q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		return "", fmt.Errorf("code exchange: %w", err)
	}
	return tok.AccessToken, nil
}

// loginBrowser is a cookie-keeping HTTP client that follows redirects
// itself, so it can stop at the one to the client's redirect URI.
type loginBrowser struct {
	c *http.Client
}

func newLoginBrowser() (*loginBrowser, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err
	}
	return &loginBrowser{c: &http.Client{
		Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}, nil
}

// maxLoginSteps bounds the pages and redirects of one sign-in.
const maxLoginSteps = 10

// signIn walks from the authorization URL through the login form and,
// when shown, the consent form (allowing), and returns the URL of the
// final redirect to the client.
func (b *loginBrowser) signIn(ctx context.Context, authURL, username, password string) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL, nil)
	if err != nil {
		return nil, err
	}
	origin, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	for range maxLoginSteps {
		resp, err := b.c.Do(req)
		if err != nil {
			return nil, err
		}
		page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				return nil, fmt.Errorf("redirect to %q: %w", loc, err)
			}
			if next.Host != origin.Host {
				return next, nil // back to the client
			}
			if req, err = http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil); err != nil {
				return nil, err
			}
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s answered %s", req.URL.Path, resp.Status)
		}
		fm, err := parseForm(string(page))
		if err != nil {
			return nil, err
		}
		switch {
		case fm.has[identity.FieldPassword]:
			fm.values.Set(identity.FieldUsername, username)
			fm.values.Set(identity.FieldPassword, password)
		case fm.has[identity.FieldDecision]:
			fm.values.Set(identity.FieldDecision, identity.DecisionAllow)
		default:
			return nil, fmt.Errorf("%s shows neither a login nor a consent form", req.URL.Path)
		}
		if msg := fm.alert; msg != "" && fm.has[identity.FieldPassword] && req.Method == http.MethodPost {
			return nil, fmt.Errorf("sign-in refused: %s", msg)
		}
		action, err := req.URL.Parse(fm.action)
		if err != nil {
			return nil, fmt.Errorf("form action %q: %w", fm.action, err)
		}
		if req, err = http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(fm.values.Encode())); err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return nil, fmt.Errorf("no redirect to the client after %d pages", maxLoginSteps)
}

// pageForm is the first form of a page: its action, its hidden fields'
// values, the names of all its fields, and the page's alert text (a
// refused login's message).
type pageForm struct {
	action string
	values url.Values
	has    map[string]bool
	alert  string
}

// parseForm reads the first form of an HTML page.
func parseForm(page string) (*pageForm, error) {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("parse page: %w", err)
	}
	f := &pageForm{values: url.Values{}, has: map[string]bool{}}
	var form *html.Node
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		if n.Data == "form" && form == nil {
			form = n
			f.action = attr(n, "action")
		}
		if attr(n, "role") == "alert" && f.alert == "" {
			f.alert = strings.TrimSpace(text(n))
		}
	}
	if form == nil {
		return nil, errors.New("the page has no form")
	}
	for n := range form.Descendants() {
		if n.Type != html.ElementNode || (n.Data != "input" && n.Data != "button") {
			continue
		}
		name := attr(n, "name")
		if name == "" {
			continue
		}
		f.has[name] = true
		if n.Data == "input" && attr(n, "type") == "hidden" {
			f.values.Set(name, attr(n, "value"))
		}
	}
	return f, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func text(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}
