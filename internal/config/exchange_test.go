package config

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/policy"
)

func TestTokenExchangeValid(t *testing.T) {
	c, err := Parse("x.yaml", []byte(`
issuer: https://auth.example.com
token_exchange:
  enabled: true
  max_ttl: 2m
  trusted_issuers:
    - issuer: https://login.partner.example
  rules:
    - name: r1
      clients: [orders]
      audiences: [https://inventory.example.com]
      scopes: [list_items]
      condition: subject.scopes.exists(s, s == "list_items")
`))
	if err != nil {
		t.Fatalf("Parse() error = %v", err)
	}
	if got, want := c.TokenExchange.TTL(), 2*time.Minute; got != want {
		t.Errorf("TTL() = %s, want %s", got, want)
	}
	if got := (TokenExchange{}).TTL(); got != DefaultExchangeMaxTTL {
		t.Errorf("zero TTL() = %s, want %s", got, DefaultExchangeMaxTTL)
	}
	p, err := policy.CompileExchange(c.TokenExchange.PolicyRules())
	if err != nil {
		t.Fatalf("CompileExchange() error = %v", err)
	}
	d := p.Decide(policy.ExchangeInput{ClientID: "orders", Audiences: []string{"https://inventory.example.com"},
		Subject: policy.Party{Scopes: []string{"list_items"}}})
	if !d.Allowed {
		t.Errorf("Decide() = %+v, want allowed", d)
	}
}

func TestTokenExchangeInvalid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"ttl too long", "token_exchange:\n  max_ttl: 2h\n", "x.yaml:3: token_exchange.max_ttl: 2h is too long"},
		{"own issuer", "token_exchange:\n  trusted_issuers:\n    - issuer: https://auth.example.com\n",
			"x.yaml:4: token_exchange.trusted_issuers[0].issuer: is this server's own issuer"},
		{"http issuer", "token_exchange:\n  trusted_issuers:\n    - issuer: http://idp.example\n",
			"x.yaml:4: token_exchange.trusted_issuers[0].issuer: must use https"},
		{"twice", "token_exchange:\n  trusted_issuers:\n    - issuer: https://idp.example\n    - issuer: https://idp.example\n",
			"x.yaml:5: token_exchange.trusted_issuers[1].issuer: is listed twice"},
		{"no clients", "token_exchange:\n  rules:\n    - name: r\n      audiences: [a]\n",
			"x.yaml:4: token_exchange.rules[0].clients: must name at least one client"},
		{"no audiences", "token_exchange:\n  rules:\n    - name: r\n      clients: [a]\n",
			"x.yaml:4: token_exchange.rules[0].audiences: must name at least one audience"},
		{"duplicate name", "token_exchange:\n  rules:\n    - {name: r, clients: [a], audiences: [b]}\n    - {name: r, clients: [a], audiences: [b]}\n",
			"x.yaml:5: token_exchange.rules[1].name: \"r\" is used by an earlier rule"},
		{"bad scope", "token_exchange:\n  rules:\n    - name: r\n      clients: [a]\n      audiences: [b]\n      scopes: [\"a b\"]\n",
			"x.yaml:7: token_exchange.rules[0].scopes[0]"},
		{"bad condition", "token_exchange:\n  rules:\n    - name: r\n      clients: [a]\n      audiences: [b]\n      condition: |\n        subject.sub == \"a\" &&\n        subject.scope == \"b\"\n",
			"x.yaml:9: token_exchange.rules[0].condition: column 8: undefined field 'scope'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.yaml", []byte("issuer: https://auth.example.com\n"+tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestDocsExchangeRulesCompile compiles every expression in the
// ```cel-exchange blocks of the docs (separated by blank lines).
func TestDocsExchangeRulesCompile(t *testing.T) {
	docs, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```cel-exchange\n(.*?)```").FindAllStringSubmatch(string(docs), -1)
	n := 0
	for _, b := range blocks {
		for expr := range strings.SplitSeq(b[1], "\n\n") {
			if strings.TrimSpace(expr) == "" {
				continue
			}
			n++
			if err := policy.CheckExchangeCondition(expr); err != nil {
				t.Errorf("example does not compile: %v\n%s", err, expr)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d exchange rule examples, want at least 3", n)
	}
}
