package config

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

// errNegative rejects a negative duration: no lifetime or interval can be.
var errNegative = errors.New("must not be negative")

// parseDuration parses a YAML duration: Go's syntax ("90s", "1h30m"), or
// 0 on its own.
func parseDuration(s string) (Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, such as 90s, 15m or 1h30m", s)
	}
	if d < 0 {
		return 0, errNegative
	}
	return Duration(d), nil
}

// UnmarshalYAML reads a duration from a scalar such as "15m".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &nodeError{line: n.Line, column: n.Column, msg: "must be a duration such as 15m"}
	}
	v, err := parseDuration(n.Value)
	if err != nil {
		return &nodeError{line: n.Line, column: n.Column, msg: err.Error()}
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

// nodeError is a decoding error at a known place in the file; Parse turns
// it into a *FieldError naming the field there.
type nodeError struct {
	line, column int
	msg          string
}

func (e *nodeError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }
