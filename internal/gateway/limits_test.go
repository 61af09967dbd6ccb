package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/ratelimit"
	"github.com/portcullis/portcullis/internal/ratelimit/ratelimittest"
)

// limitStart is a Monday at 10:00 UTC: a calendar hour and a day start
// at known distances.
var limitStart = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// limitEnv is an env whose gateway counts limits in the memory backend,
// on a fake clock shared with the issuer.
type limitEnv struct {
	*env
	clock   *ratelimittest.FakeClock
	backend ratelimit.Backend
	blocks  *ratelimit.MemoryBlocks
	revoker *fakeRevoker
}

// warehouseLimits adds the two seed limits of the warehouse example: the
// gold plan (2000/day, 100/s with bursts of 100) for warehouse-service,
// and regional-orders (10/hour per user of the regional office) on
// POST /orders.
func warehouseLimits(cfg *catalog.Snapshot) {
	cfg.RateLimit = catalog.RateLimits{
		Plans: map[string][]catalog.Limit{
			"gold": {
				{Name: "gold-daily", Quota: "2000/day"},
				{Name: "gold-burst", Rate: "100/s", Burst: 100},
			},
		},
		ClientPlans: map[string]string{"warehouse-service": "gold"},
	}
	for i := range cfg.APIs[0].Operations {
		op := &cfg.APIs[0].Operations[i]
		if op.Method == "POST" && op.Path == "/orders" {
			op.Limits = append(op.Limits, catalog.Limit{
				Name: "regional-orders", Quota: "10/hour", Key: []string{"sub"},
				Condition: `claims.office == "regional"`,
			})
		}
	}
}

// newLimitEnv builds the gateway; edit changes the configuration, opts the
// options (after the defaults: memory backend and blocks, a revoker).
func newLimitEnv(t testing.TB, edit func(*catalog.Snapshot), opts func(*Options)) *limitEnv {
	t.Helper()
	e := &env{
		is:   gatewaytest.NewIssuer(t),
		up:   gatewaytest.NewUpstream(t),
		logs: &syncBuffer{},
		reg:  prometheus.NewRegistry(),
	}
	le := &limitEnv{
		env:     e,
		clock:   ratelimittest.NewFakeClock(limitStart),
		backend: ratelimit.NewMemory(ratelimit.MemoryConfig{}),
		blocks:  ratelimit.NewMemoryBlocks(),
		revoker: &fakeRevoker{},
	}
	e.is.Now = le.clock.Now
	e.cfg = warehouseConfig(e.is, e.up)
	e.cfg.APIs[0].CORS = nil
	if edit != nil {
		edit(&e.cfg)
	}
	o := Options{
		Catalog:     e.cfg,
		SplitSource: e.is.SplitSource(),
		Getenv:      e.getenv,
		Logger:      slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:     e.reg,
		Now:         le.clock.Now,
		RateLimiter: le.backend,
		Blocks:      le.blocks,
		Revoker:     le.revoker,
	}
	if opts != nil {
		opts(&o)
	}
	gw, err := New(t.Context(), o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e.gw = gw
	return le
}

// caller is who sends a request.
type caller struct {
	sub, clientID, office string
	scope                 string
	extra                 map[string]any
}

// token mints a JWT for c, valid for a day of the fake clock.
func (le *limitEnv) tokenFor(t testing.TB, c caller) string {
	t.Helper()
	scope := c.scope
	if scope == "" {
		scope = "list_items order_item"
	}
	extra := map[string]any{}
	if c.office != "" {
		extra["office"] = c.office
	}
	for k, v := range c.extra {
		extra[k] = v
	}
	return le.is.JWT(t, gatewaytest.Claims{Subject: c.sub, ClientID: c.clientID, Scope: scope,
		Audience: []string{"warehouse"}, TTL: 24 * time.Hour, Extra: extra})
}

// limitHeaders are the rate-limit fields of a response.
type limitHeaders struct {
	Policy, State, RetryAfter string
}

func headersOf(w http.ResponseWriter) limitHeaders {
	h := w.Header()
	return limitHeaders{h.Get("RateLimit-Policy"), h.Get("RateLimit"), h.Get("Retry-After")}
}

// fakeRevoker records revocations.
type fakeRevoker struct {
	mu    sync.Mutex
	calls [][2]string
	err   error
}

func (f *fakeRevoker) RevokeTokens(_ context.Context, clientID, subject string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, [2]string{clientID, subject})
	return 3, f.err
}

func (f *fakeRevoker) Calls() [][2]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][2]string(nil), f.calls...)
}

var (
	bob   = caller{sub: "bob", clientID: "spa", office: "regional"}
	alice = caller{sub: "alice", clientID: "spa", office: "head"}
)

func TestRegionalOrdersLimit(t *testing.T) {
	le := newLimitEnv(t, warehouseLimits, nil)
	bobTok, aliceTok := le.tokenFor(t, bob), le.tokenFor(t, alice)
	const policy = `"regional-orders";q=10;w=3600`
	for i := range 10 {
		le.clock.Advance(time.Second)
		w := le.serve(request("POST", "/warehouse/orders", bobTok))
		if w.Code != http.StatusOK {
			t.Fatalf("order %d: status %d, want 200; body %s", i+1, w.Code, w.Body)
		}
		// The calendar hour ends at 11:00; i+1 seconds have passed.
		want := limitHeaders{Policy: policy, State: `"regional-orders";r=` + strconv.Itoa(9-i) + `;t=` + strconv.Itoa(3600-i-1)}
		if diff := cmp.Diff(want, headersOf(w)); diff != "" {
			t.Errorf("order %d headers mismatch (-want +got):\n%s", i+1, diff)
		}
	}
	w := le.serve(request("POST", "/warehouse/orders", bobTok))
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("11th order: status %d, want 429", w.Code)
	}
	want := limitHeaders{Policy: policy, State: `"regional-orders";r=0;t=3590`, RetryAfter: "3590"}
	if diff := cmp.Diff(want, headersOf(w)); diff != "" {
		t.Errorf("11th order headers mismatch (-want +got):\n%s", diff)
	}
	p := readProblem(t, w)
	if p.Type != "urn:portcullis:problem:rate-limited" || strings.Contains(w.Body.String(), "regional") {
		t.Errorf("problem = %+v, want type rate-limited naming no limit", p)
	}
	if n := len(le.up.Requests()); n != 10 {
		t.Errorf("upstream got %d orders, want 10", n)
	}
	// The head office is not limited: no limit applies, so no headers.
	for i := range 20 {
		w := le.serve(request("POST", "/warehouse/orders", aliceTok))
		if w.Code != http.StatusOK {
			t.Fatalf("alice's order %d: status %d", i+1, w.Code)
		}
		if got := headersOf(w); got != (limitHeaders{}) {
			t.Fatalf("alice's order %d has rate-limit headers %+v", i+1, got)
		}
	}
	// GET /items has no limit for bob either.
	if w := le.serve(request("GET", "/warehouse/items", bobTok)); w.Code != http.StatusOK {
		t.Errorf("bob's GET /items: status %d", w.Code)
	}
	// The next hour, bob may order again.
	le.clock.Advance(3590 * time.Second)
	if w := le.serve(request("POST", "/warehouse/orders", bobTok)); w.Code != http.StatusOK {
		t.Errorf("order in the next hour: status %d", w.Code)
	}
	if got := gathered(t, le.env, "portcullis_gateway_ratelimit_rejections_total", `limit="regional-orders"`); got != 1 {
		t.Errorf("rejections{regional-orders} = %v, want 1", got)
	}
	if got := gathered(t, le.env, "portcullis_gateway_requests_total",
		`api="warehouse",code="429",decision="deny_rate",operation="POST /orders",version="v1"`); got != 1 {
		t.Errorf("requests{429, deny_rate} = %v, want 1", got)
	}
	var decisions []string
	for _, l := range le.logLines(t, "request") {
		if l["status"] == float64(429) {
			decisions = append(decisions, l["decision"].(string)+" "+l["reason"].(string))
		}
	}
	if diff := cmp.Diff([]string{"deny_rate rate limit"}, decisions); diff != "" {
		t.Errorf("access log decisions of refusals mismatch (-want +got):\n%s", diff)
	}
}

func TestGoldPlan(t *testing.T) {
	le := newLimitEnv(t, warehouseLimits, nil)
	tok := le.tokenFor(t, caller{sub: "svc", clientID: "warehouse-service"})
	const policy = `"gold-burst";q=100;w=1, "gold-daily";q=2000;w=86400`
	get := func() *httptest.ResponseRecorder { return le.serve(request("GET", "/warehouse/items", tok)) }

	// A burst of 100 at one instant, then the 101st is refused.
	for i := range 100 {
		w := get()
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: status %d", i+1, w.Code)
		}
		if i == 0 {
			want := limitHeaders{Policy: policy, State: `"gold-burst";r=99;t=1`}
			if diff := cmp.Diff(want, headersOf(w)); diff != "" {
				t.Errorf("first request headers mismatch (-want +got):\n%s", diff)
			}
		}
	}
	// Refusals consume nothing: 50 of them leave the daily quota alone.
	for range 50 {
		w := get()
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("request over the burst: status %d, want 429", w.Code)
		}
		want := limitHeaders{Policy: policy, State: `"gold-burst";r=0;t=1`, RetryAfter: "1"}
		if diff := cmp.Diff(want, headersOf(w)); diff != "" {
			t.Fatalf("refusal headers mismatch (-want +got):\n%s", diff)
		}
	}
	// Then 100 a second: the day admits exactly 2000 in all.
	admitted := 100
	for sec := 1; sec <= 25; sec++ {
		le.clock.Advance(time.Second)
		for range 100 {
			if get().Code == http.StatusOK {
				admitted++
			}
		}
	}
	if admitted != 2000 {
		t.Errorf("admitted %d requests in the day, want 2000", admitted)
	}
	w := get()
	// 10:00:25 now: the day ends in 13h59m35s.
	want := limitHeaders{Policy: policy, State: `"gold-daily";r=0;t=50375`, RetryAfter: "50375"}
	if diff := cmp.Diff(want, headersOf(w)); diff != "" {
		t.Errorf("over the daily quota, headers mismatch (-want +got):\n%s", diff)
	}
	// Other clients have no plan.
	other := le.tokenFor(t, caller{sub: "svc", clientID: "other-service"})
	if w := le.serve(request("GET", "/warehouse/items", other)); w.Code != http.StatusOK || headersOf(w) != (limitHeaders{}) {
		t.Errorf("client without a plan: status %d headers %+v", w.Code, headersOf(w))
	}
	// The next day starts afresh.
	le.clock.Advance(50375 * time.Second)
	if w := get(); w.Code != http.StatusOK {
		t.Errorf("next day: status %d", w.Code)
	}
}

