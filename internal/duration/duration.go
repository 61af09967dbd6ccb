// Package duration is the YAML duration type shared by the configuration
// and the catalog: a time.Duration written as "15m" or "1h30m", never
// negative, with the bounds check both apply to their fields.
//
// It only parses and formats; what a duration means is its owner's
// business. It never reads files or the environment.
package duration

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a time.Duration written as "15m", "1h30m" in YAML.
type Duration time.Duration

var (
	_ yaml.Unmarshaler = (*Duration)(nil)
	_ yaml.Marshaler   = Duration(0)
)

// ErrNegative rejects a negative duration: no lifetime or interval can be.
var ErrNegative = errors.New("must not be negative")

// Parse reads a YAML duration: Go's syntax ("90s", "1h30m"), or 0 on its
// own. A negative one is ErrNegative.
func Parse(s string) (Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, such as 90s, 15m or 1h30m", s)
	}
	if d < 0 {
		return 0, ErrNegative
	}
	return Duration(d), nil
}

// NodeError is a duration that does not decode, at a known place in the
// YAML text, so a reader with line numbers (the configuration) can name
// the field there.
type NodeError struct {
	// Line and Column are 1-based, as yaml.Node has them.
	Line, Column int
	// Msg says what is wrong.
	Msg string
}

// Error reads "line N: message".
func (e *NodeError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// MsgNotScalar is the message for a duration written as a mapping or
// list.
const MsgNotScalar = "must be a duration such as 15m"

// UnmarshalYAML reads a duration from a scalar such as "15m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &NodeError{Line: n.Line, Column: n.Column, Msg: MsgNotScalar}
	}
	v, err := Parse(n.Value)
	if err != nil {
		return &NodeError{Line: n.Line, Column: n.Column, Msg: err.Error()}
	}
	*d = v
	return nil
}

// MarshalYAML writes the duration the way it is read back.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// String formats d like time.Duration without the zero units it appends
// ("15m", not "15m0s").
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// Bounds are the limits of one duration field.
type Bounds struct {
	Min, Max time.Duration
	// Why is appended to the message of a value over Max, such as
	// " (RFC 6749 §4.1.2)"; it starts with a space.
	Why string
}

// Check says what is wrong with d under b, or "" when nothing is.
func (b Bounds) Check(d Duration) string {
	switch v := time.Duration(d); {
	case v < 0:
		return ErrNegative.Error()
	case v < b.Min:
		return fmt.Sprintf("%s is too short: at least %s", d, Duration(b.Min))
	case v > b.Max:
		return fmt.Sprintf("%s is too long: at most %s%s", d, Duration(b.Max), b.Why)
	}
	return ""
}
