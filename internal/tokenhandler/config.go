package tokenhandler

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/loopback"
	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/scope"
)

// Config is the token handler section: one agent per single-page app.
// The zero value configures none.
type Config struct {
	// SPAs lists the apps; names and path prefixes are unique.
	SPAs []SPA `yaml:"spas"`
}

// SPA configures the OAuth agent of one single-page app. Call
// ApplyDefaults, then Validate (or Config's), before New.
type SPA struct {
	// Name identifies the app in cookie names, metrics and logs: lower
	// case letters, digits and "-", at most 32. Required.
	Name string `yaml:"name"`
	// PathPrefix is where the agent's endpoints live on the gateway
	// listener, such as "/bff/warehouse". Required.
	PathPrefix string `yaml:"path_prefix"`
	// AllowedOrigins are the SPA's origins, exactly as browsers send
	// them (scheme://host[:port], no wildcard). Required.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Issuer is the authorization server; its endpoints are discovered.
	// Required.
	Issuer string `yaml:"issuer"`
	// ClientID is the agent's confidential client. Required.
	ClientID string `yaml:"client_id"`
	// ClientSecretEnv names the environment variable holding the client
	// secret; the secret itself never goes in the configuration. Set
	// exactly one of it and ClientSecretFile.
	ClientSecretEnv string `yaml:"client_secret_env"`
	// ClientSecretFile names a file (mode 0600, relative to the
	// configuration's directory) holding the client secret.
	ClientSecretFile string `yaml:"client_secret_file"`
	// RedirectURI is the SPA page the issuer sends the browser back to;
	// it is registered on the client. Required.
	RedirectURI string `yaml:"redirect_uri"`
	// PostLogoutRedirectURI is sent with the end-session URL that
	// logout returns; empty sends none.
	PostLogoutRedirectURI string `yaml:"post_logout_redirect_uri"`
	// Scopes are requested at login; empty means ["openid"]. They must
	// include openid: the session is built on the ID token.
	Scopes []string `yaml:"scopes"`
	// CookiePrefix starts every cookie name. Empty means
	// "__Host-pc-<name>-" (RFC 6265bis §4.1.3.2: Secure, Path=/, no
	// Domain, so a sibling subdomain cannot plant one), or "pc-<name>-"
	// in development mode (see Development).
	CookiePrefix string `yaml:"cookie_prefix"`
	// CookieKeys seal the cookies: the first seals, every one opens, so
	// a new key is rolled out by putting it first and the old one is
	// dropped once the longest cookie lifetime has passed. Required.
	CookieKeys []CookieKey `yaml:"cookie_keys"`
	// APIPaths are the base paths of the gateway APIs whose calls the
	// OAuth proxy authorizes with this app's cookies ("/warehouse").
	// Empty means none.
	APIPaths []string `yaml:"api_paths"`
	// SessionLifetime bounds the refresh, ID token and CSRF cookies,
	// counted from login and not extended by refreshes; zero means 8h.
	SessionLifetime duration.Duration `yaml:"session_lifetime"`
	// AccessCookieLifetime caps the access token cookie (it never
	// outlives the token's own expires_in); zero means 1h.
	AccessCookieLifetime duration.Duration `yaml:"access_cookie_lifetime"`
}

// CookieKey is one key that seals cookies: 32 random bytes, base64
// (standard or URL alphabet, padded or not), from the environment or a
// file only its owner may read (`openssl rand -base64 32`).
type CookieKey struct {
	// ID names the key inside every cookie it seals (1 to 32 letters,
	// digits, ".", "_" or "-"), so rotation finds the key to open with.
	ID string `yaml:"id"`
	// Env names the environment variable holding the key; set exactly
	// one of Env and File.
	Env string `yaml:"env"`
	// File names a file (mode 0600) holding the key.
	File string `yaml:"file"`
}

