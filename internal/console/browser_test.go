package console_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/registry"
	"github.com/portcullis/portcullis/internal/server"
	"github.com/portcullis/portcullis/internal/server/servertest"
)

// browserEnv, set to 1, makes the browser test fail rather than skip when
// no Chromium is installed (CI sets it, so the test cannot silently not run).
const browserEnv = "PORTCULLIS_TEST_BROWSER"

// artefactsEnv names a directory for the screenshots; unset, they go to a
// temporary directory that is logged.
const artefactsEnv = "PORTCULLIS_TEST_ARTEFACTS"

const adminPassword = "correct horse battery staple 42"

const consoleDoc = `apis:
  - name: shop
    version: v1
    base_path: /shop/v1
    upstream: http://127.0.0.1:9
    public: true
    operations:
      - {method: GET, path: /carts}
    state: published
    owners: [team-shop]
    tags: [commerce]
  - name: shop
    version: v2
    base_path: /shop/v2
    upstream: http://127.0.0.1:9/shop
    audiences: [shop]
    tokens: [jwt]
    operations:
      - {method: GET, path: /carts, scopes: [carts]}
      - {method: POST, path: /carts, scopes: [carts, carts.write]}
      - method: POST
        path: /checkout
        scopes: [checkout]
        limits:
          - {name: checkout-rate, rate: 5/s, burst: 10, key: [client_id]}
    limits:
      - {name: shop-daily, quota: 10000/day, key: [client_id]}
    state: draft
    description: Carts and checkout for the web shop, second version.
    owners: [team-shop]
    tags: [commerce, beta]
  - name: billing
    version: v1
    base_path: /billing/v1
    upstream: http://127.0.0.1:9
    public: true
    operations:
      - {method: GET, path: /invoices}
    state: deprecated
    owners: [team-finance]
    tags: [finance]
plans:
  - name: silver
    limits:
      - {name: silver-rate, rate: 10/s}
`

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

