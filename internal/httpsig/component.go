package httpsig

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dunglas/httpsfv"
)

// Derived component names (RFC 9421 §2.2) this package computes.
const (
	Method     = "@method"
	TargetURI  = "@target-uri"
	Authority  = "@authority"
	Scheme     = "@scheme"
	Path       = "@path"
	Query      = "@query"
	QueryParam = "@query-param"
	Status     = "@status"
)

// derived says, for each supported derived component, whether it is
// read from a request (true) or a response (false).
var derived = map[string]bool{
	Method: true, TargetURI: true, Authority: true, Scheme: true,
	Path: true, Query: true, QueryParam: true, Status: false,
}

// ErrComponent is wrapped by every refusal of a component identifier or
// of a value that cannot go into a signature base.
var ErrComponent = errors.New("httpsig: bad component")

// Component is one covered component identifier (RFC 9421 §2): a derived
// component ("@status") or a lower-case field name ("content-type"),
// with the req flag (§2.4: read from the request a response answers) and,
// for @query-param only, the parameter's name (§2.2.8).
type Component struct {
	Name string
	Req  bool
	// QueryName is the name parameter of @query-param; empty otherwise.
	QueryName string
	// id is the identifier as received (its parameters in their order);
	// empty for a component built here, serialized in the default order.
	id string
}

// ParseComponent reads a component identifier as configuration writes
// it: the name unquoted, then its parameters ("@method;req",
// "content-type", `@query-param;name="Pet"`). Only the parameters req
// and name (for @query-param) are understood.
func ParseComponent(s string) (Component, error) {
	name, params, _ := strings.Cut(s, ";")
	q, err := httpsfv.Marshal(httpsfv.NewItem(name))
	if err != nil {
		return Component{}, fmt.Errorf("%w: the name is not printable ASCII", ErrComponent)
	}
	if params != "" {
		q += ";" + params
	}
	it, err := httpsfv.UnmarshalItem([]string{q})
	if err != nil {
		return Component{}, fmt.Errorf("%w: parameters are not structured-field parameters", ErrComponent)
	}
	c, err := componentFromItem(it)
	if err != nil {
		return Component{}, err
	}
	c.id = ""
	return c, nil
}

// componentFromItem checks an identifier parsed from a Signature-Input.
func componentFromItem(it httpsfv.Item) (Component, error) {
	name, ok := it.Value.(string)
	if !ok {
		return Component{}, fmt.Errorf("%w: an identifier is a string", ErrComponent)
	}
	c := Component{Name: name}
	for _, k := range it.Params.Names() {
		v, _ := it.Params.Get(k)
		switch k {
		case "req":
			b, ok := v.(bool)
			if !ok {
				return Component{}, fmt.Errorf("%w: req is a boolean", ErrComponent)
			}
			c.Req = b
		case "name":
			s, ok := v.(string)
			if !ok || name != QueryParam {
				return Component{}, fmt.Errorf("%w: name is a string parameter of @query-param only", ErrComponent)
			}
			c.QueryName = s
		default:
			// sf, key, bs and tr change how a value is read; refused
			// rather than ignored (RFC 9421 §2.5: an unknown parameter
			// is an error).
			return Component{}, fmt.Errorf("%w: parameter %q is not supported", ErrComponent, k)
		}
	}
	if err := c.check(); err != nil {
		return Component{}, err
	}
	id, err := httpsfv.Marshal(it)
	if err != nil {
		return Component{}, fmt.Errorf("%w: %v", ErrComponent, err)
	}
	c.id = id
	return c, nil
}