func TestPlanAndOperationLimitsTogether(t *testing.T) {
	le := newLimitEnv(t, warehouseLimits, nil)
	// A regional user of the gold client: three limits apply to orders.
	tok := le.tokenFor(t, caller{sub: "carol", clientID: "warehouse-service", office: "regional"})
	for i := range 10 {
		w := le.serve(request("POST", "/warehouse/orders", tok))
		if w.Code != http.StatusOK {
			t.Fatalf("order %d: status %d", i+1, w.Code)
		}
		if i == 0 {
			want := limitHeaders{
				Policy: `"gold-burst";q=100;w=1, "regional-orders";q=10;w=3600, "gold-daily";q=2000;w=86400`,
				State:  `"regional-orders";r=9;t=3600`,
			}
			if diff := cmp.Diff(want, headersOf(w)); diff != "" {
				t.Errorf("headers mismatch (-want +got):\n%s", diff)
			}
		}
	}
	// Refused by regional-orders: the plan's counters are untouched, so
	// 90 more GETs fit the burst exactly.
	for range 5 {
		if w := le.serve(request("POST", "/warehouse/orders", tok)); w.Code != http.StatusTooManyRequests {
			t.Fatalf("order over the hour: status %d", w.Code)
		}
	}
	for i := range 90 {
		if w := le.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
			t.Fatalf("GET %d after the refusals: status %d", i+1, w.Code)
		}
	}
	if w := le.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusTooManyRequests {
		t.Errorf("GET past the burst: status %d, want 429", w.Code)
	}
}

func TestLimitConditions(t *testing.T) {
	tests := []struct {
		name      string
		condition string
		caller    caller
		method    string
		limited   bool
	}{
		{"claim holds", `claims.office == "regional"`, bob, "POST", true},
		{"claim differs", `claims.office == "regional"`, alice, "POST", false},
		{"claim missing: evaluation error, no limit", `claims.office == "regional"`, caller{sub: "dave", clientID: "spa"}, "POST", false},
		{"method", `request.method == "GET"`, alice, "GET", true},
		{"method differs", `request.method == "GET"`, alice, "POST", false},
		{"ip", `ip.in(request.ip, ["192.0.2.0/24"])`, alice, "GET", true},
		{"time", `time.between(request.time, "08:00", "18:00")`, alice, "GET", true},
		{"outside office hours", `!time.between(request.time, "08:00", "18:00")`, alice, "GET", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
				cfg.APIs[0].Limits = []catalog.Limit{{Name: "cond", Quota: "1/hour", Key: []string{"sub"}, Condition: tc.condition}}
			}, nil)
			tok := le.tokenFor(t, tc.caller)
			path := "/warehouse/items"
			if tc.method == "POST" {
				path = "/warehouse/orders"
			}
			le.serve(request(tc.method, path, tok))
			w := le.serve(request(tc.method, path, tok))
			if got := w.Code == http.StatusTooManyRequests; got != tc.limited {
				t.Errorf("second request status %d, limited = %v, want %v", w.Code, got, tc.limited)
			}
		})
	}
}

func TestLimitKeys(t *testing.T) {
	type req struct {
		remote string
		caller caller
		header string // X-Tenant
		path   string
	}
	at := func(remote string) req { return req{remote: remote, caller: alice} }
	tests := []struct {
		name string
		key  []string
		reqs []req
		// want is the status of each request after the first (the
		// limit admits one per hour per key).
		want []int
	}{
		{"ip/24 groups an IPv4 network", []string{"ip/24"},
			[]req{at("192.0.2.10:1"), at("192.0.2.77:2"), at("198.51.100.1:3"), at("192.0.3.1:4")}, []int{429, 200, 200}},
		{"ip/24 groups IPv6 by /64", []string{"ip/24"},
			[]req{at("[2001:db8::1]:1"), at("[2001:db8::ffff]:2"), at("[2001:db8:0:1::1]:3")}, []int{429, 200}},
		{"ip is the address", []string{"ip"},
			[]req{at("192.0.2.10:1"), at("192.0.2.11:2"), at("192.0.2.10:3")}, []int{200, 429}},
		{"ip/16/48", []string{"ip/16/48"},
			[]req{at("10.1.2.3:1"), at("10.1.200.3:2"), at("[2001:db8:1:2::1]:3"), at("[2001:db8:1:3::1]:4")}, []int{429, 200, 429}},
		{"sub", []string{"sub"},
			[]req{{"192.0.2.1:1", alice, "", ""}, {"192.0.2.2:1", alice, "", ""}, {"192.0.2.1:1", bob, "", ""}}, []int{429, 200}},
		{"client_id", []string{"client_id"},
			[]req{{"192.0.2.1:1", alice, "", ""}, {"192.0.2.1:1", bob, "", ""}, {"192.0.2.1:1", caller{sub: "x", clientID: "other"}, "", ""}}, []int{429, 200}},
		{"header", []string{"header:X-Tenant"},
			[]req{{"192.0.2.1:1", alice, "a", ""}, {"192.0.2.1:1", alice, "b", ""}, {"192.0.2.1:1", bob, "a", ""}, {"192.0.2.1:1", alice, strings.Repeat("z", 500), ""}}, []int{200, 429, 200}},
		{"claim", []string{"claim:office"},
			[]req{{"192.0.2.1:1", alice, "", ""}, {"192.0.2.1:1", bob, "", ""}, {"192.0.2.1:1", caller{sub: "erin", clientID: "spa", office: "head"}, "", ""}}, []int{200, 429}},
		{"numeric claim", []string{"claim:level"},
			[]req{{"192.0.2.1:1", caller{sub: "a", extra: map[string]any{"level": 3}}, "", ""}, {"192.0.2.1:1", caller{sub: "b", extra: map[string]any{"level": 3.0}}, "", ""}, {"192.0.2.1:1", caller{sub: "c", extra: map[string]any{"level": 4}}, "", ""}}, []int{429, 200}},
		{"missing and non-scalar claims share the empty value", []string{"claim:org"},
			[]req{{"192.0.2.1:1", caller{sub: "a"}, "", ""}, {"192.0.2.1:1", caller{sub: "b", extra: map[string]any{"org": []string{"x"}}}, "", ""}, {"192.0.2.1:1", caller{sub: "c", extra: map[string]any{"org": "acme"}}, "", ""}}, []int{429, 200}},
		{"api is one counter for every caller", []string{"api"},
			[]req{{"192.0.2.1:1", alice, "", ""}, {"198.51.100.1:1", bob, "", ""}}, []int{429}},
		{"operation", []string{"operation"},
			[]req{{"192.0.2.1:1", alice, "", "/warehouse/items"}, {"192.0.2.1:1", alice, "", "/warehouse/items/7"}, {"192.0.2.1:1", bob, "", "/warehouse/items"}}, []int{200, 429}},
		{"parts are joined", []string{"sub", "ip/24"},
			[]req{at("192.0.2.1:1"), at("198.51.100.1:1"), {"192.0.2.9:1", bob, "", ""}, at("192.0.2.200:1")}, []int{200, 200, 429}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
				cfg.APIs[0].Limits = []catalog.Limit{{Name: "k", Quota: "1/hour", Key: tc.key}}
			}, nil)
			var got []int
			for i, rq := range tc.reqs {
				c := rq.caller
				if c.clientID == "" {
					c.clientID = "spa"
				}
				path := rq.path
				if path == "" {
					path = "/warehouse/items"
				}
				r := request("GET", path, le.tokenFor(t, c))
				r.RemoteAddr = rq.remote
				if rq.header != "" {
					r.Header.Set("X-Tenant", rq.header)
				}
				w := le.serve(r)
				if i == 0 {
					if w.Code != http.StatusOK {
						t.Fatalf("first request: status %d", w.Code)
					}
					continue
				}
				got = append(got, w.Code)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("statuses mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPublicOperationLimits(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		warehouseLimits(cfg)
		cfg.RateLimit.DefaultPlan = "gold"
		for i := range cfg.APIs[0].Operations {
			if op := &cfg.APIs[0].Operations[i]; op.Path == "/health" {
				op.Limits = []catalog.Limit{{Name: "health", Rate: "1/m", Key: []string{"ip", "sub"}}}
			}
		}
	}, nil)
	// No token: the plan does not apply, the operation's limit does, with
	// an empty sub.
	w := le.serve(request("GET", "/warehouse/health", ""))
	want := limitHeaders{Policy: `"health";q=1;w=60`, State: `"health";r=0;t=60`}
	if diff := cmp.Diff(want, headersOf(w)); diff != "" || w.Code != http.StatusOK {
		t.Errorf("status %d, headers mismatch (-want +got):\n%s", w.Code, diff)
	}
	if w := le.serve(request("GET", "/warehouse/health", "")); w.Code != http.StatusTooManyRequests {
		t.Errorf("second call: status %d, want 429", w.Code)
	}
}

