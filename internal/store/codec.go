package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrInvalid means an argument cannot be stored as given (an empty key, a
// missing expiry, a time out of range, text that is not UTF-8). Nothing
// was written.
var ErrInvalid = errors.New("store: invalid input")

// Times are stored in both dialects as a 64-bit integer of Unix nanoseconds
// (UTC), and the zero time.Time as NULL. Nanoseconds keep a round trip
// exact (PostgreSQL's timestamptz would cut to microseconds), NULL keeps
// "never" apart from the Unix epoch and lets single-use checks read
// "used_at IS NULL". The price is the range: UnixNano is only defined for
// the years 1678 to 2262, so times outside it are refused with ErrInvalid
// rather than silently wrapped.
var (
	minTime = time.Unix(0, -1<<63+1).UTC()
	maxTime = time.Unix(0, 1<<63-1).UTC()
)

// opError prefixes an error with the operation that failed, keeping one
// "store:" prefix even when the cause is one of our sentinels.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string {
	return "store: " + e.op + ": " + strings.TrimPrefix(e.err.Error(), "store: ")
}

func (e *opError) Unwrap() error { return e.err }

// opErr wraps err with op; callers still match the sentinel with errors.Is.
func opErr(op string, err error) error {
	if err == nil {
		return nil
	}
	return &opError{op: op, err: err}
}

// invalid builds an ErrInvalid naming the field, never its value: values
// may be digests or secrets.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)
}

// timeArg encodes t as a query argument: NULL for the zero time.
func timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// checkTime refuses times UnixNano cannot represent.
func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return invalid("%s is outside the years 1678 to 2262", field)
	}
	return nil
}

// checkRequiredTime is checkTime for a column that must hold a time, such as
// an expiry: a record that never expires would never be purged.
func checkRequiredTime(field string, t time.Time) error {
	if t.IsZero() {
		return invalid("%s is zero", field)
	}
	return checkTime(field, t)
}

// checkText refuses strings that one of the dialects would mangle or
// reject: PostgreSQL text cannot hold NUL or invalid UTF-8, and JSON
// encoding would replace invalid UTF-8 with U+FFFD. Refusing them in both
// dialects keeps the two stores interchangeable.
func checkText(field, s string) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return invalid("%s is not valid UTF-8 text", field)
	}
	return nil
}

// checkList applies checkText to every element.
func checkList(field string, l []string) error {
	for _, s := range l {
		if err := checkText(field, s); err != nil {
			return err
		}
	}
	return nil
}

// checkRequired refuses an empty key.
func checkRequired(field, s string) error {
	if s == "" {
		return invalid("%s is empty", field)
	}
	return checkText(field, s)
}

// checkDigest refuses an empty digest (a caller that forgot to hash).
func checkDigest(field string, d []byte) error {
	if len(d) == 0 {
		return invalid("%s is empty", field)
	}
	return nil
}

// listArg encodes a list as a JSON array, nil as NULL, so nil and empty
// lists both round-trip as they were.
func listArg(l []string) any {
	if l == nil {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		// Unreachable: a []string always marshals.
		panic(err)
	}
	return string(b)
}

// mapArg encodes a map as a JSON object, nil as NULL.
func mapArg(m map[string]string) any {
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		// Unreachable: a map[string]string always marshals.
		panic(err)
	}
	return string(b)
}

// bytesArg keeps a nil slice NULL and an empty one an empty blob.
func bytesArg(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// timeCol scans a nullable integer of Unix nanoseconds into a time.Time in
// UTC. A struct holding a single pointer converts to an interface without
// allocating, which matters on the GetToken path.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.Unix(0, v).UTC()
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	return nil
}

// jsonCol scans a nullable JSON text column into *T; NULL leaves the zero
// value (a nil slice or map).
type jsonCol[T any] struct{ v *T }

func (c jsonCol[T]) Scan(src any) error {
	var zero T
	*c.v = zero
	switch v := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(v), c.v)
	case []byte:
		return json.Unmarshal(v, c.v)
	default:
		return fmt.Errorf("json column holds %T", src)
	}
}

// bytesCol scans a nullable blob, keeping NULL as nil and an empty blob as
// an empty, non-nil slice (drivers differ on what they hand back for it).
type bytesCol struct {
	b *[]byte
}

func (c bytesCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.b = nil
	case []byte:
		*c.b = append(make([]byte, 0, len(v)), v...)
	case string:
		*c.b = append(make([]byte, 0, len(v)), v...)
	default:
		return fmt.Errorf("blob column holds %T", src)
	}
	return nil
}

// validKey reports whether every s could be a stored key. A lookup by a
// key no record can have (NUL, invalid UTF-8, which PostgreSQL would
// reject with a driver error) is answered ErrNotFound in both dialects.
func validKey(keys ...string) bool {
	for _, s := range keys {
		if checkText("key", s) != nil {
			return false
		}
	}
	return true
}
