package clientauth

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/internal/printable"
	"github.com/portcullis/portcullis/internal/store"
)

// jwtBearerType is the client_assertion_type of a JWT client assertion
// (RFC 7523 §2.2).
const jwtBearerType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Form parameters that carry client credentials.
const (
	paramClientID      = "client_id"
	paramClientSecret  = "client_secret"
	paramAssertion     = "client_assertion"
	paramAssertionType = "client_assertion_type"
)

// credentials is what a request presented, before any of it is checked
// against the store.
type credentials struct {
	// method is the store.Auth* constant the request used, or "" when it
	// does not identify a client at all.
	method    string
	clientID  string
	secret    string
	assertion string
	// basic is true when the request carried an Authorization: Basic
	// header, however malformed.
	basic bool
}

// readCredentials works out which single method the request used and
// extracts its inputs, refusing ambiguous or oversized requests before any
// store lookup.
func readCredentials(r *http.Request) (credentials, error) {
	var in credentials
	authz := r.Header.Values("Authorization")
	for _, h := range authz {
		in.basic = in.basic || isBasic(h)
	}
	bad := func(code, desc string, cause error) error {
		return &Error{Code: code, Description: desc, Basic: in.basic, Cause: cause}
	}
	if len(authz) > 1 {
		return in, bad(CodeInvalidRequest, descRepeated, errors.New("more than one authorization header"))
	}
	form := r.PostForm
	// RFC 6749 §3.2: parameters must not be repeated. A second client_id
	// could otherwise make two layers disagree about which client this is.
	for _, p := range []string{paramClientID, paramClientSecret, paramAssertion, paramAssertionType} {
		if len(form[p]) > 1 {
			return in, bad(CodeInvalidRequest, descRepeated, errors.New("repeated parameter "+p))
		}
	}
	// RFC 6749 §2.3.1: credentials MUST NOT be in the request URI, where
	// proxies and access logs keep them.
	if r.URL != nil && r.URL.RawQuery != "" {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if q.Has(paramClientSecret) || q.Has(paramAssertion) {
			return in, bad(CodeInvalidRequest, descInQuery, errors.New("credentials in the query string"))
		}
	}

	hasSecret := form.Has(paramClientSecret)
	hasAssertion := form.Has(paramAssertion) || form.Has(paramAssertionType)
	used := 0
	for _, b := range []bool{in.basic, hasSecret, hasAssertion} {
		if b {
			used++
		}
	}
	// RFC 6749 §2.3: the client MUST NOT use more than one method.
	if used > 1 {
		return in, bad(CodeInvalidRequest, descMultiple, errors.New("several authentication methods"))
	}

	formID := form.Get(paramClientID)
	if len(formID) > maxClientIDLen {
		return in, bad(CodeInvalidRequest, descTooLarge, errors.New("client_id too long"))
	}
	switch {
	case in.basic:
		id, secret, err := parseBasic(authz[0])
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return in, bad(CodeInvalidRequest, descTooLarge, err)
			}
			return in, bad(CodeInvalidClient, descFailed, err)
		}
		if formID != "" && formID != id {
			return in, bad(CodeInvalidClient, descFailed, errors.New("client_id parameter differs from the basic credentials"))
		}
		in.method, in.clientID, in.secret = store.AuthSecretBasic, id, secret
	case hasSecret:
		secret := form.Get(paramClientSecret)
		if len(secret) > maxSecretLen {
			return in, bad(CodeInvalidRequest, descTooLarge, errors.New("client_secret too long"))
		}
		in.method, in.clientID, in.secret = store.AuthSecretPost, formID, secret
	case hasAssertion:
		if !form.Has(paramAssertion) || !form.Has(paramAssertionType) {
			return in, bad(CodeInvalidRequest, descAssertionParams, errors.New("incomplete assertion parameters"))
		}
		typ, assertion := form.Get(paramAssertionType), form.Get(paramAssertion)
		if len(typ) > maxAssertionTypeLen || len(assertion) > maxAssertionLen {
			return in, bad(CodeInvalidRequest, descTooLarge, errors.New("client assertion too large"))
		}
		if typ != jwtBearerType {
			return in, bad(CodeInvalidClient, descAssertionType, errors.New("unsupported client_assertion_type"))
		}
		in.method, in.clientID, in.assertion = store.AuthPrivateKeyJWT, formID, assertion
		// A client_id is optional here (RFC 7521 §4.2): iss/sub name the
		// client.
		return in, nil
	case formID != "":
		in.method, in.clientID = store.AuthNone, formID
	default:
		return in, nil
	}
	if !validClientID(in.clientID) {
		return in, bad(CodeInvalidClient, descFailed, errors.New("missing or malformed client id"))
	}
	return in, nil
}

// isBasic reports whether an Authorization header uses the Basic scheme;
// scheme names are case-insensitive (RFC 9110 §11.1).
func isBasic(h string) bool {
	scheme, _, _ := strings.Cut(h, " ")
	return strings.EqualFold(scheme, "Basic")
}

var (
	errTooLarge  = errors.New("basic credentials too large")
	errBadBasic  = errors.New("malformed basic credentials")
	errBadEscape = errors.New("basic credentials are not form-url-encoded")
)

// parseBasic decodes client_secret_basic credentials: base64 of
// client_id ":" client_secret, each form-url-encoded first (RFC 6749
// §2.3.1, Appendix B), so either may hold ':' or non-ASCII characters.
func parseBasic(h string) (id, secret string, err error) {
	_, token, ok := strings.Cut(h, " ")
	if !ok {
		return "", "", errBadBasic
	}
	token = strings.Trim(token, " ")
	if len(token) > maxAuthHeaderLen {
		return "", "", errTooLarge
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		return "", "", errBadBasic
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", errBadBasic
	}
	if id, err = url.QueryUnescape(user); err != nil {
		return "", "", errBadEscape
	}
	if secret, err = url.QueryUnescape(pass); err != nil {
		return "", "", errBadEscape
	}
	if len(id) > maxClientIDLen || len(secret) > maxSecretLen {
		return "", "", errTooLarge
	}
	if id == "" {
		return "", "", errBadBasic
	}
	return id, secret, nil
}

// validClientID refuses ids no registration produces (empty, over-long,
// invalid UTF-8 or control characters) before they reach the store or a
// log line.
func validClientID(id string) bool {
	if id == "" || len(id) > maxClientIDLen || !utf8.ValidString(id) {
		return false
	}
	return !printable.HasControl(id)
}