func TestAbuseBlock(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		cfg.APIs[0].Limits = []catalog.Limit{{Name: "per-user", Quota: "1/hour", Key: []string{"sub"}}}
		cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "mass-download", Key: "sub", Rejections: 3,
			Window: catalog.Duration(time.Minute), Block: catalog.Duration(15 * time.Minute), RevokeTokens: true}}
	}, nil)
	tok := le.tokenFor(t, bob)
	get := func(tok string) *httptest.ResponseRecorder { return le.serve(request("GET", "/warehouse/items", tok)) }
	if w := get(tok); w.Code != http.StatusOK {
		t.Fatalf("first: status %d", w.Code)
	}
	// Three refusals are tolerated; the fourth blocks.
	for i := range 4 {
		w := get(tok)
		if p := readProblem(t, w); p.Type != "urn:portcullis:problem:rate-limited" {
			t.Fatalf("refusal %d: problem %s", i+1, p.Type)
		}
		if i < 3 {
			if _, ok := le.blocks.Blocked("sub:bob", le.clock.Now()); ok {
				t.Fatalf("blocked after %d refusals, want 4", i+1)
			}
		}
	}
	b, ok := le.blocks.Blocked("sub:bob", le.clock.Now())
	if !ok {
		t.Fatal("not blocked after 4 refusals")
	}
	if want := le.clock.Now().Add(15 * time.Minute); !b.Until.Equal(want) || b.Reason != "abuse rule mass-download" {
		t.Errorf("block = %+v, want until %s by mass-download", b, want)
	}
	le.clock.Advance(time.Minute)
	for range 3 {
		w := get(tok)
		if w.Code != http.StatusTooManyRequests {
			t.Fatalf("blocked request: status %d", w.Code)
		}
		if p := readProblem(t, w); p.Type != "urn:portcullis:problem:blocked" {
			t.Errorf("blocked request: problem %s", p.Type)
		}
		if got := w.Header().Get("Retry-After"); got != "840" {
			t.Errorf("blocked request: Retry-After %q, want 840", got)
		}
	}
	// Another user of the same client is not blocked (the rule is by sub).
	if w := get(le.tokenFor(t, alice)); w.Code != http.StatusOK {
		t.Errorf("alice: status %d", w.Code)
	}
	if diff := cmp.Diff([][2]string{{"spa", "bob"}}, le.revoker.Calls()); diff != "" {
		t.Errorf("revocations mismatch (-want +got):\n%s", diff)
	}
	if got := gathered(t, le.env, "portcullis_gateway_abuse_blocks_total", `rule="mass-download"`); got != 1 {
		t.Errorf("abuse blocks = %v, want 1", got)
	}
	events := le.logLines(t, "abuse block")
	if len(events) != 1 || events[0]["rule"] != "mass-download" || events[0]["key"] != "sub:bob" || events[0]["revoked"] != float64(3) {
		t.Errorf("abuse block events = %v, want one for sub:bob with 3 revoked", events)
	}
	var blockedDecisions int
	for _, l := range le.logLines(t, "request") {
		if l["decision"] == "deny_blocked" {
			blockedDecisions++
		}
	}
	if blockedDecisions != 3 {
		t.Errorf("%d access log lines say deny_blocked, want 3", blockedDecisions)
	}
	// After the block (still in the same hour): refused by the limit
	// again, not blocked; the next hour, free.
	le.clock.Advance(14 * time.Minute)
	if p := readProblem(t, get(tok)); p.Type != "urn:portcullis:problem:rate-limited" {
		t.Errorf("after the block: problem %s, want rate-limited", p.Type)
	}
	le.clock.Advance(time.Hour)
	if w := get(tok); w.Code != http.StatusOK {
		t.Errorf("next hour: status %d", w.Code)
	}
	if n := len(le.revoker.Calls()); n != 1 {
		t.Errorf("revoker called %d times, want once", n)
	}
}

func TestAbuseBlockByClient(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		warehouseLimits(cfg)
		cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "greedy-app", Key: "client_id", Rejections: 1,
			Window: catalog.Duration(time.Minute), Block: catalog.Duration(time.Hour)}}
	}, nil)
	tok := le.tokenFor(t, caller{sub: "svc", clientID: "warehouse-service"})
	for range 102 {
		le.serve(request("GET", "/warehouse/items", tok))
	}
	if _, ok := le.blocks.Blocked("client_id:warehouse-service", le.clock.Now()); !ok {
		t.Fatal("client not blocked after 2 refusals")
	}
	// Every user of the client is blocked, whatever they call.
	other := le.tokenFor(t, caller{sub: "someone", clientID: "warehouse-service", office: "head"})
	if w := le.serve(request("POST", "/warehouse/orders", other)); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "3600" {
		t.Errorf("another user of the blocked client: status %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	if n := len(le.revoker.Calls()); n != 0 {
		t.Errorf("revoker called %d times without revoke_tokens", n)
	}
	// An operator lifts the block.
	if err := le.blocks.Lift(t.Context(), "client_id:warehouse-service"); err != nil {
		t.Fatal(err)
	}
	le.clock.Advance(time.Second)
	if w := le.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
		t.Errorf("after lifting: status %d", w.Code)
	}
}

func TestLimitsFailClosedAtBuild(t *testing.T) {
	tests := []struct {
		name string
		edit func(*catalog.Snapshot)
		opts func(*Options)
		want string
	}{
		{"limits without a backend", warehouseLimits, func(o *Options) { o.RateLimiter = nil }, "no rate-limit backend"},
		{"an operation limit without a backend", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Operations[0].Limits = []catalog.Limit{{Name: "x", Rate: "1/s", Key: []string{"sub"}}}
		}, func(o *Options) { o.RateLimiter = nil }, "no rate-limit backend"},
		{"abuse rules without blocks", func(cfg *catalog.Snapshot) {
			cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "a", Key: "sub", Rejections: 1, Window: catalog.Duration(time.Minute), Block: catalog.Duration(time.Minute)}}
		}, func(o *Options) { o.Blocks = nil }, "block list"},
		{"revoke_tokens without a revoker", func(cfg *catalog.Snapshot) {
			cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "a", Key: "sub", Rejections: 1, Window: catalog.Duration(time.Minute), Block: catalog.Duration(time.Minute), RevokeTokens: true}}
		}, func(o *Options) { o.Revoker = nil }, "revoke"},
		{"duplicate names", func(cfg *catalog.Snapshot) {
			warehouseLimits(cfg)
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "gold-daily", Rate: "1/s", Key: []string{"sub"}}}
		}, nil, "is also the name of ratelimit.plans.gold[0]"},
		{"bad condition", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "x", Rate: "1/s", Key: []string{"sub"}, Condition: "claims.x +"}}
		}, nil, "condition"},
		{"bad key", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "x", Rate: "1/s", Key: []string{"password"}}}
		}, nil, "key"},
		{"no key", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "x", Rate: "1/s"}}
		}, nil, "key"},
		{"unknown plan", func(cfg *catalog.Snapshot) {
			warehouseLimits(cfg)
			cfg.RateLimit.ClientPlans["x"] = "platinum"
		}, nil, "platinum"},
		{"plan key without client", func(cfg *catalog.Snapshot) {
			cfg.RateLimit.Plans = map[string][]catalog.Limit{"p": {{Name: "x", Rate: "1/s", Key: []string{"sub"}}}}
		}, nil, "client_id"},
		{"abuse counter name", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "abuse-x", Rate: "1/s", Key: []string{"sub"}}}
		}, nil, "abuse rules"},
		{"bad rate", func(cfg *catalog.Snapshot) {
			cfg.APIs[0].Limits = []catalog.Limit{{Name: "x", Rate: "1/day", Key: []string{"sub"}}}
		}, nil, "rate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, nil) // for the issuer and upstream
			cfg := warehouseConfig(e.is, e.up)
			tc.edit(&cfg)
			o := Options{Catalog: cfg, Getenv: e.getenv, RateLimiter: ratelimit.NewMemory(ratelimit.MemoryConfig{}),
				Blocks: ratelimit.NewMemoryBlocks(), Revoker: &fakeRevoker{}}
			if tc.opts != nil {
				tc.opts(&o)
			}
			_, err := New(t.Context(), o)
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New() error = %v, want a ConfigError about %q", err, tc.want)
			}
			// The same configuration on a running gateway is refused and
			// the old table keeps serving.
			e.gw.limiter, e.gw.blocks, e.gw.limitRT.revoker = o.RateLimiter, o.Blocks, o.Revoker
			if err := e.gw.Reload(t.Context(), cfg); err == nil {
				t.Fatal("Reload() accepted the configuration")
			}
			if w := e.serve(request("GET", "/warehouse/items", e.token(t, "jwt", "list_items"))); w.Code != http.StatusOK {
				t.Errorf("after a refused reload: status %d", w.Code)
			}
		})
	}
}

