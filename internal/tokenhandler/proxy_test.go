package tokenhandler_test

import (
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/logtest"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// TestAccessToken checks the OAuth proxy's side: the access token comes
// out of the cookies of a real session and works at the issuer, and
// every way a call can misuse the cookies is refused with its problem.
func TestAccessToken(t *testing.T) {
	e := startEnv(t)
	b := e.browser()
	b.login()
	session := b.cookies()

	apiRequest := func(cookies map[string]string, hdr map[string]string) *http.Request {
		req, _ := http.NewRequest(http.MethodGet, "http://gateway.test"+apiPath+"/items", nil)
		req.Header.Set("Origin", spaOrigin)
		req.Header.Set(tokenhandler.CSRFHeader, b.csrf)
		for n, v := range cookies {
			req.AddCookie(&http.Cookie{Name: n, Value: v})
		}
		for k, v := range hdr {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		return req
	}

	token, ok, err := e.agent.AccessToken(apiRequest(session, nil))
	if err != nil || !ok || token == "" {
		t.Fatalf("AccessToken = %v, %v", ok, err)
	}
	// The token is the session's access token: the issuer accepts it.
	req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo with the resolved token: %d %s", resp.StatusCode, body)
	}

	only := func(names ...string) map[string]string {
		out := map[string]string{}
		for _, n := range names {
			out["pc-warehouse-"+n] = session["pc-warehouse-"+n]
		}
		return out
	}
	cases := []struct {
		name    string
		cookies map[string]string
		hdr     map[string]string
		status  int
		slug    string
	}{
		{"cookie and Authorization", session, map[string]string{"Authorization": "Bearer abc"}, 400, "ambiguous-credentials"},
		{"another origin", session, map[string]string{"Origin": otherOrigin}, 403, "origin-not-allowed"},
		{"no origin", session, map[string]string{"Origin": ""}, 403, "origin-not-allowed"},
		{"no csrf header", session, map[string]string{tokenhandler.CSRFHeader: ""}, 403, "csrf-check-failed"},
		{"wrong csrf header", session, map[string]string{tokenhandler.CSRFHeader: "x" + b.csrf[1:]}, 403, "csrf-check-failed"},
		{"access cookie expired, refresh cookie left", only("rt", "id", "csrf"), nil, 401, "session-expired"},
		{"no csrf cookie", only("at", "rt"), nil, 401, "session-expired"},
		{"refresh value in the access cookie", map[string]string{"pc-warehouse-at": session["pc-warehouse-rt"], "pc-warehouse-csrf": session["pc-warehouse-csrf"]}, nil, 401, "session-expired"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, ok, err := e.agent.AccessToken(apiRequest(c.cookies, c.hdr))
			if tok != "" || ok {
				t.Fatalf("AccessToken = %q, %v; want a refusal", tok, ok)
			}
			p, isProblem := errors.AsType[*tokenhandler.Problem](err)
			if !isProblem {
				t.Fatalf("err = %v, want a *Problem", err)
			}
			if p.Status != c.status || p.Type != tokenhandler.ProblemTypePrefix+c.slug {
				t.Errorf("problem = %d %s, want %d %s", p.Status, p.Type, c.status, c.slug)
			}
			if got := tokenhandler.IsSessionExpired(err); got != (c.slug == "session-expired") {
				t.Errorf("IsSessionExpired = %v", got)
			}
		})
	}

	// No cookie of the app: not its call.
	if tok, ok, err := e.agent.AccessToken(apiRequest(nil, map[string]string{"Authorization": "Bearer abc"})); tok != "" || ok || err != nil {
		t.Errorf("without cookies: %q, %v, %v; want not the app's call", tok, ok, err)
	}
}

// TestStripCookies: the upstream request keeps other cookies only.
func TestStripCookies(t *testing.T) {
	e := offlineEnv(t)
	req, _ := http.NewRequest(http.MethodGet, "http://gateway.test/warehouse/items", nil)
	req.Header.Add("Cookie", "theme=dark; pc-warehouse-at=AAA; pc-warehouse-csrf=BBB")
	req.Header.Add("Cookie", "pc-warehouse-rt=CCC; lang=en; pc-warehouse-login=DDD; pc-warehouse-id=EEE")
	req.Header.Set(tokenhandler.CSRFHeader, "x")
	if !e.agent.StripCookies(req) {
		t.Fatal("StripCookies found no cookie")
	}
	if got := req.Header.Values("Cookie"); len(got) != 1 || got[0] != "theme=dark; lang=en" {
		t.Errorf("Cookie = %q, want theme and lang only", got)
	}
	if req.Header.Get(tokenhandler.CSRFHeader) != "" {
		t.Error("the CSRF header goes upstream")
	}
	req.Header.Set("Cookie", "pc-warehouse-at=AAA")
	e.agent.StripCookies(req)
	if _, ok := req.Header["Cookie"]; ok {
		t.Error("an empty Cookie header is left")
	}
	if e.agent.StripCookies(req) {
		t.Error("StripCookies reports a cookie on a request without one")
	}
}

// TestFronts checks the API path match: whole segments only.
func TestFronts(t *testing.T) {
	e := offlineEnv(t)
	for path, want := range map[string]bool{
		"/warehouse": true, "/warehouse/items": true, "/warehouses": false, "/other": false, "/": false,
	} {
		if got := e.agent.Fronts(path); got != want {
			t.Errorf("Fronts(%q) = %v, want %v", path, got, want)
		}
	}
}

// offlineEnv is an agent whose issuer is never called (nothing listens
// on port 1), for tests of the proxy's request handling alone.
func offlineEnv(t *testing.T) *env {
	e := &env{t: t, issuer: "http://127.0.0.1:1", secret: "s", cookieKy: randomKey(t), clock: &clock{},
		reg: prometheus.NewRegistry(), logs: &logtest.Buffer{}}
	spa := e.spa()
	e.agent = e.newAgent(spa)
	e.prefix = spa.PathPrefix
	return e
}