func (c Component) check() error {
	if strings.HasPrefix(c.Name, "@") {
		if _, ok := derived[c.Name]; !ok {
			return fmt.Errorf("%w: unknown derived component %q", ErrComponent, c.Name)
		}
		if c.Name == QueryParam && c.QueryName == "" {
			return fmt.Errorf("%w: @query-param needs a name parameter", ErrComponent)
		}
		return nil
	}
	if c.Name == "" {
		return fmt.Errorf("%w: empty name", ErrComponent)
	}
	// RFC 9421 §2.1: a field's component name is its lower-cased
	// field name (a token, RFC 9110 §5.1).
	for i := 0; i < len(c.Name); i++ {
		if !isTokenChar(c.Name[i]) || 'A' <= c.Name[i] && c.Name[i] <= 'Z' {
			return fmt.Errorf("%w: %q is not a lower-case field name", ErrComponent, c.Name)
		}
	}
	return nil
}

func isTokenChar(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
}

// item returns the identifier as a structured-field String with its
// parameters: name before req, as the RFC's examples write them.
func (c Component) item() httpsfv.Item {
	it := httpsfv.NewItem(c.Name)
	if c.QueryName != "" {
		it.Params.Add("name", c.QueryName)
	}
	if c.Req {
		it.Params.Add("req", true)
	}
	return it
}

// String is the identifier as serialized in a signature base and in
// Signature-Input (`"@method";req`); "" for one that cannot be (a name
// with non-ASCII bytes).
func (c Component) String() string {
	if c.id != "" {
		return c.id
	}
	s, err := httpsfv.Marshal(c.item())
	if err != nil {
		return ""
	}
	return s
}

// Request is the request a signature covers, or the one a signed
// response answers.
type Request struct {
	Method string
	// TargetURI is absolute: scheme://authority/path?query (RFC 9110
	// §7.1), as the client addressed it.
	TargetURI string
	Header    http.Header
}

// Message is the message a signature covers: a request (Status zero), or
// a response with the request it answers (for the req parameter).
type Message struct {
	// Status is a response's status code; zero for a request.
	Status int
	// Header is the message's own fields: the request's for a request.
	Header http.Header
	// Request is the request itself (for a request message) or the one
	// the response answers; nil for a response that covers no request
	// component.
	Request *Request
}

// value computes c's canonical value in m (RFC 9421 §2.1, §2.2, §2.4);
// a value with control characters is refused.
func (m *Message) value(c Component) (string, error) {
	isResponse := m.Status != 0
	if c.Req && !isResponse {
		return "", fmt.Errorf("%w: req in a request signature (RFC 9421 §2.4)", ErrComponent)
	}
	if !strings.HasPrefix(c.Name, "@") {
		h := m.Header
		if c.Req {
			if m.Request == nil {
				return "", fmt.Errorf("%w: %s: no request", ErrComponent, c.String())
			}
			h = m.Request.Header
		}
		return fieldValue(h, c)
	}
	if c.Name == Status {
		if !isResponse || c.Req {
			return "", fmt.Errorf("%w: @status is a response's", ErrComponent)
		}
		if m.Status < 100 || m.Status > 999 {
			return "", fmt.Errorf("%w: status %d is not three digits", ErrComponent, m.Status)
		}
		return strconv.Itoa(m.Status), nil
	}
	// A request component: of the message itself when it is a request,
	// of its request with req (only).
	if isResponse && !c.Req {
		return "", fmt.Errorf("%w: %s needs req in a response signature", ErrComponent, c.Name)
	}
	r := m.Request
	if r == nil {
		return "", fmt.Errorf("%w: %s: no request", ErrComponent, c.String())
	}
	v, err := r.derive(c)
	if err != nil {
		return "", err
	}
	// RFC 9421 §2.5: derived-component-value = *( VCHAR / SP ).
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return "", fmt.Errorf("%w: %s has a byte that is not VCHAR or SP", ErrComponent, c.Name)
		}
	}
	return v, nil
}

