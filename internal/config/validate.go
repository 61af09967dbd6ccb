package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/policy"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/scope"
)

// The algorithms each kind of token may be signed with. Access tokens
// default to ES256 (small and fast); ID tokens to RS256, the one OpenID
// Connect Core §3.1.3.7 requires every relying party to accept.
var (
	accessAlgs = []string{"ES256", "RS256", "PS256", "EdDSA"}
	idAlgs     = []string{"RS256", "ES256", "PS256", "EdDSA"}
	logFormats = []string{"json", "text"}
	logLevels  = []string{"debug", "info", "warn", "error"}
)

// reservedClaims are the claims Portcullis itself puts in tokens and
// introspection responses (RFC 7519 §4.1, RFC 9068 §2.2, RFC 7662 §2.2,
// OpenID Connect Core §2 and §5.1, RFC 8693 §4, RFC 9449 §6). A user
// attribute copied under one of these names could forge or shadow it.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti",
	"client_id", "scope", "roles", "groups", "entitlements",
	"auth_time", "nonce", "acr", "amr", "azp", "sid",
	"at_hash", "c_hash", "s_hash",
	"cnf", "act", "may_act", "typ",
	"active", "token_type", "username",
}

// Validate checks every field, compiling the policy; the error names the
// field (and the line when the config came from a file).
//
// Every problem is reported, one *FieldError per line (errors.Join). On
// success the compiled policy is kept for Issuance; on failure Issuance
// returns nil.
func (c *Config) Validate() error {
	c.issuance = nil
	// The gateway reads the ratelimit section through its copy.
	c.Gateway.RateLimit = c.RateLimit
	v := &validator{c: c}
	v.issuer()
	v.listen()
	v.nonEmpty("data_dir", c.DataDir)
	v.store()
	v.nonEmpty("master_key_file", c.MasterKeyFile)
	v.duration("tokens.access_ttl", c.Tokens.AccessTTL, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.duration("tokens.refresh_ttl", c.Tokens.RefreshTTL, duration.Bounds{Min: time.Second, Max: 8760 * time.Hour})
	v.duration("tokens.id_token_ttl", c.Tokens.IDTokenTTL, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.duration("tokens.code_ttl", c.Tokens.CodeTTL, duration.Bounds{Min: time.Second, Max: 10 * time.Minute, Why: " (RFC 6749 §4.1.2)"})
	v.duration("tokens.refresh_reuse_grace", c.Tokens.RefreshReuseGrace, duration.Bounds{Max: time.Minute})
	v.defaultAudience()
	v.resources()
	v.oneOf("keys.access_alg", c.Keys.AccessAlg, accessAlgs)
	v.oneOf("keys.id_alg", c.Keys.IDAlg, idAlgs)
	v.duration("keys.reload_interval", c.Keys.ReloadInterval, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.duration("sessions.ttl", c.Sessions.TTL, duration.Bounds{Min: time.Second, Max: 720 * time.Hour})
	v.loginThrottle()
	v.dpop()
	v.clientMTLS()
	v.gatewayClientCerts()
	v.shutdown()
	issuance := v.policy()
	v.oneOf("log.format", c.Log.Format, logFormats)
	v.oneOf("log.level", c.Log.Level, logLevels)
	v.duration("purge_interval", c.PurgeInterval, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
	v.gateway()
	v.rateLimitBackend()
	v.auditStream()
	v.tokenExchange()
	if len(v.errs) > 0 {
		// In file order, so the report reads top to bottom.
		slices.SortStableFunc(v.errs, func(a, b error) int { return lineOf(a) - lineOf(b) })
		return errors.Join(v.errs...)
	}
	c.issuance = issuance
	return nil
}

func lineOf(err error) int {
	if fe, ok := err.(*FieldError); ok {
		return fe.Line
	}
	return 0
}

// validator collects the problems of one Validate call.
type validator struct {
	c    *Config
	errs []error
}

// add records a problem with field, placed at the field's line when the
// config came from a file. A field the file does not set (a required one
// left out) is placed at the nearest enclosing one it does, such as the
// list item of gateway.apis[1] for a missing gateway.apis[1].name.
func (v *validator) add(field, msg string, err error) {
	fe := &FieldError{Field: field, Msg: msg, Err: err}
	if src := v.c.src; src != nil {
		fe.File = src.name
		for f := field; f != ""; f = parentField(f) {
			if p, ok := src.at(f); ok {
				fe.Line = p.line
				break
			}
		}
	}
	v.errs = append(v.errs, fe)
}

// parentField strips the last step of a field path: "a.b[2]" → "a.b",
// "a.b" → "a", "a" → "".
func parentField(field string) string {
	i := strings.LastIndexAny(field, ".[")
	if i < 0 {
		return ""
	}
	return field[:i]
}

func (v *validator) nonEmpty(field, value string) {
	if value == "" {
		v.add(field, "must not be empty", nil)
	}
}

func (v *validator) oneOf(field, value string, allowed []string) {
	if !slices.Contains(allowed, value) {
		v.add(field, fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", ")), nil)
	}
}

func (v *validator) duration(field string, d Duration, b duration.Bounds) {
	if msg := b.Check(d); msg != "" {
		v.add(field, msg, nil)
	}
}

// issuer checks the issuer URL by the catalog's rule for issuers
// (catalog.IssuerURLProblem).
func (v *validator) issuer() {
	c := v.c
	bad := func(msg string) { v.add("issuer", msg, nil) }
	if c.derivedIssuer != "" && c.Issuer == c.derivedIssuer {
		// The file never named an issuer: point at what it came from.
		bad = func(msg string) {
			v.add("issuer", msg+"; it was derived from listen.authz, set issuer to the server's public https URL", nil)
			if p, ok := c.src.at("listen.authz"); ok {
				v.errs[len(v.errs)-1].(*FieldError).Line = p.line
			}
		}
	}
	if c.Issuer == "" {
		bad("must not be empty")
		return
	}
	if msg := catalog.IssuerURLProblem(c.Issuer); msg != "" {
		bad(msg)
	}
}

// defaultAudience checks tokens.default_audience: empty, or an absolute
// URI (RFC 7519 §4.1.3 makes aud a StringOrURI; RFC 8707 §2 asks for an
// absolute URI without a fragment, and a URN such as
// urn:portcullis:api:warehouse is one).
func (v *validator) defaultAudience() {
	if aud := v.c.Tokens.DefaultAudience; aud != "" {
		if msg := resourceProblem(aud); msg != "" {
			v.add("tokens.default_audience", msg, nil)
		}
	}
}

// listen checks the listen addresses: host:port each, and not the same
// one twice (the second listener could not bind).
func (v *validator) listen() {
	l := v.c.Listen
	okAuthz := v.hostPort("listen.authz", l.Authz)
	okAdmin := v.hostPort("listen.admin", l.Admin)
	okGateway := v.hostPort("listen.gateway", l.Gateway)
	same := func(a, b string) bool { return a == b && !strings.HasSuffix(a, ":0") }
	if okAuthz && okAdmin && same(l.Authz, l.Admin) {
		v.add("listen.admin", "is the same address as listen.authz", nil)
	}
	if okGateway && okAuthz && same(l.Gateway, l.Authz) {
		v.add("listen.gateway", "is the same address as listen.authz", nil)
	}
	if okGateway && okAdmin && same(l.Gateway, l.Admin) {
		v.add("listen.gateway", "is the same address as listen.admin", nil)
	}
	if (l.GatewayTLS.CertFile == "") != (l.GatewayTLS.KeyFile == "") {
		v.add("listen.gateway_tls", "cert_file and key_file go together", nil)
	}
	gt := l.GatewayTimeouts
	v.duration("listen.gateway_timeouts.read_header", gt.ReadHeader, duration.Bounds{Min: time.Millisecond, Max: 5 * time.Minute})
	v.duration("listen.gateway_timeouts.read", gt.Read, duration.Bounds{Min: time.Millisecond, Max: 24 * time.Hour})
	if gt.Write != 0 {
		v.duration("listen.gateway_timeouts.write", gt.Write, duration.Bounds{Min: time.Millisecond, Max: 24 * time.Hour})
	}
	v.duration("listen.gateway_timeouts.idle", gt.Idle, duration.Bounds{Min: time.Second, Max: 24 * time.Hour})
}

func (v *validator) hostPort(field, addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(field, fmt.Sprintf("%q is not host:port (such as 127.0.0.1:8080 or :8080)", addr), nil)
		return false
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || port == "" || strconv.FormatUint(n, 10) != port {
		v.add(field, fmt.Sprintf("port %q is not a number from 0 to 65535", port), nil)
		return false
	}
	if strings.ContainsAny(host, " \t/") {
		v.add(field, fmt.Sprintf("host %q is not a host name or IP address", host), nil)
		return false
	}
	return true
}

// store checks the database DSN. Its value is never echoed: a PostgreSQL
// URL can hold a password.
func (v *validator) store() {
	dsn := v.c.Store.DSN
	if dsn == "" {
		v.add("store.dsn", "must not be empty", nil)
		return
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err != nil || u.Host == "" {
			v.add("store.dsn", "is not a valid postgres:// URL", nil)
		}
	}
}

// policy checks the issuance policy and compiles it; nil when it has
// errors.
func (v *validator) policy() *policy.Issuance {
	p := v.c.Policy
	before := len(v.errs)
	for _, role := range slices.Sorted(maps.Keys(p.Roles)) {
		field := "policy.roles." + role
		if role == "" || strings.IndexFunc(role, printable.IsSpaceOrControl) >= 0 {
			v.add(field, fmt.Sprintf("role name %q must be non-empty, without spaces or control characters", role), nil)
		}
		for i, sc := range p.Roles[role] {
			if !scope.IsToken(sc) {
				v.add(fmt.Sprintf("%s[%d]", field, i), catalog.ScopeMsg(sc), nil)
			}
		}
	}
	for _, sc := range slices.Sorted(maps.Keys(p.Scopes)) {
		if !scope.IsToken(sc) {
			v.add("policy.scopes."+sc, catalog.ScopeMsg(sc), nil)
		}
	}
	seen := make(map[string]bool, len(p.ClaimAttributes))
	for i, attr := range p.ClaimAttributes {
		field := fmt.Sprintf("policy.claim_attributes[%d]", i)
		switch {
		case attr == "" || strings.IndexFunc(attr, printable.IsSpaceOrControl) >= 0:
			v.add(field, fmt.Sprintf("attribute name %q must be non-empty, without spaces or control characters", attr), nil)
		case slices.Contains(reservedClaims, attr):
			v.add(field, fmt.Sprintf("%q is a claim Portcullis sets itself; copy the attribute under another name", attr), nil)
		case seen[attr]:
			v.add(field, fmt.Sprintf("%q is listed twice", attr), nil)
		}
		seen[attr] = true
	}
	if len(v.errs) > before {
		return nil
	}
	issuance, err := policy.Compile(p.Spec())
	if err == nil {
		return issuance
	}
	var ce *policy.CompileError
	if !errors.As(err, &ce) {
		v.add("policy", err.Error(), err)
		return nil
	}
	// Compile stops at the first bad condition; check each on its own so
	// the author sees them all at once.
	for _, scope := range slices.Sorted(maps.Keys(p.Scopes)) {
		cond := p.Scopes[scope].Condition
		if cond == "" {
			continue
		}
		if _, err := policy.Compile(policy.Spec{Conditions: map[string]string{scope: cond}}); errors.As(err, &ce) {
			v.conditionError(scope, ce)
		}
	}
	return nil
}

// conditionError places a bad scope condition (see exprError).
func (v *validator) conditionError(scope string, ce *policy.CompileError) {
	v.exprError("policy.scopes."+scope+".condition", ce)
}

// exprError places a CEL compile error of the expression in field: at the
// file line of the expression's line when the config came from a file (a
// block scalar's text starts on the line after its key), with the column
// inside it.
func (v *validator) exprError(field string, ce *policy.CompileError) {
	fe := &FieldError{Field: field, Err: ce, Msg: fmt.Sprintf("line %d, column %d: %s", ce.Line, ce.Column, ce.Msg)}
	if src := v.c.src; src != nil {
		fe.File = src.name
		if p, ok := src.at(field); ok {
			fe.Line = p.line + ce.Line - 1
			if p.block {
				fe.Line++
			}
			fe.Msg = fmt.Sprintf("column %d: %s", ce.Column, ce.Msg)
		}
	}
	v.errs = append(v.errs, fe)
}

// SlogLevel returns Level as a slog.Level; a level Validate would reject
// is info.
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}
