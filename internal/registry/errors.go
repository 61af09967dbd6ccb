package registry

import (
	"errors"
	"strconv"
)

// Errors of the registry services, for callers that map them to their own
// answers (an exit status, an HTTP status): test with errors.Is. The
// messages name the object ("no client \"x\"").
var (
	// ErrNotFound: no client or user of that id or name.
	ErrNotFound = errors.New("not found")
	// ErrExists: a client or user of that id or name exists already.
	ErrExists = errors.New("already exists")
)

// objectError names the object an ErrNotFound or ErrExists is about.
type objectError struct {
	kind, name string // "client", its id
	err        error  // ErrNotFound or ErrExists
}

func notFound(kind, name string) error { return &objectError{kind, name, ErrNotFound} }
func exists(kind, name string) error   { return &objectError{kind, name, ErrExists} }

// Error reads "no client \"x\"" or "client \"x\" already exists".
func (e *objectError) Error() string {
	if e.err == ErrNotFound {
		return "no " + e.kind + " " + strconv.Quote(e.name)
	}
	return e.kind + " " + strconv.Quote(e.name) + " " + e.err.Error()
}

// Unwrap makes errors.Is see ErrNotFound or ErrExists.
func (e *objectError) Unwrap() error { return e.err }
