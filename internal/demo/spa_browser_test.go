package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browserEnv, set to 1, makes the browser test fail rather than skip when
// no Chromium is installed (CI sets it, so the test cannot silently not
// run).
const browserEnv = "PORTCULLIS_TEST_BROWSER"

// artefactsEnv names a directory for the screenshots (CI keeps them);
// unset, they go to a temporary directory that is logged.
const artefactsEnv = "PORTCULLIS_TEST_ARTEFACTS"

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(browserEnv) == "1" {
		t.Fatalf("%s=1 but no chromium is installed (apt-get install -y chromium)", browserEnv)
	}
	t.Skipf("no chromium installed; set %s=1 to make this a failure", browserEnv)
	return ""
}

// foreignPage is another site's page, on a loopback origin of its own:
// the forms a cross-site request forgery would submit.
var foreignPage = template.Must(template.New("foreign").Parse(`<!doctype html>
<title>Another site</title>
<h1>Another site</h1>
<form id="order" method="post" action="{{.Gateway}}/warehouse/orders" enctype="text/plain">
<input type="hidden" name='{"item":"crate-01","pad":"' value='"}'>
</form>
<form id="logout" method="post" action="{{.Gateway}}/bff/warehouse/logout"></form>
`))

// until waits for a JavaScript condition of the page to hold.
func until(cond string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := chromedp.Poll[bool](cond)(ctx, tg)
		return chromedp.Void{}, err
	}
}

