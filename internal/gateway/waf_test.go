package gateway

import (
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
