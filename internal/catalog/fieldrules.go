package catalog

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/fieldrules"
	"github.com/portcullis/portcullis/internal/printable"
)

// ResponseRules filter and protect an operation's JSON responses by the
// caller's verified claims (internal/fieldrules): an object-level filter
// keeps only the array elements the caller may see, then field rules
// remove or encrypt members. A response the gateway cannot rewrite (not
// JSON, compressed, larger than MaxBodyBytes) is refused with 502, never
// passed on unfiltered.
type ResponseRules struct {
	// Filter is a CEL bool over element (one element of FilterPath's
	// array, as a map) and claims; elements for which it is not true
	// are dropped. Empty means no filter.
	Filter string `yaml:"filter"`
	// FilterPath selects the elements Filter judges, ending with [*]
	// ($.patients[*]). Required with Filter.
	FilterPath string `yaml:"filter_path"`
	// Fields are applied in order, after the filter. Empty means none.
	Fields []FieldRule `yaml:"fields"`
	// MaxBodyBytes is the largest response rewritten; a larger one is
	// refused. Zero means 1 MiB (fieldrules.DefaultMaxBodyBytes).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// FieldRule removes or encrypts the members a selector names.
type FieldRule struct {
	// Select is a JSONPath subset ($, .name, [*], [N]) ending in a
	// member name: $.patients[*].ssn. Required.
	Select string `yaml:"select"`
	// Action is remove or encrypt. Required.
	Action string `yaml:"action"`
	// When is a CEL bool over claims: the rule acts only when it holds.
	// Empty means always.
	When string `yaml:"when"`
	// Unless is a CEL bool over claims: the rule does not act when it
	// holds. Empty means never exempt. A condition that cannot be
	// evaluated (a claim missing) counts toward acting.
	Unless string `yaml:"unless"`
	// Recipient says whom encrypt encrypts to: api (the API's shared
	// key in KeyEnv, JWE dir with A256GCM) or client (the calling
	// client's registered public key of use "enc", ECDH-ES+A256KW or
	// RSA-OAEP-256 with A256GCM; a client without one gets the field
	// removed). Empty means api. Refused with remove.
	Recipient string `yaml:"recipient"`
	// KeyEnv names the environment variable holding encrypt's key: 32
	// bytes in standard base64 (JWE dir with A256GCM). Required with
	// encrypt to api, refused otherwise.
	KeyEnv string `yaml:"key_env"`
	// KeyID is the kid the JWE protected header carries for KeyEnv's
	// key, so readers can tell keys apart across a rotation. Empty means
	// no kid. Only with encrypt to api.
	KeyID string `yaml:"key_id"`
}

// maxFieldKeyIDLen bounds FieldRule.KeyID: it is copied into every
// encrypted field.
const maxFieldKeyIDLen = 128

// MaxFieldRulesBodyBytes bounds ResponseRules.MaxBodyBytes: the document
// is held decoded in memory while it is rewritten.
const MaxFieldRulesBodyBytes = 16 << 20

func (r *ResponseRules) clone() *ResponseRules {
	if r == nil {
		return nil
	}
	c := *r
	c.Fields = slices.Clone(r.Fields)
	return &c
}

// responseRules checks an operation's response block; of is the
// operation's field.
func (v *validator) responseRules(of string, op *Operation) {
	r := op.Response
	if r == nil {
		return
	}
	f := of + ".response"
	if op.Upgrade != "" {
		v.add(f, "an upgraded connection has no JSON response to filter: remove upgrade or response", nil)
	}
	if r.Filter != "" || r.FilterPath != "" {
		if err := fieldrules.CheckFilterPath(r.FilterPath); err != nil {
			v.add(f+".filter_path", err.Error(), nil)
		}
		if r.Filter == "" {
			v.add(f+".filter", "must be set with filter_path", nil)
		} else {
			v.fieldCondition(f+".filter", fieldrules.CheckFilter(r.Filter))
		}
	}
	if r.MaxBodyBytes < 0 || r.MaxBodyBytes > MaxFieldRulesBodyBytes {
		v.add(f+".max_body_bytes", fmt.Sprintf("must be between 0 (1 MiB) and %d", MaxFieldRulesBodyBytes), nil)
	}
	if r.Filter == "" && r.FilterPath == "" && len(r.Fields) == 0 {
		v.add(f, "sets neither a filter nor fields: remove it, or say what to protect", nil)
	}
	for k, fr := range r.Fields {
		ff := fmt.Sprintf("%s.fields[%d]", f, k)
		if err := fieldrules.CheckFieldSelector(fr.Select); err != nil {
			v.add(ff+".select", err.Error(), nil)
		}
		switch fr.Action {
		case fieldrules.ActionRemove:
			for _, x := range []struct{ name, v string }{{"recipient", fr.Recipient}, {"key_env", fr.KeyEnv}, {"key_id", fr.KeyID}} {
				if x.v != "" {
					v.add(ff+"."+x.name, "is for encrypt only", nil)
				}
			}
		case fieldrules.ActionEncrypt:
			v.encryptRule(ff, fr)
		default:
			v.add(ff+".action", fmt.Sprintf("%q is not remove or encrypt", fr.Action), nil)
		}
		if fr.When != "" {
			v.fieldCondition(ff+".when", fieldrules.CheckCondition(fr.When))
		}
		if fr.Unless != "" {
			v.fieldCondition(ff+".unless", fieldrules.CheckCondition(fr.Unless))
		}
	}
}

// encryptRule checks an encrypt rule's recipient and key.
func (v *validator) encryptRule(ff string, fr FieldRule) {
	switch fr.Recipient {
	case "", fieldrules.RecipientAPI:
		if !envName.MatchString(fr.KeyEnv) {
			v.add(ff+".key_env", "must name the environment variable holding the 32-byte base64 key: letters, digits and _, not starting with a digit", nil)
		}
		if len(fr.KeyID) > maxFieldKeyIDLen || strings.ContainsFunc(fr.KeyID, func(r rune) bool { return r == ' ' || printable.IsControl(r) }) {
			v.add(ff+".key_id", fmt.Sprintf("must be at most %d characters without spaces or control characters", maxFieldKeyIDLen), nil)
		}
	case fieldrules.RecipientClient:
		// The client's registered key and its kid are used; a key of
		// the API's would be a second, silent recipient.
		if fr.KeyEnv != "" {
			v.add(ff+".key_env", "is for recipient api: a field encrypted to the client uses the client's registered key", nil)
		}
		if fr.KeyID != "" {
			v.add(ff+".key_id", "is for recipient api: the JWE carries the client key's own kid", nil)
		}
	default:
		v.add(ff+".recipient", fmt.Sprintf("%q is not api or client", fr.Recipient), nil)
	}
}

// fieldCondition reports a condition's compile error, positioned as the
// request rules' are.
func (v *validator) fieldCondition(field string, err error) {
	if err == nil {
		return
	}
	var ce *fieldrules.CompileError
	if errors.As(err, &ce) {
		v.add(field, fmt.Sprintf("line %d, column %d: %s", ce.Line, ce.Column, ce.Msg), ce)
		return
	}
	v.add(field, err.Error(), err)
}