// TestConsoleInBrowser signs in as an admin user through the issuer's
// login page in headless Chromium, browses every page, publishes a draft
// version from its page, finds that change in the audit trail under the
// user's name, and saves a screenshot of each page.
func TestConsoleInBrowser(t *testing.T) {
	chromium := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test in -short mode")
	}
	cfg := servertest.Config(t)
	// An issuer of the gateway's, so a stored API may require tokens
	// and scopes; no request is made to it.
	cfg.Gateway.Issuers = []catalog.Issuer{{Issuer: "https://id.example.test", JWKSURI: "https://id.example.test/jwks.json"}}
	cfg.Policy.Roles = map[string][]string{
		"platform_admin": {"admin:platform"},
		"auditor":        {"admin:auditor"},
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	run, err := server.Start(ctx, cfg, nil, server.WithGetenv(func(string) string { return "" }),
		server.WithBeforeServe(func(ctx context.Context, s server.Services) error {
			if _, err := s.Users.Create(ctx, "alice", adminPassword, []string{"platform_admin"}, nil); err != nil {
				return err
			}
			if _, _, err := s.Clients.Create(ctx, registry.ClientSpec{ID: "reports", Name: "Reports", GrantTypes: []string{"client_credentials"}, Scopes: []string{"admin:auditor"}}); err != nil {
				return err
			}
			doc, err := catalog.ParseDocument("console.yaml", []byte(consoleDoc))
			if err != nil {
				return err
			}
			plan, err := s.Catalog.Plan(ctx, doc)
			if err != nil {
				return err
			}
			if err := s.Catalog.Apply(ctx, plan); err != nil {
				return err
			}
			app, err := s.Applications.Create(ctx, registry.ApplicationSpec{
				Name: "Reports dashboard", ClientID: "reports", Owner: "team-lead", Team: "finance", Environment: "production",
			})
			if err != nil {
				return err
			}
			_, err = s.Subscriptions.Create(ctx, registry.SubscriptionSpec{ApplicationID: app.ID, API: "shop", Version: "v1", Plan: "silver"})
			return err
		}))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Close(context.WithoutCancel(ctx)) }()

	dir := os.Getenv(artefactsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.WindowSize(1280, 800),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer bcancel()
	bctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	defer tcancel()

	step := func(what string, a chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.Run(bctx, a); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func() string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text("main"))
		if err != nil {
			t.Fatalf("browser: read the page: %v", err)
		}
		return s
	}
	shot := func(name string) {
		t.Helper()
		buf, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("browser: screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("open the console", chromedp.Steps(chromedp.Navigate(run.AdminURL+"/console/"), chromedp.WaitVisible(`a[href="/console/login"]`)))
	shot("01-signin")
	step("go to the login page", chromedp.Steps(chromedp.Click(`a[href="/console/login"]`), chromedp.WaitVisible(`#username`)))
	shot("02-login")
	step("sign in", chromedp.Steps(
		chromedp.SendKeys(`#username`, "alice"),
		chromedp.SendKeys(`#password`, adminPassword),
		chromedp.Submit(`#password`),
		chromedp.WaitVisible(`#continue`),
		chromedp.Click(`#continue`),
		chromedp.WaitVisible(`table`),
	))
	catalogText := text()
	who, err := chromedp.Run(bctx, chromedp.Text(".who"))
	if err != nil || !strings.Contains(who, "alice") || !strings.Contains(who, "platform") {
		t.Errorf("header after sign-in = %q (%v), want alice and her role", who, err)
	}
	shot("03-catalog")
	step("search the catalog", chromedp.Steps(
		chromedp.SendKeys(`#q`, "finance"),
		chromedp.Submit(`#q`),
		chromedp.WaitVisible(`input[value="finance"]`),
	))
	filtered := text()
	shot("04-catalog-search")
	step("open a version", chromedp.Steps(
		chromedp.Click(`nav a[href="/console/catalog"]`),
		chromedp.WaitVisible(`a[href="/console/catalog/shop/v2"]`),
		chromedp.Click(`a[href="/console/catalog/shop/v2"]`),
		chromedp.WaitVisible(`#to-published`),
	))
	versionText := text()
	shot("05-version")
	step("publish it", chromedp.Steps(chromedp.Click(`#to-published`), chromedp.WaitVisible(`.notice.ok`)))
	publishedText := text()
	shot("06-version-published")
	step("open applications", chromedp.Steps(chromedp.Click(`nav a[href="/console/applications"]`), chromedp.WaitVisible(`h1`)))
	applicationsText := text()
	shot("07-applications")
	step("open subscriptions", chromedp.Steps(chromedp.Click(`nav a[href="/console/subscriptions"]`), chromedp.WaitVisible(`h1`)))
	subscriptionsText := text()
	shot("08-subscriptions")
	step("open clients", chromedp.Steps(chromedp.Click(`nav a[href="/console/clients"]`), chromedp.WaitVisible(`h1`)))
	clientsText := text()
	shot("09-clients")
	step("open audit", chromedp.Steps(chromedp.Click(`nav a[href="/console/audit"]`), chromedp.WaitVisible(`#actor`)))
	auditText := text()
	stateRow, err := chromedp.Run(bctx, chromedp.Text(`//tr[td/code[text()="catalog.version.state"]]`))
	if err != nil {
		t.Fatalf("browser: the audit record of the state change: %v", err)
	}
	shot("10-audit")
	step("filter audit", chromedp.Steps(
		chromedp.SendKeys(`#action`, "user.*"),
		chromedp.Submit(`#action`),
		chromedp.WaitVisible(`input[value="user.*"]`),
	))
	auditFiltered := text()
	shot("11-audit-filtered")
	step("sign out", chromedp.Steps(chromedp.Click(`.who button`), chromedp.WaitVisible(`a[href="/console/login"]`)))
	signedOut := text()

	for _, c := range []struct{ page, text, want string }{
		{"catalog", catalogText, "/shop/v1"},
		{"catalog", catalogText, "/billing/v1"},
		{"catalog search", filtered, "billing"},
		{"version", versionText, "Carts and checkout"},
		{"version", versionText, "127.0.0.1:9"},
		{"version", versionText, "/checkout"},
		{"version", versionText, "checkout-rate"},
		{"version", versionText, "10000/day"},
		{"version", versionText, "Retire"},
		{"version published", publishedText, "The version is now published."},
		{"version published", publishedText, "Deprecate"},
		{"applications", applicationsText, "Reports dashboard"},
		{"applications", applicationsText, "production"},
		{"subscriptions", subscriptionsText, "Reports dashboard"},
		{"subscriptions", subscriptionsText, "silver"},
		{"subscriptions", subscriptionsText, "active"},
		{"audit state record", stateRow, "alice"},
		{"audit state record", stateRow, "api_version"},
		{"clients", clientsText, "reports"},
		{"clients", clientsText, "portcullis-console"},
		{"audit", auditText, "user.create"},
		{"audit", auditText, "catalog.apply"},
		{"audit filtered", auditFiltered, "user.create"},
		{"signed out", signedOut, "Sign in"},
	} {
		if !strings.Contains(c.text, c.want) {
			t.Errorf("%s page lacks %q:\n%s", c.page, c.want, c.text)
		}
	}
	if strings.Contains(auditFiltered, "catalog.apply") {
		t.Errorf("audit filtered by user.* shows catalog.apply:\n%s", auditFiltered)
	}
	if strings.Contains(versionText, "/shop\n") || strings.Contains(versionText, "http://") {
		t.Errorf("version page shows more of the upstream than its host:\n%s", versionText)
	}
	if strings.Contains(filtered, "/shop/v1") {
		t.Errorf("catalog search for finance shows shop:\n%s", filtered)
	}
}
