package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/catalog"
)

// withWAF turns on the warehouse API's WAF; the POST /orders operation
// (index 2) gets tuning when op is not nil.
func withWAF(w *catalog.WAF, op *catalog.OperationWAF) func(*catalog.Snapshot) {
	return func(s *catalog.Snapshot) {
		s.APIs[0].WAF = w
		s.APIs[0].Operations[2].WAF = op
	}
}

func orderRequest(tok, body string) *http.Request {
	r := request("POST", "/warehouse/orders", tok)
	r.Body = http.NoBody
	if body != "" {
		r = httptest.NewRequest("POST", "/warehouse/orders", strings.NewReader(body))
		r.RemoteAddr = "192.0.2.10:40000"
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("Content-Type", "application/json")
	}
	return r
}

func TestWAFBlocks(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{}, nil))
	tok := e.token(t, "jwt", "list_items order_item")
	cases := []struct {
		name string
		r    *http.Request
		want int
	}{
		{"benign search", request("GET", "/warehouse/items?q="+url.QueryEscape("O'Brien's order, select the best"), tok), 200},
		{"benign order", orderRequest(tok, `{"item_id":"box-large","quantity":2,"notes":"Ask for Mr. D'Angelo at reception and drop by tomorrow"}`), 200},
		{"sqli in query", request("GET", "/warehouse/items?q="+url.QueryEscape("1' UNION SELECT password FROM users--"), tok), 403},
		{"sqli in path parameter", request("GET", "/warehouse/items/"+url.PathEscape("1' OR '1'='1"), tok), 403},
		{"xss in json", orderRequest(tok, `{"item_id":"x","notes":"<script>alert(1)</script>"}`), 403},
		{"nosql operator key", orderRequest(tok, `{"customer":{"email":{"$ne":null}}}`), 403},
		{"prototype pollution", orderRequest(tok, `{"__proto__":{"isAdmin":true}}`), 403},
		{"unparsable json", orderRequest(tok, `{"item_id":`), 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.up.Reset()
			w := e.serve(c.r)
			if w.Code != c.want {
				t.Fatalf("status %d, want %d (body %q)", w.Code, c.want, w.Body.String())
			}
			_, proxied := e.up.Last()
			if c.want == 403 {
				p := readProblem(t, w)
				if p.Type != "urn:portcullis:problem:request-blocked" {
					t.Errorf("type = %q", p.Type)
				}
				// The rule ids stay in the log.
				if strings.Contains(w.Body.String(), "9421") || strings.Contains(w.Body.String(), "rule") {
					t.Errorf("response names rules: %q", w.Body.String())
				}
				if proxied {
					t.Error("a blocked request reached the upstream")
				}
			} else if !proxied {
				t.Error("an allowed request did not reach the upstream")
			}
		})
	}
}

func TestWAFAccessLogAndMetrics(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{}, nil))
	tok := e.token(t, "jwt", "list_items")
	w := e.serve(request("GET", "/warehouse/items?q="+url.QueryEscape("<script>alert(1)</script>"), tok))
	if w.Code != 403 {
		t.Fatalf("status %d", w.Code)
	}
	lines := e.logLines(t, "request")
	if len(lines) != 1 {
		t.Fatalf("%d access log lines", len(lines))
	}
	l := lines[0]
	if l["decision"] != "deny_waf" || l["reason"] != "waf" {
		t.Errorf("decision %v, reason %v", l["decision"], l["reason"])
	}
	g, _ := l["waf"].(map[string]any)
	if g == nil || g["action"] != "blocked" || !strings.Contains(g["rules"].(string), "941") || g["score"].(float64) < 5 {
		t.Errorf("waf group = %v", l["waf"])
	}
	if n := gathered(t, e, "portcullis_gateway_waf_blocks_total", `api="warehouse",rule="941100",version="v1"`); n != 1 {
		t.Errorf("blocks{rule=941100} = %v, want 1", n)
	}
	// A clean request logs no waf group.
	if w := e.serve(request("GET", "/warehouse/items?q=box", tok)); w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if l := e.logLines(t, "request")[1]; l["waf"] != nil {
		t.Errorf("clean request logged waf %v", l["waf"])
	}
}

