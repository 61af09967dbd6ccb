package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// ExchangeRule is one token exchange rule (RFC 8693) as configured: which
// clients may exchange a token for which audiences, with which scopes, and
// on what condition. A request no rule matches is refused: the exchange
// policy denies by default.
type ExchangeRule struct {
	// Name identifies the rule in logs and errors.
	Name string
	// Clients are the ids of the clients the rule lets exchange tokens.
	// It must not be empty: a rule for "any client" would let every
	// client reach every audience the rule names.
	Clients []string
	// Audiences are the targets (RFC 8693 §2.1 audience and resource
	// values) the rule allows; every requested target must be one of them.
	Audiences []string
	// Scopes are the scopes a token issued under the rule may carry (on
	// top of the subject token's own, which always bound the result).
	Scopes []string
	// Condition is a CEL expression that must be true; empty means true.
	// Variables: client (id), subject and actor (sub, iss, client_id,
	// scopes, claims) and request (audiences, scopes, time).
	Condition string
	// Impersonation issues the token without a new act claim when no
	// actor_token is given (RFC 8693 §1.1); false (the default) records
	// the client as the actor (delegation).
	Impersonation bool
}

// ExchangeCompileError is a bad exchange rule condition: Rule is the
// rule's index, Err the position and message inside the expression.
type ExchangeCompileError struct {
	Rule int
	Name string
	Err  *CompileError
}

// Error reads "policy: exchange rule N (NAME): condition LINE:COLUMN: message".
func (e *ExchangeCompileError) Error() string {
	return fmt.Sprintf("policy: exchange rule %d (%s): condition %d:%d: %s",
		e.Rule, e.Name, e.Err.Line, e.Err.Column, e.Err.Msg)
}

// Unwrap returns the position and message.
func (e *ExchangeCompileError) Unwrap() error { return e.Err }

// Exchange is a compiled, immutable token exchange policy, safe for
// concurrent use. A nil *Exchange allows nothing.
type Exchange struct {
	rules []exchangeRule
}

type exchangeRule struct {
	name          string
	clients       []string
	audiences     []string
	scopes        []string
	prg           cel.Program // nil: no condition
	impersonation bool
}

// CompileExchange type-checks and compiles every rule; the first bad
// condition gives an *ExchangeCompileError.
func CompileExchange(rules []ExchangeRule) (*Exchange, error) {
	p := &Exchange{rules: make([]exchangeRule, 0, len(rules))}
	var env *cel.Env
	for i, r := range rules {
		if len(r.Clients) == 0 {
			return nil, fmt.Errorf("policy: exchange rule %d (%s): no clients", i, r.Name)
		}
		if len(r.Audiences) == 0 {
			return nil, fmt.Errorf("policy: exchange rule %d (%s): no audiences", i, r.Name)
		}
		cr := exchangeRule{
			name:          r.Name,
			clients:       slices.Clone(r.Clients),
			audiences:     slices.Clone(r.Audiences),
			scopes:        slices.Clone(r.Scopes),
			impersonation: r.Impersonation,
		}
		if strings.TrimSpace(r.Condition) != "" {
			if env == nil {
				var err error
				if env, err = newExchangeEnv(); err != nil {
					return nil, fmt.Errorf("policy: cel environment: %w", err)
				}
			}
			prg, err := compileExchangeCondition(env, r.Condition)
			if err != nil {
				var ce *CompileError
				if errors.As(err, &ce) {
					return nil, &ExchangeCompileError{Rule: i, Name: r.Name, Err: ce}
				}
				return nil, err
			}
			cr.prg = prg
		}
		p.rules = append(p.rules, cr)
	}
	return p, nil
}

// CheckExchangeCondition compiles one exchange rule condition on its own,
// for configuration validation; errors are *CompileError.
func CheckExchangeCondition(expr string) error {
	env, err := newExchangeEnv()
	if err != nil {
		return fmt.Errorf("policy: cel environment: %w", err)
	}
	_, err = compileExchangeCondition(env, expr)
	return err
}

