package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Redacted replaces the value of a sensitive field.
const Redacted = "[redacted]"

// sensitiveWords mark a field as sensitive wherever they appear in its
// name, compared in lower case with '_', '-' and '.' removed: client
// secrets and their digests, password hashes, tokens and what else holds a
// credential.
var sensitiveWords = []string{
	"secret", "password", "passwd", "passphrase", "token", "credential",
	"apikey", "privatekey", "sealed", "cookie", "authorization",
}

// safeFields are field names (normalised as above) that contain a
// sensitive word but hold no secret, so the trail keeps them.
var safeFields = map[string]bool{
	"accesstokenformat":       true,
	"accesstokenttl":          true,
	"refreshtokenttl":         true,
	"idtokenttl":              true,
	"tokenendpointauthmethod": true,
	"secretkeyid":             true, // the id of the master key, not a key
	"haspassword":             true,
	"hassecret":               true,
}

// Sensitive reports whether a field of that name is redacted.
func Sensitive(name string) bool {
	n := strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(name))
	if safeFields[n] {
		return false
	}
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// Redact returns the canonical JSON of state with the value of every
// sensitive field (see Sensitive), at any depth, replaced by Redacted. An
// empty value (null, "", [] or {}) is kept, so the trail still shows
// whether a secret was set. Empty input or null is returned as nil.
func Redact(state json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(state)) == 0 {
		return nil, nil
	}
	// Canonical first: it refuses duplicate keys, which decoding into a
	// map would silently merge, and fractions.
	c, err := Canonicalize(state)
	if err != nil {
		return nil, err
	}
	if string(c) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(c))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("audit: redact: %w", err)
	}
	raw, err := json.Marshal(redact(v))
	if err != nil {
		return nil, fmt.Errorf("audit: redact: %w", err)
	}
	return Canonicalize(raw)
}

func redact(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if Sensitive(k) && !empty(x) {
				v[k] = Redacted
				continue
			}
			v[k] = redact(x)
		}
	case []any:
		for i, x := range v {
			v[i] = redact(x)
		}
	}
	return v
}

func empty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}
