package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z: a later date is no plausible
// token time and would overflow time arithmetic.
const maxNumericDate = 253402300799

// Claims are the claims of a verified token. A Claims is the verifier's
// own copy: handlers may read it concurrently but should not modify it.
type Claims struct {
	// Issuer is iss, equal to Config.Issuer.
	Issuer string
	// Subject is sub: the user, or the client for a token it obtained
	// for itself.
	Subject string
	// Audience is aud, always a list (RFC 7519 §4.1.3 allows one
	// string); it contains Config.Audience.
	Audience []string
	// ExpiresAt is exp; IssuedAt iat and NotBefore nbf, zero when absent.
	ExpiresAt time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	// ClientID is client_id (RFC 9068 §2.2): the client the token was
	// issued to.
	ClientID string
	// Scopes is the scope claim split on spaces (RFC 9068 §2.2.3).
	Scopes []string
	// JTI is jti, the token's identifier.
	JTI string
	// Type is the token's typ header, as sent.
	Type string
	// Act is the act claim (RFC 8693 §4.1): who is acting for the
	// subject, outermost (current) actor first; nil when the token was
	// not obtained by delegation. See ActorChain.
	Act *Actor
	// Confirmation is the cnf claim (RFC 7800): the key or certificate
	// the token is bound to; zero when it is not bound.
	Confirmation Confirmation
	// Raw holds every claim, registered or not, as decoded JSON: objects
	// are map[string]any, arrays []any and numbers json.Number. The
	// typed getters (String, Strings, Int64, Bool, Time, Object) read it.
	Raw map[string]any
}

// parseClaims decodes a verified payload. A registered claim of the wrong
// JSON type makes the token malformed rather than being ignored: a
// verifier that skipped a malformed aud would accept any audience.
// Errors never quote claim values.
func parseClaims(payload []byte) (*Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, fmt.Errorf("%w: claims are not a json object", ErrMalformed)
	}
	// RFC 7159 §2: one JSON text, nothing after it.
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the claims", ErrMalformed)
	}
	c := &Claims{Raw: raw}
	var err error
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"client_id", &c.ClientID}, {"jti", &c.JTI},
	} {
		if *s.dst, err = registeredString(raw, s.name); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{
		{"exp", &c.ExpiresAt}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore},
	} {
		if *d.dst, err = registeredDate(raw, d.name); err != nil {
			return nil, err
		}
	}
	if c.Audience, err = audienceOf(raw); err != nil {
		return nil, err
	}
	scope, err := registeredString(raw, "scope")
	if err != nil {
		return nil, err
	}
	// RFC 6749 §3.3: scope is a list of space-delimited tokens.
	c.Scopes = strings.FieldsFunc(scope, func(r rune) bool { return r == ' ' })
	if c.Act, err = actorOf(raw, "act", 0); err != nil {
		return nil, err
	}
	if c.Confirmation, err = confirmationOf(raw); err != nil {
		return nil, err
	}
	return c, nil
}

// registeredString reads a claim that must be a string when present.
func registeredString(m map[string]any, name string) (string, error) {
	v, ok := m[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: claim %s is not a string", ErrMalformed, name)
	}
	return s, nil
}

// registeredDate reads an RFC 7519 §2 NumericDate; absent gives the zero
// time.
func registeredDate(m map[string]any, name string) (time.Time, error) {
	v, ok := m[name]
	if !ok {
		return time.Time{}, nil
	}
	t, ok := numericDate(v)
	if !ok {
		return time.Time{}, fmt.Errorf("%w: claim %s is not a valid date", ErrMalformed, name)
	}
	return t, nil
}

// numericDate converts a decoded NumericDate: seconds since the epoch,
// possibly with a fraction, within (0, maxNumericDate].
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		if i <= 0 || i > maxNumericDate {
			return time.Time{}, false
		}
		return time.Unix(i, 0), true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || !(f > 0 && f <= maxNumericDate) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// audienceOf reads aud: one string or an array of strings (RFC 7519
// §4.1.3).
func audienceOf(m map[string]any) ([]string, error) {
	v, ok := m["aud"]
	if !ok {
		return nil, nil
	}
	out, ok := stringList(v)
	if !ok {
		return nil, fmt.Errorf("%w: claim aud is not a string or an array of strings", ErrMalformed)
	}
	return out, nil
}

// stringList reads a string or an array of strings.
func stringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return []string{v}, true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// HasScope reports whether the token carries scope.
func (c *Claims) HasScope(scope string) bool {
	for _, s := range c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// RequireScopes returns nil when the token carries every one of scopes,
// and otherwise an *InsufficientScopeError naming those it lacks.
func (c *Claims) RequireScopes(scopes ...string) error {
	var missing []string
	for _, s := range scopes {
		if !c.HasScope(s) {
			missing = append(missing, s)
		}
	}
	if missing != nil {
		return &InsufficientScopeError{Missing: missing}
	}
	return nil
}

// String returns the claim name when it is a string.
func (c *Claims) String(name string) (string, bool) {
	s, ok := c.Raw[name].(string)
	return s, ok
}

// Strings returns the claim name when it is an array of strings, or a
// single string (as aud may be).
func (c *Claims) Strings(name string) ([]string, bool) {
	v, ok := c.Raw[name]
	if !ok {
		return nil, false
	}
	return stringList(v)
}

// Int64 returns the claim name when it is an integer that fits in an
// int64.
func (c *Claims) Int64(name string) (int64, bool) {
	n, ok := c.Raw[name].(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// Bool returns the claim name when it is a boolean.
func (c *Claims) Bool(name string) (bool, bool) {
	b, ok := c.Raw[name].(bool)
	return b, ok
}

// Time returns the claim name when it is a NumericDate (RFC 7519 §2),
// such as auth_time.
func (c *Claims) Time(name string) (time.Time, bool) {
	v, ok := c.Raw[name]
	if !ok {
		return time.Time{}, false
	}
	return numericDate(v)
}

// Object returns the claim name when it is a JSON object. The map is the
// claims' own: do not modify it.
func (c *Claims) Object(name string) (map[string]any, bool) {
	m, ok := c.Raw[name].(map[string]any)
	return m, ok
}