func compileExchangeCondition(env *cel.Env, expr string) (cel.Program, error) {
	// The scope argument only labels issuance errors; exchange errors
	// are labelled by ExchangeCompileError.
	checked, err := checkCondition(env, "", expr, map[string]netip.Prefix{})
	if err != nil {
		return nil, err
	}
	prg, err := env.Program(checked, cel.CostLimit(costLimit), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, positioned("", common.NoLocation, fmt.Sprintf("plan: %v", err))
	}
	return prg, nil
}

// Party is the subject or the actor of a token exchange: the identity
// claims of its token, its scopes and all its claims.
type Party struct {
	Sub      string
	Issuer   string
	ClientID string
	Scopes   []string
	Claims   map[string]any
}

// ExchangeInput is what an exchange decision may look at. Every field
// comes from an authenticated client or a verified token, except the
// requested audiences and scopes, which are what is being decided.
type ExchangeInput struct {
	ClientID string
	Subject  Party
	// Actor is the party that will act: the actor token's subject, or the
	// client itself (Sub and ClientID the client's id) when there is none.
	Actor     Party
	Audiences []string
	Scopes    []string
	Time      time.Time
}

// ExchangeDecision is the outcome of an exchange decision.
type ExchangeDecision struct {
	// Allowed is true when at least one rule matched.
	Allowed bool
	// Scopes are the scopes the matching rules allow, each once, in rule
	// order; the caller still intersects them with the subject token's.
	Scopes []string
	// Impersonation is true only when every matching rule allows it.
	Impersonation bool
	// Rules are the names of the matching rules, for the log.
	Rules []string
}

// Decide runs every rule against in. A rule matches when it names the
// client, allows every requested audience and its condition is true; a
// condition that fails to evaluate does not match. No rule, no exchange.
func (p *Exchange) Decide(in ExchangeInput) ExchangeDecision {
	var d ExchangeDecision
	if p == nil || len(in.Audiences) == 0 {
		return d
	}
	var act *exchangeActivation
	d.Impersonation = true
	for _, r := range p.rules {
		if !slices.Contains(r.clients, in.ClientID) {
			continue
		}
		if !allIn(in.Audiences, r.audiences) {
			continue
		}
		if r.prg != nil {
			if act == nil {
				act = newExchangeActivation(in)
			}
			out, _, err := r.prg.Eval(act)
			if err != nil {
				continue
			}
			if b, ok := out.(types.Bool); !ok || !bool(b) {
				continue
			}
		}
		d.Allowed = true
		d.Rules = append(d.Rules, r.name)
		d.Impersonation = d.Impersonation && r.impersonation
		for _, sc := range r.scopes {
			if !slices.Contains(d.Scopes, sc) {
				d.Scopes = append(d.Scopes, sc)
			}
		}
	}
	if !d.Allowed {
		d.Impersonation = false
	}
	return d
}

func allIn(want, allowed []string) bool {
	for _, w := range want {
		if !slices.Contains(allowed, w) {
			return false
		}
	}
	return true
}

// newExchangeEnv is the CEL environment of exchange conditions. Its
// variables are declared object types, so subject.scope (for scopes) is a
// compile error rather than a silent denial; claims are dyn, as in
// gateway request rules.
func newExchangeEnv() (*cel.Env, error) {
	return cel.NewEnv(
		func(env *cel.Env) (*cel.Env, error) {
			return cel.CustomTypeProvider(provider{Provider: env.CELTypeProvider(), objects: exchangeFields})(env)
		},
		cel.Variable("client", exchangeClientType),
		cel.Variable("subject", partyType),
		cel.Variable("actor", partyType),
		cel.Variable("request", exchangeRequestType),
		ext.Strings(),
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprSize),
		cel.ParserRecursionLimit(maxRecursion),
	)
}