func TestLimitsSurviveReload(t *testing.T) {
	le := newLimitEnv(t, warehouseLimits, nil)
	tok := le.tokenFor(t, bob)
	for range 10 {
		le.serve(request("POST", "/warehouse/orders", tok))
	}
	if err := le.gw.Reload(t.Context(), le.cfg); err != nil {
		t.Fatal(err)
	}
	if w := le.serve(request("POST", "/warehouse/orders", tok)); w.Code != http.StatusTooManyRequests {
		t.Errorf("after a reload: status %d, want 429 (counters kept)", w.Code)
	}
	// A reload that drops the limit frees bob at once.
	cfg := le.cfg
	cfg.APIs = append([]catalog.API(nil), cfg.APIs...)
	cfg.APIs[0].Operations = append([]catalog.Operation(nil), cfg.APIs[0].Operations...)
	for i := range cfg.APIs[0].Operations {
		cfg.APIs[0].Operations[i].Limits = nil
	}
	if err := le.gw.Reload(t.Context(), cfg); err != nil {
		t.Fatal(err)
	}
	if w := le.serve(request("POST", "/warehouse/orders", tok)); w.Code != http.StatusOK || headersOf(w) != (limitHeaders{}) {
		t.Errorf("after dropping the limit: status %d headers %+v", w.Code, headersOf(w))
	}
}

// failingBackend answers every call with (ok, err).
type failingBackend struct {
	ok  bool
	err error
}

func (f failingBackend) Allow(context.Context, []ratelimit.Check, time.Time, []ratelimit.State) (bool, error) {
	return f.ok, f.err
}

func (f failingBackend) Peek(context.Context, []ratelimit.Check, time.Time, []ratelimit.State) error {
	return f.err
}

func TestLimitBackendErrors(t *testing.T) {
	tests := []struct {
		name       string
		backend    failingBackend
		status     int
		outcome    string
		policy     string
		retryAfter string
	}{
		{"strict limit denied", failingBackend{false, fmt.Errorf("%w: dial: %w", ratelimit.ErrFailClosed, ratelimit.ErrBackend)}, 503, "denied", "", "5"},
		{"lenient limits allowed", failingBackend{true, fmt.Errorf("dial: %w", ratelimit.ErrBackend)}, 200, "allowed", `"gold-burst";q=100;w=1, "gold-daily";q=2000;w=86400`, ""},
		{"unexpected error fails closed", failingBackend{true, errors.New("bug")}, 503, "denied", "", "5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			le := newLimitEnv(t, warehouseLimits, func(o *Options) { o.RateLimiter = tc.backend })
			tok := le.tokenFor(t, caller{sub: "svc", clientID: "warehouse-service"})
			for i := range 3 {
				w := le.serve(request("GET", "/warehouse/items", tok))
				if w.Code != tc.status {
					t.Fatalf("request %d: status %d, want %d", i+1, w.Code, tc.status)
				}
				got := headersOf(w)
				if got.Policy != tc.policy || got.State != "" || got.RetryAfter != tc.retryAfter {
					t.Errorf("request %d: headers %+v, want policy %q, no RateLimit, Retry-After %q", i+1, got, tc.policy, tc.retryAfter)
				}
				if tc.status == 503 {
					if p := readProblem(t, w); p.Type != "urn:portcullis:problem:unavailable" {
						t.Errorf("problem %s", p.Type)
					}
				}
			}
			if got := gathered(t, le.env, "portcullis_gateway_ratelimit_backend_errors_total", `outcome="`+tc.outcome+`"`); got != 3 {
				t.Errorf("backend errors{%s} = %v, want 3", tc.outcome, got)
			}
			// One warning per interval, however many requests fail.
			if n := len(le.logLines(t, "rate limit backend unavailable")); n != 1 {
				t.Errorf("%d warnings, want 1", n)
			}
			le.clock.Advance(backendWarnInterval)
			le.serve(request("GET", "/warehouse/items", tok))
			if n := len(le.logLines(t, "rate limit backend unavailable")); n != 2 {
				t.Errorf("%d warnings after the interval, want 2", n)
			}
		})
	}
}

// localFallbackBackend is a backend whose store is down and whose limits
// count locally (on_backend_error: local): its answer is the local
// count's, with ErrBackend to say it is not the cluster's.
type localFallbackBackend struct{ local ratelimit.Backend }

func (b localFallbackBackend) Allow(ctx context.Context, checks []ratelimit.Check, now time.Time, states []ratelimit.State) (bool, error) {
	ok, err := b.local.Allow(ctx, checks, now, states)
	if err != nil {
		return false, err
	}
	return ok, fmt.Errorf("dial: %w", ratelimit.ErrBackend)
}

func (b localFallbackBackend) Peek(ctx context.Context, checks []ratelimit.Check, now time.Time, states []ratelimit.State) error {
	return b.local.Peek(ctx, checks, now, states)
}