// TestSPAInBrowser drives the demo's single-page app in headless
// Chromium: sign in as alice through the issuer's login page, list the
// items and order through the gateway's token handler, check from inside
// the page that no token is within a script's reach, attack the session
// from other origins (same-site and cross-site) with fetch and with
// classic form posts, refresh, reload, sign out, and replay the old
// cookies by hand. Every state of the app is saved as a screenshot.
func TestSPAInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dir := filepath.Join(t.TempDir(), "demo")
	env, stdout, _ := testEnv()
	r, file, err := Start(ctx, Options{Dir: dir, AuthzAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		GatewayAddr: "127.0.0.1:0", BackendAddr: "127.0.0.1:0", SPAAddr: "127.0.0.1:0"}, env)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer closeRunning(t, r)
	spa := spaPage(t, stdout.String())
	spaOrigin := strings.TrimSuffix(spa, "/")
	gw := r.GatewayURL
	alice := file.User("alice")

	foreign := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = foreignPage.Execute(w, struct{ Gateway string }{gw})
	}))
	defer foreign.Close()
	// The same host on another port is another origin of the same site:
	// SameSite=Strict lets the cookies go, so the Origin and CSRF checks
	// must stop it. localhost is another site altogether.
	_, port, _ := strings.Cut(strings.TrimPrefix(foreign.URL, "http://"), ":")
	foreignOrigins := []string{foreign.URL, "http://localhost:" + port}

	shots := os.Getenv(artefactsEnv)
	if shots == "" {
		shots = t.TempDir()
	}
	shots = filepath.Join(shots, "spa")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1280, 860),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()
	// Start the browser before any timeout: the first Run's context
	// owns the browser.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("browser: %v", err)
	}
	// The page's console: a CSP violation or an uncaught exception of
	// the SPA fails the test.
	var (
		consoleMu sync.Mutex
		console   []string
	)
	if err := chromedp.Listen(bctx, func(ev any) {
		var line string
		switch e := ev.(type) {
		case *log.EventEntryAdded:
			if strings.Contains(e.Entry.Text, "Content Security Policy") {
				line = "csp: " + e.Entry.Text
			}
		case *runtime.EventExceptionThrown:
			line = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				line += " " + e.ExceptionDetails.Exception.Description
			}
		}
		if line != "" {
			consoleMu.Lock()
			console = append(console, line)
			consoleMu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(bctx, 3*time.Minute)
	defer tcancel()

	step := func(what string, a ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, a...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Text(sel))
		if err != nil {
			t.Fatalf("browser: read %s: %v", sel, err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("browser: screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cookies := func(c context.Context) map[string]*network.Cookie {
		t.Helper()
		res, err := chromedp.Run(c, func(ctx context.Context, tg *chromedp.Target) (*network.GetCookiesResult, error) {
			res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{gw + "/", spa}})
			return &res, err
		})
		if err != nil {
			t.Fatalf("browser: cookies: %v", err)
		}
		m := map[string]*network.Cookie{}
		for _, c := range res.Cookies {
			if strings.HasPrefix(c.Name, "pc-warehouse-") {
				m[c.Name] = c
			}
		}
		return m
	}
	// inPage is what the page's scripts can reach: readable cookies and
	// both storages, as JSON.
	inPage := func() string {
		t.Helper()
		s, err := chromedp.Run(tctx, chromedp.Evaluate[string](`JSON.stringify({cookie: document.cookie,
			local: Object.entries(localStorage), session: Object.entries(sessionStorage)})`))
		if err != nil {
			t.Fatalf("browser: read the page's storage: %v", err)
		}
		return s
	}

	// 1. Signed out, then the issuer's login page, then back, signed in.
	step("open the SPA", chromedp.Navigate(spa), chromedp.WaitVisible(`#signin`))
	shot("01-signed-out")
	step("sign in", chromedp.Click(`#signin`), chromedp.WaitVisible(`#username`))
	shot("02-issuer-login")
	step("log in as alice",
		chromedp.SendKeys(`#username`, "alice"),
		chromedp.SendKeys(`#password`, alice.Password),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`button[data-sku="crate-01"]`),
	)
	loc, err := chromedp.Run(tctx, chromedp.Location())
	if err != nil || loc != spa {
		t.Errorf("after sign-in the page is at %q (%v), want %s without code and state", loc, err, spa)
	}
	if who := text(`#user`); who != "alice" {
		t.Errorf("signed in as %q, want alice", who)
	}
	if items := text(`#items`); !strings.Contains(items, "Oak crate") || !strings.Contains(items, "Euro pallet") {
		t.Errorf("inventory = %q", items)
	}
	shot("03-inventory")

	// 2. No token within a script's reach: the agent's cookies are all
	// HttpOnly and SameSite=Strict, and neither storage holds anything.
	session := cookies(tctx)
	for _, k := range []string{"at", "rt", "id", "csrf"} {
		c := session["pc-warehouse-"+k]
		if c == nil {
			t.Fatalf("no pc-warehouse-%s cookie; have %v", k, session)
		}
		if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/" {
			t.Errorf("cookie %s: HttpOnly %v, SameSite %q, Path %q", c.Name, c.HTTPOnly, c.SameSite, c.Path)
		}
	}
	reach := inPage()
	var seen struct {
		Cookie         string
		Local, Session [][2]string
	}
	if err := json.Unmarshal([]byte(reach), &seen); err != nil {
		t.Fatal(err)
	}
	if len(seen.Local) != 0 || len(seen.Session) != 0 {
		t.Errorf("the page's storage holds %s", reach)
	}
	for _, c := range session {
		if strings.Contains(seen.Cookie, c.Name) || strings.Contains(seen.Cookie, c.Value) {
			t.Errorf("document.cookie exposes %s: %q", c.Name, seen.Cookie)
		}
	}
	for _, marker := range []string{"pca_", "pcr_", "eyJ"} {
		if strings.Contains(reach, marker) {
			t.Errorf("something token-like (%s) is within the page's reach: %s", marker, reach)
		}
	}

	// 3. An order through the gateway.
	step("order a crate", chromedp.Click(`button[data-sku="crate-01"]`), chromedp.WaitVisible(`#orders li`))
	if o := text(`#orders`); !strings.Contains(o, "#1") || !strings.Contains(o, "Oak crate") {
		t.Errorf("orders after the first = %q", o)
	}
	shot("04-order-placed")

	// 4. Other origins, in another tab of the same browser (the cookies
	// are there): reading the API or the session, with or without the
	// CSRF header, and classic form posts.
	fctx, fcancel := chromedp.NewContext(bctx)
	defer fcancel()
	fctxT, fcancelT := context.WithTimeout(fctx, time.Minute)
	defer fcancelT()
	for i, origin := range foreignOrigins {
		if err := chromedp.Do(fctxT, chromedp.Navigate(origin+"/"), chromedp.WaitVisible(`h1`)); err != nil {
			t.Fatalf("foreign page %s: %v", origin, err)
		}
		for _, c := range []struct{ name, js string }{
			{"read the items", `fetch(%q + "/warehouse/items", {credentials: "include"})`},
			{"read the session's CSRF value", `fetch(%q + "/bff/warehouse/session", {credentials: "include"})`},
			{"order with a guessed CSRF header", `fetch(%q + "/warehouse/orders", {method: "POST", credentials: "include",
				headers: {"Content-Type": "application/json", "x-pc-csrf": "guess"}, body: '{"item":"crate-01"}'})`},
			{"refresh the session", `fetch(%q + "/bff/warehouse/refresh", {method: "POST", credentials: "include"})`},
		} {
			js := fmt.Sprintf(c.js, gw) + `.then(r => "answered " + r.status, e => "refused: " + e.name)`
			got, err := chromedp.Run(fctxT, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("%s: %s: %v", origin, c.name, err)
			}
			if got != "refused: TypeError" {
				t.Errorf("%s could %s: %s", origin, c.name, got)
			}
		}
		for _, form := range []string{"order", "logout"} {
			if err := chromedp.Do(fctxT, chromedp.Navigate(origin+"/"), chromedp.WaitVisible(`h1`),
				chromedp.Submit(`#`+form), chromedp.WaitReady(`body pre, body`)); err != nil {
				t.Fatalf("%s: submit %s: %v", origin, form, err)
			}
			// The gateway's answer, as the browser shows it.
			var body string
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if body, err = chromedp.Run(fctxT, chromedp.Evaluate[string](`location.origin + " " + document.body.innerText`)); err == nil &&
					strings.HasPrefix(body, gw) {
					break
				}
			}
			if !strings.HasPrefix(body, gw) || !strings.Contains(body, "urn:portcullis:problem:") || strings.Contains(body, `"order"`) {
				t.Errorf("%s: the forged %s post was not refused: %s", origin, form, body)
			}
			if i == 0 && form == "order" {
				// Same site: the cookies went along; the Origin stopped it.
				if !strings.Contains(body, "origin-not-allowed") {
					t.Errorf("same-site forged order: %s, want origin-not-allowed", body)
				}
				buf, err := chromedp.Run(fctxT, chromedp.FullScreenshot(100))
				if err == nil {
					_ = os.WriteFile(filepath.Join(shots, "05-forged-order-refused.png"), buf, 0o644)
				}
			}
		}
	}

	// The session survived the attacks, and no forged order got through:
	// the next one is #2.
	step("order a pallet", chromedp.Click(`button[data-sku="pallet-02"]`), chromedp.WaitVisible(`#orders li:nth-child(2)`))
	if o := text(`#orders li:first-child`); !strings.Contains(o, "#2") || !strings.Contains(o, "Euro pallet") {
		t.Errorf("second order = %q, want #2 (a forged order got through?)", o)
	}

	// 5. Refresh: new access and refresh cookies, the same CSRF value.
	before := cookies(tctx)
	step("refresh the session", chromedp.Click(`#refresh`), until(`document.querySelector("#notice").textContent.includes("Session refreshed")`))
	after := cookies(tctx)
	for _, k := range []string{"pc-warehouse-at", "pc-warehouse-rt"} {
		if after[k] == nil || after[k].Value == before[k].Value {
			t.Errorf("refresh left %s unchanged", k)
		}
	}
	if after["pc-warehouse-csrf"].Value != before["pc-warehouse-csrf"].Value {
		t.Error("refresh changed the CSRF cookie")
	}
	shot("06-refreshed")

	// A reload (or a new tab) finds the session through login/end.
	step("reload", chromedp.Navigate(spa), chromedp.WaitVisible(`button[data-sku="rope-03"]`))
	if who := text(`#user`); who != "alice" {
		t.Errorf("after a reload signed in as %q", who)
	}

	// 6. Sign out: the agent clears its cookies and sends the browser to
	// the issuer's end-session endpoint (RP-Initiated Logout). It sends
	// no id_token_hint (the ID token never reaches the page), so the
	// issuer asks before it ends its login session, then returns the
	// browser to the SPA's registered post-logout page. Every cookie is
	// cleared, nothing is left in the page, and the old cookies,
	// replayed by hand, no longer work.
	old := cookies(tctx)
	step("sign out", chromedp.Click(`#signout`), chromedp.WaitVisible(`#confirm-signout`))
	if loc, err := chromedp.Run(tctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, r.Issuer+"/oauth2/logout?") {
		t.Errorf("sign-out went to %q (%v), want the issuer's end-session endpoint", loc, err)
	}
	if who := text(`main`); !strings.Contains(who, "Signed in as alice") {
		t.Errorf("the issuer's sign-out page says %q, want it to name alice", who)
	}
	shot("07-issuer-sign-out")
	step("confirm the sign-out at the issuer", chromedp.Click(`#confirm-signout`), chromedp.WaitVisible(`#signin`))
	if loc, err := chromedp.Run(tctx, chromedp.Location()); err != nil || loc != spa {
		t.Errorf("after the issuer's sign-out the page is at %q (%v), want %s", loc, err, spa)
	}
	shot("08-signed-out-again")
	if left := cookies(tctx); len(left) != 0 {
		t.Errorf("cookies left after sign-out: %v", left)
	}
	if reach := inPage(); strings.Contains(reach, "pc-warehouse") || strings.Contains(reach, `"local":[[`) || strings.Contains(reach, `"session":[[`) {
		t.Errorf("after sign-out the page still reaches %s", reach)
	}
	replay := func(method, path, csrf string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, gw+path, nil)
		req.Header.Set("Origin", spaOrigin)
		if csrf != "" {
			req.Header.Set("x-pc-csrf", csrf)
		}
		for _, c := range old {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("replay %s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The old cookies still open (they are sealed, not stored), so the
	// session's CSRF value can be had again: the attacker holds
	// everything the browser held.
	_, body := replay("GET", "/bff/warehouse/session", "")
	var s struct{ CSRF string }
	_ = json.Unmarshal([]byte(body), &s)
	if s.CSRF == "" {
		t.Fatalf("replayed session: %s", body)
	}
	for _, c := range []struct{ method, path string }{{"POST", "/bff/warehouse/refresh"}, {"GET", "/bff/warehouse/userinfo"}} {
		if status, body := replay(c.method, c.path, s.CSRF); status != http.StatusUnauthorized || !strings.Contains(body, "session-expired") {
			t.Errorf("replayed %s %s after sign-out: %d %s, want 401 session-expired", c.method, c.path, status, body)
		}
	}
	// The API: logout revoked the tokens at the issuer, and the gateway
	// that served the logout dropped the access token from its cache.
	if status, body := replay("GET", "/warehouse/items", s.CSRF); status != http.StatusUnauthorized {
		t.Errorf("replayed API call after sign-out: %d %s, want 401", status, body)
	}

	// 7. The issuer's login session ended too: signing in again asks
	// for the password instead of coming straight back signed in.
	step("sign in again", chromedp.Click(`#signin`), chromedp.WaitVisible(`#password`))
	if loc, err := chromedp.Run(tctx, chromedp.Location()); err != nil || !strings.HasPrefix(loc, r.Issuer+"/oauth2/authorize?") {
		t.Errorf("signing in again is at %q (%v), want the issuer's login page", loc, err)
	}
	shot("09-password-asked-again")

	consoleMu.Lock()
	defer consoleMu.Unlock()
	for _, line := range console {
		t.Errorf("SPA console: %s", line)
	}
}
