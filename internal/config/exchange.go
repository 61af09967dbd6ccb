package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/scope"
)

// TokenExchange configures OAuth 2.0 Token Exchange (RFC 8693) at the
// token endpoint. The zero value is off; on, it denies every exchange no
// rule allows.
type TokenExchange struct {
	// Enabled accepts grant_type
	// urn:ietf:params:oauth:grant-type:token-exchange from clients
	// registered for it, and lists it in discovery. False (the default)
	// refuses it as unsupported.
	Enabled bool `yaml:"enabled"`
	// MaxTTL caps the life of an exchanged token; it is never longer than
	// what is left of the subject (or actor) token either. Zero means 5m.
	MaxTTL Duration `yaml:"max_ttl"`
	// TrustedIssuers are the other issuers whose JWTs may be exchanged.
	// Empty means only Portcullis's own tokens are accepted.
	TrustedIssuers []TrustedIssuer `yaml:"trusted_issuers"`
	// Rules say who may exchange what for which audience. No rule, no
	// exchange (default deny).
	Rules []ExchangeRule `yaml:"rules"`
}

// TrustedIssuer is an external issuer whose JWTs may be subject or actor
// tokens.
type TrustedIssuer struct {
	// Issuer is the iss its tokens carry, exactly; required.
	Issuer string `yaml:"issuer"`
	// JWKSURI is where its keys are. Empty means discovery
	// (/.well-known/openid-configuration under Issuer).
	JWKSURI string `yaml:"jwks_uri"`
	// Audiences: a token's aud must contain one of them. Empty means the
	// token must be addressed to Portcullis's issuer.
	Audiences []string `yaml:"audiences"`
	// Types are the JWT "typ" headers accepted (RFC 8725 §3.11). Empty
	// means at+jwt and JWT.
	Types []string `yaml:"types"`
}

// ExchangeRule is one rule of the exchange policy (policy.ExchangeRule).
type ExchangeRule struct {
	// Name identifies the rule in logs; required and unique.
	Name string `yaml:"name"`
	// Clients are the client ids the rule applies to; required.
	Clients []string `yaml:"clients"`
	// Audiences are the targets (audience or resource values) the rule
	// allows; required.
	Audiences []string `yaml:"audiences"`
	// Scopes are the scopes an exchanged token may carry under the rule,
	// never more than the subject token has. Empty means none.
	Scopes []string `yaml:"scopes"`
	// Condition is a CEL expression over client, subject, actor and
	// request that must hold. Empty means none.
	Condition string `yaml:"condition"`
	// Impersonation issues tokens without a new act claim when no
	// actor_token is sent (RFC 8693 §1.1). False (the default) records
	// the client as the acting party.
	Impersonation bool `yaml:"impersonation"`
}

// DefaultExchangeMaxTTL is the life of an exchanged token when max_ttl is
// zero: long enough for one east-west call chain, short enough that a
// leaked token is soon useless.
const DefaultExchangeMaxTTL = 5 * time.Minute

// TTL returns MaxTTL, or its default when zero.
func (t TokenExchange) TTL() time.Duration {
	if t.MaxTTL == 0 {
		return DefaultExchangeMaxTTL
	}
	return time.Duration(t.MaxTTL)
}

// Policy compiles the rules (Validate has already checked they compile).
func (t TokenExchange) Policy() (*policy.Exchange, error) {
	return policy.CompileExchange(t.PolicyRules())
}

// PolicyRules returns the rules as the policy package compiles them.
func (t TokenExchange) PolicyRules() []policy.ExchangeRule {
	out := make([]policy.ExchangeRule, 0, len(t.Rules))
	for _, r := range t.Rules {
		out = append(out, policy.ExchangeRule{
			Name: r.Name, Clients: r.Clients, Audiences: r.Audiences, Scopes: r.Scopes,
			Condition: r.Condition, Impersonation: r.Impersonation,
		})
	}
	return out
}

// tokenExchange checks the token_exchange section.
func (v *validator) tokenExchange() {
	t := v.c.TokenExchange
	const f = "token_exchange."
	if t.MaxTTL != 0 {
		v.duration(f+"max_ttl", t.MaxTTL, duration.Bounds{Min: time.Second, Max: time.Hour})
	}
	issuer := strings.TrimSuffix(v.c.Issuer, "/")
	var seen []string
	for i, is := range t.TrustedIssuers {
		field := fmt.Sprintf("%strusted_issuers[%d]", f, i)
		switch msg := catalog.IssuerURLProblem(is.Issuer); {
		case is.Issuer == "":
			v.add(field+".issuer", "must not be empty", nil)
		case msg != "":
			v.add(field+".issuer", msg, nil)
		case strings.TrimSuffix(is.Issuer, "/") == issuer:
			v.add(field+".issuer", "is this server's own issuer, whose tokens are always accepted", nil)
		case slices.Contains(seen, is.Issuer):
			v.add(field+".issuer", "is listed twice", nil)
		}
		seen = append(seen, is.Issuer)
		if is.JWKSURI != "" {
			if msg := catalog.IssuerURLProblem(is.JWKSURI); msg != "" {
				v.add(field+".jwks_uri", msg, nil)
			}
		}
		v.plainStrings(field+".audiences", is.Audiences)
		v.plainStrings(field+".types", is.Types)
	}
	var names []string
	for i, r := range t.Rules {
		field := fmt.Sprintf("%srules[%d]", f, i)
		switch {
		case r.Name == "" || strings.IndexFunc(r.Name, printable.IsSpaceOrControl) >= 0:
			v.add(field+".name", fmt.Sprintf("%q must be non-empty, without spaces or control characters", r.Name), nil)
		case slices.Contains(names, r.Name):
			v.add(field+".name", fmt.Sprintf("%q is used by an earlier rule", r.Name), nil)
		}
		names = append(names, r.Name)
		if len(r.Clients) == 0 {
			v.add(field+".clients", "must name at least one client", nil)
		}
		v.plainStrings(field+".clients", r.Clients)
		if len(r.Audiences) == 0 {
			v.add(field+".audiences", "must name at least one audience", nil)
		}
		v.plainStrings(field+".audiences", r.Audiences)
		for j, sc := range r.Scopes {
			if !scope.IsToken(sc) {
				v.add(fmt.Sprintf("%s.scopes[%d]", field, j), catalog.ScopeMsg(sc), nil)
			}
		}
		if strings.TrimSpace(r.Condition) != "" {
			var ce *policy.CompileError
			if err := policy.CheckExchangeCondition(r.Condition); errors.As(err, &ce) {
				v.exprError(field+".condition", ce)
			} else if err != nil {
				v.add(field+".condition", err.Error(), err)
			}
		}
	}
}

// plainStrings checks that each item of a list is non-empty, without
// spaces or control characters, and listed once.
func (v *validator) plainStrings(field string, list []string) {
	for i, s := range list {
		switch {
		case s == "" || strings.IndexFunc(s, printable.IsSpaceOrControl) >= 0:
			v.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q must be non-empty, without spaces or control characters", s), nil)
		case slices.Contains(list[:i], s):
			v.add(fmt.Sprintf("%s[%d]", field, i), fmt.Sprintf("%q is listed twice", s), nil)
		}
	}
}