func TestWAFDetectOnly(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{Mode: catalog.WAFDetect}, nil))
	tok := e.token(t, "jwt", "list_items")
	w := e.serve(request("GET", "/warehouse/items?q="+url.QueryEscape("' OR 1=1--"), tok))
	if w.Code != 200 {
		t.Fatalf("status %d, want 200 in detect mode", w.Code)
	}
	l := e.logLines(t, "request")[0]
	if g, _ := l["waf"].(map[string]any); g == nil || g["action"] != "detected" {
		t.Errorf("waf group = %v", l["waf"])
	}
	if n := gathered(t, e, "portcullis_gateway_waf_detections_total", `api="warehouse",rule="942100",version="v1"`); n != 1 {
		t.Errorf("detections{rule=942100} = %v, want 1", n)
	}
}

func TestWAFOperationTuning(t *testing.T) {
	const body = `{"item_id":"box-large","notes":"<script>alert(1)</script>"}`
	cases := []struct {
		name string
		op   *catalog.OperationWAF
		want int
	}{
		{"untuned", nil, 403},
		{"off", &catalog.OperationWAF{Off: true}, 200},
		{"rules excluded", &catalog.OperationWAF{ExcludeRules: []int{941100, 941110, 941160, 941390}}, 200},
		{"rule excluded for the field", &catalog.OperationWAF{ExcludeParams: []catalog.WAFParamExclusion{
			{Rule: 941100, Target: "ARGS:json.notes"}, {Rule: 941110, Target: "ARGS:json.notes"},
			{Rule: 941160, Target: "ARGS:json.notes"}, {Rule: 941390, Target: "ARGS:json.notes"}}}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, withWAF(&catalog.WAF{}, c.op))
			tok := e.token(t, "jwt", "list_items order_item")
			if w := e.serve(orderRequest(tok, body)); w.Code != c.want {
				t.Errorf("POST /orders: status %d, want %d", w.Code, c.want)
			}
			// The other operations keep the API's rules.
			w := e.serve(request("GET", "/warehouse/items?q="+url.QueryEscape("<script>alert(1)</script>"), tok))
			if w.Code != 403 {
				t.Errorf("GET /items: status %d, want 403", w.Code)
			}
		})
	}
}

func TestWAFUnknownExclusionRefused(t *testing.T) {
	e := newEnv(t, nil)
	s := e.cfg
	s.APIs = append([]catalog.API(nil), s.APIs...)
	s.APIs[0].WAF = &catalog.WAF{Exclusions: []int{123456}}
	if _, err := New(t.Context(), Options{Catalog: s, Getenv: e.getenv}); err == nil || !strings.Contains(err.Error(), "123456") {
		t.Errorf("New = %v, want an error naming rule 123456", err)
	}
}

// TestWAFOffPaysNothing keeps an API without a WAF free of the step.
func TestWAFOffPaysNothing(t *testing.T) {
	next := http.NotFoundHandler()
	h, err := newWAF(&stepConfig{api: &apiRoute{}, op: &operation{}}, next)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := h.(*wafStep); ok {
		t.Error("an API without a WAF got the step")
	}
}

// Answers a backend should never send, and the CRS rule that knows each.
var leakingAnswers = []struct {
	name, contentType, body string
	rule                    string
}{
	{"sql error in json", "application/json",
		`{"error":"You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version for the right syntax to use near ''' at line 1"}`, "951230"},
	{"java stack trace", "text/plain; charset=utf-8",
		"java.lang.NullPointerException: null\n\tat com.example.orders.OrderService.place(OrderService.java:42)\n\tat com.example.Main.main(Main.java:10)\n", "952110"},
	{"php fatal error", "text/html",
		"<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function orders() in /var/www/html/index.php:3\nStack trace:\n#0 {main}\n", "953100"},
}

// answerWith makes the upstream answer status, with a Content-Type, an
// ETag and a cookie of its own, and body.
func answerWith(e *env, status int, contentType, body string) {
	e.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Etag", `"v1"`)
		w.Header().Set("Set-Cookie", "backend=1")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	})
}

func TestWAFRefusesLeakingAnswers(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{InspectResponse: true}, nil))
	tok := e.token(t, "jwt", "list_items")
	for i, c := range leakingAnswers {
		t.Run(c.name, func(t *testing.T) {
			answerWith(e, 200, c.contentType, c.body)
			w := e.serve(request("GET", "/warehouse/items/42", tok))
			if w.Code != http.StatusBadGateway {
				t.Fatalf("status %d, want 502 (body %q)", w.Code, w.Body.String())
			}
			if p := readProblem(t, w); p.Type != "urn:portcullis:problem:bad-gateway" {
				t.Errorf("type = %q", p.Type)
			}
			// Nothing of the answer leaks: not its body, not its head,
			// not which rule matched.
			got := w.Body.String()
			if strings.Contains(got, c.body[:20]) || strings.Contains(got, c.rule) || strings.Contains(got, "rule") {
				t.Errorf("502 body says too much: %q", got)
			}
			if w.Header().Get("Etag") != "" || w.Header().Get("Set-Cookie") != "" {
				t.Errorf("502 carries the upstream's head: %v", w.Header())
			}
			l := e.logLines(t, "request")[i]
			if l["decision"] != "bad_gateway" || l["reason"] != "waf: answer refused" {
				t.Errorf("decision %v, reason %v", l["decision"], l["reason"])
			}
			g, _ := l["waf"].(map[string]any)
			if g == nil || g["response_action"] != "blocked" || !strings.Contains(g["response_rules"].(string), c.rule) ||
				g["response_score"].(float64) < 4 || g["rules"] != nil {
				t.Errorf("waf group = %v", l["waf"])
			}
			if n := gathered(t, e, "portcullis_gateway_waf_blocks_total", `api="warehouse",rule="`+c.rule+`",version="v1"`); n != 1 {
				t.Errorf("blocks{rule=%s} = %v, want 1", c.rule, n)
			}
		})
	}
}

// TestWAFPassesAnswersUntouched: what the rules find nothing in goes
// out as the upstream sent it, head and bytes.
func TestWAFPassesAnswersUntouched(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{InspectResponse: true}, nil))
	tok := e.token(t, "jwt", "list_items")
	large := `{"items":"` + strings.Repeat("box-large, select the best; ", 4000) + `"}`
	cases := []struct {
		name, contentType, body string
	}{
		{"json", "application/json", `{"items":[{"id":"SKU-10042","name":"Box, large","note":"O'Brien: select the best, drop by tomorrow"}]}`},
		{"html", "text/html; charset=utf-8", "<html><body><h1>Orders</h1><p>SELECT a product.</p></body></html>"},
		{"larger than what is inspected", "application/json", large},
		// Past the first bytes nothing is read; binary types are not read.
		{"leak past the inspected bytes", "application/json", large[:len(large)-2] + leakingAnswers[0].body + `"}`},
		{"binary", "application/octet-stream", leakingAnswers[1].body},
		{"empty", "application/json", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			answerWith(e, 200, c.contentType, c.body)
			w := e.serve(request("GET", "/warehouse/items/42", tok))
			if w.Code != 200 {
				t.Fatalf("status %d, want 200 (body %.200q)", w.Code, w.Body.String())
			}
			if w.Body.String() != c.body {
				t.Errorf("body changed: %d bytes, want %d", w.Body.Len(), len(c.body))
			}
			if w.Header().Get("Content-Type") != c.contentType || w.Header().Get("Etag") != `"v1"` || w.Header().Get("Set-Cookie") != "backend=1" {
				t.Errorf("head changed: %v", w.Header())
			}
		})
	}
	for _, l := range e.logLines(t, "request") {
		if l["waf"] != nil {
			t.Errorf("benign answer logged waf %v", l["waf"])
		}
	}
}

func TestWAFDetectsLeakingAnswers(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{InspectResponse: true, Mode: catalog.WAFDetect}, nil))
	tok := e.token(t, "jwt", "list_items")
	c := leakingAnswers[0]
	answerWith(e, 200, c.contentType, c.body)
	w := e.serve(request("GET", "/warehouse/items/42", tok))
	if w.Code != 200 || w.Body.String() != c.body {
		t.Fatalf("status %d, body %q: want the answer as sent in detect mode", w.Code, w.Body.String())
	}
	l := e.logLines(t, "request")[0]
	if g, _ := l["waf"].(map[string]any); g == nil || g["response_action"] != "detected" {
		t.Errorf("waf group = %v", l["waf"])
	}
	if n := gathered(t, e, "portcullis_gateway_waf_detections_total", `api="warehouse",rule="`+c.rule+`",version="v1"`); n != 1 {
		t.Errorf("detections{rule=%s} = %v, want 1", c.rule, n)
	}
}

// TestWAFInspectsPassedUpstreamErrors: with upstream_errors: pass an
// error page reaches the rules, and its stack trace does not reach the
// client.
func TestWAFInspectsPassedUpstreamErrors(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) {
		withWAF(&catalog.WAF{InspectResponse: true}, nil)(s)
		s.APIs[0].UpstreamErrors = catalog.UpstreamErrorsPass
	})
	tok := e.token(t, "jwt", "list_items")
	answerWith(e, 500, "text/plain", leakingAnswers[1].body)
	w := e.serve(request("GET", "/warehouse/items/42", tok))
	if w.Code != http.StatusBadGateway || strings.Contains(w.Body.String(), "java.lang") {
		t.Errorf("status %d, body %q: want 502 without the trace", w.Code, w.Body.String())
	}
}

// TestWAFAnswersOffByDefault: without inspect_response the WAF reads
// requests only.
func TestWAFAnswersOffByDefault(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{}, nil))
	tok := e.token(t, "jwt", "list_items")
	c := leakingAnswers[0]
	answerWith(e, 200, c.contentType, c.body)
	if w := e.serve(request("GET", "/warehouse/items/42", tok)); w.Code != 200 || w.Body.String() != c.body {
		t.Errorf("status %d, body %q: want the answer as sent", w.Code, w.Body.String())
	}
}

// TestWAFAnswersBehindAServer: under a real server, refusing an answer
// past the inspected bytes aborts the proxy's copy; the client still
// gets the 502, and a benign long answer streams whole.
func TestWAFAnswersBehindAServer(t *testing.T) {
	e := newEnv(t, withWAF(&catalog.WAF{InspectResponse: true}, nil))
	srv := httptest.NewServer(e.gw)
	t.Cleanup(srv.Close)
	tok := e.token(t, "jwt", "list_items")
	pad := strings.Repeat("box-large, select the best; ", 5000)
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"benign, long", `{"items":"` + pad + `"}`, 200},
		{"leak first, long", leakingAnswers[0].body[:len(leakingAnswers[0].body)-1] + `,"pad":"` + pad + `"}`, 502},
		{"leak, short", leakingAnswers[0].body, 502},
	} {
		t.Run(c.name, func(t *testing.T) {
			answerWith(e, 200, "application/json", c.body)
			r, err := http.NewRequest("GET", srv.URL+"/warehouse/items/42", nil)
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set("Authorization", "Bearer "+tok)
			res, err := srv.Client().Do(r)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			if c.status == 200 && string(b) != c.body {
				t.Errorf("body: %d bytes, want the upstream's %d", len(b), len(c.body))
			}
			if c.status == 502 && (strings.Contains(string(b), "SQL") || res.Header.Get("Content-Type") != "application/problem+json") {
				t.Errorf("refusal: %s %q", res.Header.Get("Content-Type"), b)
			}
		})
	}
}