func (r *Request) derive(c Component) (string, error) {
	switch c.Name {
	case Method:
		if r.Method == "" {
			return "GET", nil
		}
		return r.Method, nil
	case TargetURI:
		return r.TargetURI, nil
	}
	u, err := url.Parse(r.TargetURI)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return "", fmt.Errorf("%w: the target URI is not absolute", ErrComponent)
	}
	switch c.Name {
	case Scheme:
		return strings.ToLower(u.Scheme), nil
	case Authority:
		return authority(u), nil
	case Path:
		// RFC 9421 §2.2.6: an empty path is "/".
		if p := u.EscapedPath(); p != "" {
			return p, nil
		}
		return "/", nil
	case Query:
		// RFC 9421 §2.2.7: "?" and the query, "?" alone when empty.
		return "?" + u.RawQuery, nil
	default: // QueryParam
		return queryParam(u.RawQuery, c.QueryName)
	}
}

// authority is the host, lower case, with the port unless it is the
// scheme's default (RFC 9421 §2.2.3, RFC 9110 §4.2.3).
func authority(u *url.URL) string {
	host := strings.ToLower(u.Host)
	port := u.Port()
	switch {
	case port == "":
	case port == "80" && strings.EqualFold(u.Scheme, "http"),
		port == "443" && strings.EqualFold(u.Scheme, "https"):
		host = host[:len(host)-len(port)-1]
	}
	return host
}

// queryParam is the value of the one query parameter called name,
// decoded as a form and percent-encoded again (RFC 9421 §2.2.8). A name
// that is absent or repeated is an error: a repeated one would need a
// line per value, and the gateway never signs it.
func queryParam(raw, name string) (string, error) {
	var val string
	found := false
	for part := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(part, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return "", fmt.Errorf("%w: the query is not form-encoded", ErrComponent)
		}
		if dk != name {
			continue
		}
		if found {
			return "", fmt.Errorf("%w: query parameter %q is repeated", ErrComponent, name)
		}
		found, val = true, dv
	}
	if !found {
		return "", fmt.Errorf("%w: no query parameter %q", ErrComponent, name)
	}
	return percentEncode(val), nil
}

// percentEncode encodes everything but the characters the URL
// standard's application/x-www-form-urlencoded set leaves alone, a space
// as %20.
func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// fieldValue is a field's canonical value (RFC 9421 §2.1): every field
// line's value, trimmed, joined with ", ". An absent field is an error;
// so is a value holding CR, LF or another control byte (HTAB aside),
// which could forge a line of the base.
func fieldValue(h http.Header, c Component) (string, error) {
	vs := h.Values(c.Name)
	if vs == nil {
		return "", fmt.Errorf("%w: field %q is absent", ErrComponent, c.Name)
	}
	var v string
	if len(vs) == 1 {
		v = strings.Trim(vs[0], " \t")
	} else {
		t := make([]string, len(vs))
		for i, s := range vs {
			t[i] = strings.Trim(s, " \t")
		}
		v = strings.Join(t, ", ")
	}
	for i := 0; i < len(v); i++ {
		if b := v[i]; b < 0x20 && b != '\t' || b == 0x7f {
			return "", fmt.Errorf("%w: field %q has a control character", ErrComponent, c.Name)
		}
	}
	return v, nil
}

// CheckResponse says whether c can be covered by a response's
// signature: request components only with req (RFC 9421 §2.4), @status
// never with it.
func (c Component) CheckResponse() error {
	if !strings.HasPrefix(c.Name, "@") {
		return nil
	}
	if c.Name == Status {
		if c.Req {
			return fmt.Errorf("%w: @status is the response's: drop ;req", ErrComponent)
		}
		return nil
	}
	if !c.Req {
		return fmt.Errorf("%w: %s is a request component: write %s;req", ErrComponent, c.Name, c.Name)
	}
	return nil
}

// CheckLabel says whether label can name a signature: a structured-field
// dictionary key (RFC 8941 §3.1.2: lower case letters, digits, _ - . *,
// starting with a letter or *).
func CheckLabel(label string) error {
	d := httpsfv.NewDictionary()
	d.Add(label, httpsfv.NewItem(true))
	if _, err := httpsfv.Marshal(d); err != nil || label == "" {
		return fmt.Errorf("%w: %q is not a label: lower-case letters, digits, _ - . *, starting with a letter", ErrSignatureFields, label)
	}
	return nil
}
