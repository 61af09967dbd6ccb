package token

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
)

// maxNumericDate is 9999-12-31T23:59:59Z: later dates are not plausible
// token times and would overflow time arithmetic.
const maxNumericDate = 253402300799

// parseClaims decodes a verified payload into Claims. A registered claim
// of the wrong JSON type makes the token malformed rather than being
// silently ignored. Error messages never quote claim values.
func parseClaims(payload []byte) (*Claims, error) {
	var raw map[string]any
	if err := json.Unmarshal(payload, &raw); err != nil || raw == nil {
		return nil, fmt.Errorf("%w: claims are not a json object", ErrMalformed)
	}
	c := &Claims{Raw: raw}
	var err error
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"iss", &c.Issuer}, {"sub", &c.Subject}, {"client_id", &c.ClientID}, {"jti", &c.JTI},
	} {
		if *s.dst, err = stringClaim(raw, s.name); err != nil {
			return nil, err
		}
	}
	for _, d := range []struct {
		name string
		dst  *time.Time
	}{
		{"exp", &c.ExpiresAt}, {"iat", &c.IssuedAt}, {"nbf", &c.NotBefore},
	} {
		if *d.dst, err = numericDate(raw, d.name); err != nil {
			return nil, err
		}
	}
	if c.Audience, err = audienceClaim(raw); err != nil {
		return nil, err
	}
	scope, err := stringClaim(raw, "scope")
	if err != nil {
		return nil, err
	}
	// RFC 9068 §2.2.3 and RFC 6749 §3.3: scope is space-delimited.
	c.Scopes = strings.FieldsFunc(scope, func(r rune) bool { return r == ' ' })
	return c, nil
}

func stringClaim(raw map[string]any, name string) (string, error) {
	v, ok := raw[name]
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: claim %s is not a string", ErrMalformed, name)
	}
	return s, nil
}

// numericDate reads an RFC 7519 §2 NumericDate; absent gives the zero
// time.
func numericDate(raw map[string]any, name string) (time.Time, error) {
	v, ok := raw[name]
	if !ok {
		return time.Time{}, nil
	}
	f, ok := v.(float64)
	if !ok || f <= 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: claim %s is not a valid date", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// audienceClaim reads aud, which RFC 7519 §4.1.3 allows as one string or
// an array of strings.
func audienceClaim(raw map[string]any) ([]string, error) {
	switch v := raw["aud"].(type) {
	case nil:
		if _, present := raw["aud"]; present {
			break
		}
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for _, a := range v {
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("%w: claim aud holds a non-string", ErrMalformed)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: claim aud is not a string or an array", ErrMalformed)
}