// TestLimitLocalFallbackReached: with the backend down, a limit counted in
// the node's memory that is reached refuses like any limit, 429 with
// Retry-After, not 503; each call is still counted as a backend error.
func TestLimitLocalFallbackReached(t *testing.T) {
	local := ratelimit.NewMemory(ratelimit.MemoryConfig{})
	le := newLimitEnv(t, warehouseLimits, func(o *Options) { o.RateLimiter = localFallbackBackend{local} })
	tok := le.tokenFor(t, caller{sub: "svc", clientID: "warehouse-service"})
	codes := map[int]int{}
	var last *httptest.ResponseRecorder
	for range 150 {
		w := le.serve(request("GET", "/warehouse/items", tok))
		codes[w.Code]++
		if w.Code != http.StatusOK {
			last = w
		}
	}
	if codes[http.StatusOK] == 0 || codes[http.StatusTooManyRequests] == 0 || codes[http.StatusServiceUnavailable] != 0 {
		t.Fatalf("statuses %v: want some 200, then 429, never 503", codes)
	}
	if h := headersOf(last); h.RetryAfter == "" || h.State == "" {
		t.Errorf("429 headers %+v: want Retry-After and RateLimit", h)
	}
	if p := readProblem(t, last); p.Type != "urn:portcullis:problem:rate-limited" {
		t.Errorf("problem %s, want rate-limited", p.Type)
	}
	if got := gathered(t, le.env, "portcullis_gateway_ratelimit_backend_errors_total", `outcome="denied"`); got != float64(codes[http.StatusTooManyRequests]) {
		t.Errorf("backend errors{denied} = %v, want %d", got, codes[http.StatusTooManyRequests])
	}
}

func TestLimitResponsesLeakNothing(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		cfg.APIs[0].Limits = []catalog.Limit{{Name: "t", Quota: "1/hour", Key: []string{"header:X-Tenant", "sub"}}}
	}, nil)
	tok := le.tokenFor(t, bob)
	var bodies []string
	for range 2 {
		r := request("GET", "/warehouse/items", tok)
		r.Header.Set("X-Tenant", "tenant-secret-value")
		w := le.serve(r)
		bodies = append(bodies, w.Body.String(), strings.Join(w.Header().Values("RateLimit"), ""))
	}
	for _, b := range append(bodies, le.logs.String()) {
		if strings.Contains(b, "tenant-secret-value") || strings.Contains(b, tok) {
			t.Errorf("a response or log line holds a key value or the token: %s", b)
		}
	}
}

func TestQuotas(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		warehouseLimits(cfg)
		cfg.RateLimit.Plans["gold"] = append(cfg.RateLimit.Plans["gold"],
			catalog.Limit{Name: "gold-per-api", Quota: "500/hour", Key: []string{"client_id", "api"}},
			catalog.Limit{Name: "gold-per-user", Quota: "50/hour", Key: []string{"client_id", "sub"}})
	}, nil)
	tok := le.tokenFor(t, caller{sub: "svc", clientID: "warehouse-service"})
	for range 5 {
		if w := le.serve(request("GET", "/warehouse/items", tok)); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	}
	got, err := le.gw.Quotas(t.Context(), "warehouse-service")
	if err != nil {
		t.Fatal(err)
	}
	// The per-user limit depends on the request and is left out.
	want := []QuotaState{
		{Plan: "gold", Limit: "gold-daily", Quota: 2000, WindowSeconds: 86400, Remaining: 1995, ResetSeconds: 50400},
		{Plan: "gold", Limit: "gold-burst", Quota: 100, WindowSeconds: 1, Remaining: 95, ResetSeconds: 1},
		{Plan: "gold", Limit: "gold-per-api", API: "warehouse", Quota: 500, WindowSeconds: 3600, Remaining: 495, ResetSeconds: 3600},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Quotas() mismatch (-want +got):\n%s", diff)
	}
	if got, err := le.gw.Quotas(t.Context(), "no-plan"); err != nil || len(got) != 0 {
		t.Errorf("Quotas(no-plan) = %v, %v; want none", got, err)
	}
	plain := newEnv(t, nil)
	if _, err := plain.gw.Quotas(t.Context(), "x"); !errors.Is(err, ErrNoRateLimiter) {
		t.Errorf("Quotas() without a backend: error %v, want ErrNoRateLimiter", err)
	}
}

// TestLimitsConcurrent: requests racing on one limit admit exactly its
// count, and the abuse rule blocks and revokes once.
func TestLimitsConcurrent(t *testing.T) {
	le := newLimitEnv(t, func(cfg *catalog.Snapshot) {
		warehouseLimits(cfg)
		cfg.RateLimit.Abuse = []catalog.AbuseRule{{Name: "flood", Key: "sub", Rejections: 20,
			Window: catalog.Duration(time.Minute), Block: catalog.Duration(time.Minute), RevokeTokens: true}}
	}, nil)
	tok := le.tokenFor(t, bob)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[int]int{}
	)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				w := le.serve(request("POST", "/warehouse/orders", tok))
				mu.Lock()
				codes[w.Code]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[http.StatusOK] != 10 || codes[http.StatusTooManyRequests] != 190 {
		t.Errorf("statuses %v, want 10 × 200 and 190 × 429", codes)
	}
	if n := len(le.revoker.Calls()); n != 1 {
		t.Errorf("revoker called %d times, want once", n)
	}
	if n := len(le.logLines(t, "abuse block")); n != 1 {
		t.Errorf("%d abuse block events, want 1", n)
	}
}