// Defaults and limits of SPA.
const (
	// DefaultSessionLifetime is SPA.SessionLifetime's zero value: a
	// working day, after which the user logs in again.
	DefaultSessionLifetime = 8 * time.Hour
	// DefaultAccessCookieLifetime is SPA.AccessCookieLifetime's zero
	// value.
	DefaultAccessCookieLifetime = time.Hour
	// LoginLifetime is how long a started login may take: the lifetime
	// of the temporary cookie holding state, nonce and PKCE verifier.
	LoginLifetime = 10 * time.Minute
	// MaxCookieKeys bounds CookieKeys: rotation needs two, a few more
	// cover overlapping roll-outs.
	MaxCookieKeys = 8
)

var (
	sessionBounds = duration.Bounds{Min: 5 * time.Minute, Max: 30 * 24 * time.Hour}
	accessBounds  = duration.Bounds{Min: time.Minute, Max: 24 * time.Hour}
	nameRe        = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	keyIDRe       = regexp.MustCompile(`^[A-Za-z0-9._-]{1,32}$`)
	envNameRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// cookiePrefixRe keeps cookie names within the token of RFC 6265
	// §4.1.1, narrowed to what needs no thought: letters, digits, "_"
	// and "-".
	cookiePrefixRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,60}$`)
)

// ApplyDefaults fills the zero fields of every SPA.
func (c *Config) ApplyDefaults() {
	for i := range c.SPAs {
		c.SPAs[i].ApplyDefaults()
	}
}

// ApplyDefaults fills the zero fields that have a default.
func (s *SPA) ApplyDefaults() {
	if len(s.Scopes) == 0 {
		s.Scopes = []string{"openid"}
	}
	if s.CookiePrefix == "" && s.Name != "" {
		if s.Development() {
			s.CookiePrefix = "pc-" + s.Name + "-"
		} else {
			s.CookiePrefix = "__Host-pc-" + s.Name + "-"
		}
	}
	if s.SessionLifetime == 0 {
		s.SessionLifetime = duration.Duration(DefaultSessionLifetime)
	}
	if s.AccessCookieLifetime == 0 {
		s.AccessCookieLifetime = duration.Duration(DefaultAccessCookieLifetime)
	}
}

// Development reports whether the SPA runs on plain http on a loopback
// host (its redirect URI says so; Validate makes every origin agree).
// Then cookies go without Secure and without the __Host- prefix, which
// browsers would refuse on http: for development on one machine only.
// Plain http anywhere else is refused.
func (s *SPA) Development() bool { return loopback.HTTPURL(s.RedirectURI) }

// FieldError is one problem of the configuration: the field it is in and
// what is wrong. Messages quote only values that cannot hold a secret.
type FieldError struct {
	// Field is the dotted path of the field, such as
	// "spas[0].allowed_origins[1]", after the prefix given to Problems.
	Field string
	// Msg says what is wrong, in lower case.
	Msg string
}

// Error reads "FIELD: message".
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks every SPA and their uniqueness; the error joins one
// *FieldError per problem. Call ApplyDefaults first.
func (c *Config) Validate() error {
	return joinProblems(c.Problems(""))
}

// Problems lists what is wrong, with fields under prefix (such as
// "gateway.token_handler"; empty means none).
func (c *Config) Problems(prefix string) []*FieldError {
	if prefix != "" {
		prefix += "."
	}
	var errs []*FieldError
	for i := range c.SPAs {
		s := &c.SPAs[i]
		f := fmt.Sprintf("%sspas[%d]", prefix, i)
		errs = append(errs, s.Problems(f)...)
		for j := range c.SPAs[:i] {
			o := &c.SPAs[j]
			if s.Name != "" && s.Name == o.Name {
				errs = append(errs, &FieldError{f + ".name", fmt.Sprintf("%q is used by spas[%d] too", s.Name, j)})
			}
			if s.PathPrefix != "" && pathsOverlap(s.PathPrefix, o.PathPrefix) {
				errs = append(errs, &FieldError{f + ".path_prefix", fmt.Sprintf("overlaps the path prefix of spas[%d]", j)})
			}
			for k, p := range s.APIPaths {
				if slices.Contains(o.APIPaths, p) {
					// One API, two cookie sets: the proxy could not
					// tell which session a call belongs to.
					errs = append(errs, &FieldError{fmt.Sprintf("%s.api_paths[%d]", f, k), fmt.Sprintf("is fronted by spas[%d] too", j)})
				}
			}
		}
	}
	return errs
}

// Validate checks one SPA; the error joins one *FieldError per problem.
func (s *SPA) Validate() error { return joinProblems(s.Problems("")) }

// Problems lists what is wrong with s, with fields under f.
func (s *SPA) Problems(f string) []*FieldError {
	v := &validator{}
	if f != "" {
		f += "."
	}
	if !nameRe.MatchString(s.Name) {
		v.add(f+"name", "must be 1 to 32 lower case letters, digits or -, starting with a letter or digit")
	}
	v.path(f+"path_prefix", s.PathPrefix, true)
	dev := s.Development()
	v.redirect(f+"redirect_uri", s.RedirectURI, true)
	if s.PostLogoutRedirectURI != "" {
		v.redirect(f+"post_logout_redirect_uri", s.PostLogoutRedirectURI, dev)
	}
	if len(s.AllowedOrigins) == 0 {
		v.add(f+"allowed_origins", "must list the SPA's origins")
	}
	for k, o := range s.AllowedOrigins {
		of := fmt.Sprintf("%sallowed_origins[%d]", f, k)
		switch {
		case strings.Contains(o, "*"):
			v.add(of, "must be an exact origin: a wildcard would hand the session to every matching site")
		case catalog.OriginProblem(o) != "":
			v.add(of, fmt.Sprintf("%q %s", o, catalog.OriginProblem(o)))
		case slices.Contains(s.AllowedOrigins[:k], o):
			v.add(of, fmt.Sprintf("%q is listed twice", o))
		case strings.HasPrefix(o, "http:") && !loopback.HTTPURL(o):
			v.add(of, fmt.Sprintf("%q is plain http: use https (plain http only on a loopback host, for development)", o))
		case loopback.HTTPURL(o) != dev:
			v.add(of, "mixes plain http and https with the redirect URI: cookies are Secure only when every origin is https")
		}
	}
	v.issuer(f+"issuer", s.Issuer)
	if s.ClientID == "" || printable.HasControl(s.ClientID) || len(s.ClientID) > 128 {
		v.add(f+"client_id", "must be 1 to 128 printable characters")
	}
	v.source(f+"client_secret", s.ClientSecretEnv, s.ClientSecretFile, "client_secret_env", "client_secret_file")
	if !slices.Contains(s.Scopes, "openid") {
		v.add(f+"scopes", "must include openid: the session is built on the ID token")
	}
	for k, sc := range s.Scopes {
		if !scope.IsToken(sc) {
			v.add(fmt.Sprintf("%sscopes[%d]", f, k), "is not a scope token (RFC 6749 §3.3)")
		}
	}
	v.cookiePrefix(f+"cookie_prefix", s.CookiePrefix, dev)
	v.keys(f+"cookie_keys", s.CookieKeys)
	for k, p := range s.APIPaths {
		pf := fmt.Sprintf("%sapi_paths[%d]", f, k)
		switch {
		case !v.path(pf, p, false):
		case slices.Contains(s.APIPaths[:k], p):
			v.add(pf, "is listed twice")
		case s.PathPrefix != "" && pathsOverlap(p, s.PathPrefix):
			v.add(pf, "overlaps path_prefix: the agent's endpoints are not an API")
		}
	}
	v.duration(f+"session_lifetime", s.SessionLifetime, sessionBounds)
	v.duration(f+"access_cookie_lifetime", s.AccessCookieLifetime, accessBounds)
	return v.errs
}

type validator struct{ errs []*FieldError }

func (v *validator) add(field, msg string) { v.errs = append(v.errs, &FieldError{field, msg}) }

func (v *validator) duration(field string, d duration.Duration, b duration.Bounds) {
	if msg := b.Check(d); msg != "" {
		v.add(field, msg)
	}
}

// path checks a path prefix: absolute, clean, no trailing slash, so that
// prefix matching (pathsOverlap, Handler.Fronts) needs no normalisation.
func (v *validator) path(field, p string, required bool) bool {
	switch {
	case p == "" && !required:
		return true
	case p == "":
		v.add(field, "is required, such as /bff/app")
	case !strings.HasPrefix(p, "/") || p == "/":
		v.add(field, "must start with / and name a path below the root")
	case strings.HasSuffix(p, "/"):
		v.add(field, "must not end with /")
	case strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/.."):
		v.add(field, "must be a clean path: no empty, . or .. segments")
	case strings.ContainsAny(p, "?#%*{} \\") || printable.HasControl(p):
		v.add(field, "must be a literal path: no query, fragment, escapes, wildcards or spaces")
	default:
		return true
	}
	return false
}

// redirect checks an SPA page URL: absolute, no fragment (RFC 6749
// §3.1.2), https or plain http on loopback (RFC 9700 §2.1). URLs are not
// quoted: a query may hold anything.
func (v *validator) redirect(field, raw string, allowHTTP bool) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.add(field, "is required: the SPA page the issuer returns to")
	case err != nil || !u.IsAbs() || u.Host == "" || strings.Contains(raw, "#") || u.User != nil:
		v.add(field, "must be an absolute URL without user information or fragment")
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback.Host(u.Hostname()) && allowHTTP:
	case u.Scheme == "http" && loopback.Host(u.Hostname()):
		v.add(field, "is plain http while the redirect URI is https")
	default:
		v.add(field, "must be https (plain http only on a loopback host, for development)")
	}
}

func (v *validator) issuer(field, raw string) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.add(field, "is required")
	case err != nil || !u.IsAbs() || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		v.add(field, "must be an absolute URL without query, fragment or user information (RFC 8414 §2)")
	case u.Scheme == "https", loopback.HTTPURL(raw):
	default:
		v.add(field, "must be https (plain http only on a loopback host)")
	}
}

// source checks a secret that comes from one of an environment variable
// and a file.
func (v *validator) source(field, env, file, envField, fileField string) {
	switch {
	case env != "" && file != "":
		v.add(field, fmt.Sprintf("set only one of %s and %s", envField, fileField))
	case env == "" && file == "":
		v.add(field, fmt.Sprintf("needs %s or %s to read it from (the secret itself never goes in the configuration)", envField, fileField))
	case env != "" && !envNameRe.MatchString(env):
		v.add(field, "is not an environment variable name: letters, digits and _, not starting with a digit")
	case file != "" && printable.HasControl(file):
		v.add(field, "names a file with control characters")
	}
}

func (v *validator) cookiePrefix(field, p string, dev bool) {
	switch {
	case !cookiePrefixRe.MatchString(p):
		v.add(field, "must be 1 to 60 letters, digits, _ or - (ApplyDefaults sets one from the name)")
	case dev && (strings.HasPrefix(p, "__Host-") || strings.HasPrefix(p, "__Secure-")):
		// RFC 6265bis §4.1.3: browsers refuse these prefixes without
		// Secure, and development mode sends no Secure.
		v.add(field, "must not start with __Host- or __Secure- in development mode (plain http on loopback): browsers would drop the cookies")
	}
}

func (v *validator) keys(field string, keys []CookieKey) {
	if len(keys) == 0 {
		v.add(field, "must list at least one key: the first seals, every one opens")
	}
	if len(keys) > MaxCookieKeys {
		v.add(field, fmt.Sprintf("at most %d keys", MaxCookieKeys))
	}
	for k, key := range keys {
		kf := fmt.Sprintf("%s[%d]", field, k)
		if !keyIDRe.MatchString(key.ID) {
			v.add(kf+".id", "must be 1 to 32 letters, digits, ., _ or -")
		}
		for j := range keys[:k] {
			if keys[j].ID == key.ID {
				v.add(kf+".id", fmt.Sprintf("%q is used by %s[%d] too", key.ID, field, j))
			}
		}
		v.source(kf, key.Env, key.File, "env", "file")
	}
}

// pathsOverlap reports whether one path prefix covers the other.
func pathsOverlap(a, b string) bool { return under(a, b) || under(b, a) }

// under reports whether p is prefix or below it.
func under(p, prefix string) bool {
	rest, ok := strings.CutPrefix(p, prefix)
	return ok && (rest == "" || rest[0] == '/')
}

func joinProblems(ps []*FieldError) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}
