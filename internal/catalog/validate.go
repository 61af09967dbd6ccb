package catalog

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/policy"
)

// FieldError is one problem of a snapshot: the field it is in and what is
// wrong. Messages never hold a secret: values are quoted only from fields
// that cannot carry one, and URLs are never echoed.
type FieldError struct {
	// Field is the dotted path of the field, as Fields places it
	// ("apis[0].base_path", "ratelimit.plans.gold[1].rate").
	Field string
	// Msg says what is wrong, in lower case.
	Msg string
	// Err is the underlying error, if any: a *policy.CompileError for a
	// policy or condition that does not compile (its Line and Column are
	// within the expression).
	Err error
}

// Error reads "FIELD: message".
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Fields says where a snapshot's parts are written, so that errors name
// fields as their author sees them. The configuration file puts the
// settings, issuers and APIs under "gateway" and the plans and abuse
// rules under "ratelimit".
type Fields struct {
	// Gateway prefixes the settings, issuers and APIs; empty means none
	// ("apis[0].name").
	Gateway string
	// RateLimit prefixes plans, client plans and abuse rules; empty means
	// none.
	RateLimit string
	// Within names what limit names are unique across, for its message.
	// Empty means "the catalog".
	Within string
}

// Validate checks every field of s, with the paths of s's own YAML shape
// (RateLimit under "ratelimit"): every problem is reported, one
// *FieldError each, joined with errors.Join. Call ApplyDefaults first:
// zero values a default would fill are refused.
func (s *Snapshot) Validate() error {
	errs := s.Problems(Fields{RateLimit: "ratelimit"})
	if len(errs) == 0 {
		return nil
	}
	joined := make([]error, len(errs))
	for i, e := range errs {
		joined[i] = e
	}
	return errors.Join(joined...)
}

// Problems checks every field of s and returns each problem found, in
// the order of the fields, named as f places them; nil when there are
// none. Policies and conditions are compiled, so a bad one is found here
// with its position rather than when a gateway builds its table.
func (s *Snapshot) Problems(f Fields) []*FieldError {
	v := &validator{s: s, f: f}
	if v.f.Within == "" {
		v.f.Within = "the catalog"
	}
	v.gateway()
	v.rateLimit()
	return v.errs
}

// validator collects the problems of one Problems call.
type validator struct {
	s    *Snapshot
	f    Fields
	errs []*FieldError
	// names maps each limit name rateLimit met to the field that
	// declares it (see LimitNames).
	names map[string]string
}

// gw names a field of the gateway part; rl one of the rate-limit part.
func (v *validator) gw(field string) string { return joinField(v.f.Gateway, field) }
func (v *validator) rl(field string) string { return joinField(v.f.RateLimit, field) }

func joinField(prefix, field string) string {
	if prefix == "" {
		return field
	}
	return prefix + "." + field
}

func (v *validator) add(field, msg string, err error) {
	v.errs = append(v.errs, &FieldError{Field: field, Msg: msg, Err: err})
}

func (v *validator) duration(field string, d Duration, b duration.Bounds) {
	if msg := b.Check(d); msg != "" {
		v.add(field, msg, nil)
	}
}

func (v *validator) oneOf(field, value string, allowed []string) {
	if !contains(allowed, value) {
		v.add(field, fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", ")), nil)
	}
}

// errRuleCompiler stands in for a panic of the policy compiler: the
// snapshot is refused rather than the process brought down (on a reload
// that would stop a server that is serving).
var errRuleCompiler = errors.New("the policy compiler failed on this expression")

// requestRule compiles a policy or condition, so that a bad one is
// refused with its position.
func (v *validator) requestRule(field, expr string, loc *time.Location) {
	if expr == "" {
		return
	}
	err := compileRequestRule(expr, loc)
	if err == nil {
		return
	}
	var ce *policy.CompileError
	if errors.As(err, &ce) {
		v.add(field, fmt.Sprintf("line %d, column %d: %s", ce.Line, ce.Column, ce.Msg), ce)
		return
	}
	v.add(field, err.Error(), err)
}

// compileRequestRule calls the policy compiler, turning a panic into
// errRuleCompiler.
func compileRequestRule(expr string, loc *time.Location) (err error) {
	defer func() {
		if recover() != nil {
			err = errRuleCompiler
		}
	}()
	_, err = policy.CompileRequestRule(expr, loc)
	return err
}

// timeZone checks a time zone field and returns the zone it names (UTC
// when it is bad, so the rules that read it are still checked).
func (v *validator) timeZone(field, tz string) *time.Location {
	switch tz {
	case "":
		return time.UTC
	case "Local":
		v.add(field, "must be an IANA zone name such as Europe/Berlin: Local would change with the host", nil)
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		v.add(field, fmt.Sprintf("%q is not an IANA time zone name such as Europe/Berlin or UTC", tz), nil)
		return time.UTC
	}
	return loc
}

var (
	// knownMethods are the methods an operation or a CORS policy may name
	// (RFC 9110 §9, RFC 5789). CONNECT and TRACE are never proxied.
	knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
	// apiName is the syntax of API names and versions: they become metric
	// labels, log fields and the realm of challenges.
	apiName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	// wildcardName is the syntax of a {name} in an operation path.
	wildcardName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// limitName is the syntax of limit, plan and abuse rule names: they
	// go in RateLimit headers (as sf-strings), metric labels and counter
	// keys as they are.
	limitName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
)

// limitNameMsg says what a limit, plan or rule name must look like.
const limitNameMsg = "1 to 64 of a-z, 0-9, _ and -, starting with a letter or digit"

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// isHTTPToken reports an RFC 9110 §5.6.2 token (the syntax of header
// names and methods).
func isHTTPToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// envName is the syntax of an environment variable name (POSIX).
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsEnvName reports whether s is a POSIX environment variable name, the
// one rule for every *_env field of the configuration.
func IsEnvName(s string) bool { return envName.MatchString(s) }
