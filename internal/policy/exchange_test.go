package policy

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestExchangeDecide(t *testing.T) {
	p, err := CompileExchange([]ExchangeRule{
		{
			Name: "orders-to-inventory", Clients: []string{"orders"},
			Audiences: []string{"https://inventory.example"}, Scopes: []string{"list_items"},
			Condition: `subject.scopes.exists(s, s == "list_items") && request.audiences.size() == 1`,
		},
		{
			Name: "orders-to-billing", Clients: []string{"orders"},
			Audiences: []string{"https://billing.example"}, Scopes: []string{"bill"},
			Condition: `actor.sub == "orders" && subject.claims.office == "head"`, Impersonation: true,
		},
		{
			Name: "support-impersonates", Clients: []string{"support"},
			Audiences: []string{"https://billing.example"}, Scopes: []string{"bill", "refund"},
			Impersonation: true,
		},
		{
			Name: "support-audit", Clients: []string{"support"},
			Audiences: []string{"https://billing.example"}, Scopes: []string{"audit"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	subject := Party{Sub: "alice", Scopes: []string{"list_items"}, Claims: map[string]any{"office": "head"}}
	tests := []struct {
		name string
		in   ExchangeInput
		want ExchangeDecision
	}{
		{"matching rule", ExchangeInput{ClientID: "orders", Subject: subject, Actor: Party{Sub: "orders"},
			Audiences: []string{"https://inventory.example"}},
			ExchangeDecision{Allowed: true, Scopes: []string{"list_items"}, Rules: []string{"orders-to-inventory"}}},
		{"unknown client", ExchangeInput{ClientID: "billing", Subject: subject,
			Audiences: []string{"https://inventory.example"}}, ExchangeDecision{}},
		{"audience not allowed", ExchangeInput{ClientID: "orders", Subject: subject,
			Audiences: []string{"https://payroll.example"}}, ExchangeDecision{}},
		{"one audience of two not allowed", ExchangeInput{ClientID: "orders", Subject: subject,
			Audiences: []string{"https://inventory.example", "https://billing.example"}}, ExchangeDecision{}},
		{"no audience", ExchangeInput{ClientID: "orders", Subject: subject}, ExchangeDecision{}},
		{"condition false", ExchangeInput{ClientID: "orders", Subject: Party{Sub: "bob"},
			Audiences: []string{"https://inventory.example"}}, ExchangeDecision{}},
		{"condition on claims", ExchangeInput{ClientID: "orders", Subject: subject, Actor: Party{Sub: "orders"},
			Audiences: []string{"https://billing.example"}},
			ExchangeDecision{Allowed: true, Scopes: []string{"bill"}, Impersonation: true, Rules: []string{"orders-to-billing"}}},
		{"missing claim denies", ExchangeInput{ClientID: "orders", Subject: Party{Sub: "alice"}, Actor: Party{Sub: "orders"},
			Audiences: []string{"https://billing.example"}}, ExchangeDecision{}},
		{"delegation wins over impersonation", ExchangeInput{ClientID: "support", Subject: subject,
			Audiences: []string{"https://billing.example"}},
			ExchangeDecision{Allowed: true, Scopes: []string{"bill", "refund", "audit"},
				Rules: []string{"support-impersonates", "support-audit"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.Time = time.Unix(1700000000, 0)
			got := p.Decide(tt.in)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decide() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExchangeNilDeniesEverything(t *testing.T) {
	var p *Exchange
	got := p.Decide(ExchangeInput{ClientID: "orders", Audiences: []string{"https://inventory.example"}})
	if got.Allowed {
		t.Errorf("nil policy: Allowed = true, want false")
	}
	empty, err := CompileExchange(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Decide(ExchangeInput{ClientID: "orders", Audiences: []string{"x"}}); got.Allowed {
		t.Errorf("no rules: Allowed = true, want false (default deny)")
	}
}

func TestCompileExchangeErrors(t *testing.T) {
	tests := []struct {
		name     string
		rule     ExchangeRule
		wantLine int
		wantCol  int
	}{
		{"misspelled field", ExchangeRule{Name: "r", Clients: []string{"a"}, Audiences: []string{"x"},
			Condition: `subject.scope == "x"`}, 1, 8},
		{"not a bool", ExchangeRule{Name: "r", Clients: []string{"a"}, Audiences: []string{"x"},
			Condition: "\nsubject.sub"}, 2, 1},
		{"unknown variable", ExchangeRule{Name: "r", Clients: []string{"a"}, Audiences: []string{"x"},
			Condition: `user.id == "x"`}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CompileExchange([]ExchangeRule{tt.rule})
			var ce *ExchangeCompileError
			if !errors.As(err, &ce) {
				t.Fatalf("CompileExchange() error = %v, want *ExchangeCompileError", err)
			}
			if ce.Err.Line != tt.wantLine || ce.Err.Column != tt.wantCol {
				t.Errorf("position = %d:%d, want %d:%d (%v)", ce.Err.Line, ce.Err.Column, tt.wantLine, tt.wantCol, err)
			}
		})
	}
	for _, r := range []ExchangeRule{
		{Name: "no clients", Audiences: []string{"x"}},
		{Name: "no audiences", Clients: []string{"a"}},
	} {
		if _, err := CompileExchange([]ExchangeRule{r}); err == nil {
			t.Errorf("CompileExchange(%s) error = nil, want one", r.Name)
		}
	}
}

// FuzzExchangeCondition compiles arbitrary conditions: a bad one must be
// an error, never a panic.
func FuzzExchangeCondition(f *testing.F) {
	for _, s := range []string{
		`subject.scopes.exists(s, s == "a")`,
		`actor.claims.level >= 3`,
		`request.audiences.all(a, a.startsWith("https://"))`,
		`client.id == "x" && subject.claims["may_act"] != null`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := CompileExchange([]ExchangeRule{{Name: "f", Clients: []string{"c"}, Audiences: []string{"a"}, Condition: expr}})
		if err != nil {
			return
		}
		_ = p.Decide(ExchangeInput{ClientID: "c", Audiences: []string{"a"}, Subject: Party{Claims: map[string]any{"level": 3.0}}})
	})
}
