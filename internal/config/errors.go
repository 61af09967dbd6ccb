package config

import (
	"fmt"
	"strings"
)

// FieldError is one problem with the configuration. Its text is
// "FILE:LINE: FIELD: message"; parts that are unknown are left out (a
// config built in code has no file or line, a YAML syntax error has no
// field). Load, Parse and Validate join several with errors.Join, one per
// line; errors.As finds each.
type FieldError struct {
	// File is the file name given to Load or Parse; empty for a config
	// built in code.
	File string
	// Line is the 1-based line in File; 0 when unknown.
	Line int
	// Field is the dotted path of the field, such as tokens.access_ttl or
	// policy.roles.warehouse_admin[1]; empty for errors about the file as
	// a whole.
	Field string
	// Msg says what is wrong. It never holds a secret: values are quoted
	// only from fields that cannot carry one.
	Msg string
	// Err is the underlying error, if any (a *policy.CompileError for a
	// bad condition).
	Err error
}

// Error reads "FILE:LINE: FIELD: message", leaving out the unknown parts.
func (e *FieldError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		fmt.Fprintf(&b, "%s: ", e.File)
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }
