package catalog

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/duration"
	"github.com/portcullis/portcullis/internal/httpsig"
)

// Modes of RequestSignatures.
const (
	RequestSignaturesRequire = "require"
	RequestSignaturesOff     = "off"
)

var requestSignatureModes = []string{RequestSignaturesRequire, RequestSignaturesOff}

// RequestSignatures requires an API's calls to carry an HTTP Message
// Signature (RFC 9421) made with a key the calling client registered
// (a JWK with use "sig", or none, in the client's JWK Set), so that a
// stolen token alone cannot make a call, and the method, target, token
// and body the client sent are the ones the upstream gets. On an API,
// it applies to every operation that takes a token (a public one has
// no client to check); on an operation, its fields replace the API's one
// by one (Mode "off" turns checking off there).
type RequestSignatures struct {
	// Mode is "require" (a call without a valid signature is refused
	// with 401) or "off" (nothing is checked; for an operation of an
	// API that requires signatures). Empty means the API's mode, or
	// require.
	Mode string `yaml:"mode"`
	// Components must all be covered by the signature: derived
	// components (@method, @target-uri, @authority, @scheme, @path,
	// @query, @query-param;name="x") and lower-case field names of the
	// request. content-digest is required of a request with content
	// whether it is listed or not, and then checked against the body
	// (RFC 9530). Empty means the API's, or
	// DefaultRequestSignatureComponents().
	Components []string `yaml:"components"`
	// MaxAge is how long ago the signature's created time may be. Zero
	// means the API's, or 60s (httpsig.DefaultMaxAge).
	MaxAge Duration `yaml:"max_age"`
	// ClockSkew is how far ahead of the gateway's clock created may be.
	// Zero means the API's, or 5s (httpsig.DefaultClockSkew).
	ClockSkew Duration `yaml:"clock_skew"`
	// Label picks the signature by its label in Signature-Input. Empty
	// means the API's, or the only signature the request carries.
	Label string `yaml:"label"`
}

var defaultRequestSignatureComponents = []string{"@method", "@target-uri", "authorization", "content-digest"}

// DefaultRequestSignatureComponents returns what empty Components mean,
// as a new slice: the method and the target URI (so a signature cannot
// be replayed on another operation or resource), Authorization (so it
// binds the token: a token without the client's key is useless), and
// content-digest (for a request with content).
func DefaultRequestSignatureComponents() []string {
	return slices.Clone(defaultRequestSignatureComponents)
}

// Bounds of the durations.
var (
	maxAgeBounds    = duration.Bounds{Min: time.Second, Max: time.Hour, Why: " (a captured request can be replayed this long)"}
	clockSkewBounds = duration.Bounds{Min: time.Second, Max: 5 * time.Minute}
)

// RequestSignaturesFor is what op (nil for one imported from an OpenAPI
// document, which has no settings of its own) requires: the API's
// settings with the operation's non-zero fields in their place and every
// default filled in; nil when nothing is checked.
func (a *API) RequestSignaturesFor(op *Operation) *RequestSignatures {
	var eff RequestSignatures
	set := false
	for _, s := range []*RequestSignatures{a.RequestSignatures, opSignatures(op)} {
		if s == nil {
			continue
		}
		set = true
		if s.Mode != "" {
			eff.Mode = s.Mode
		}
		if len(s.Components) > 0 {
			eff.Components = s.Components
		}
		if s.MaxAge != 0 {
			eff.MaxAge = s.MaxAge
		}
		if s.ClockSkew != 0 {
			eff.ClockSkew = s.ClockSkew
		}
		if s.Label != "" {
			eff.Label = s.Label
		}
	}
	if !set || eff.Mode == RequestSignaturesOff {
		return nil
	}
	eff.Mode = RequestSignaturesRequire
	if len(eff.Components) == 0 {
		eff.Components = defaultRequestSignatureComponents
	}
	eff.Components = slices.Clone(eff.Components)
	if eff.MaxAge == 0 {
		eff.MaxAge = Duration(httpsig.DefaultMaxAge)
	}
	if eff.ClockSkew == 0 {
		eff.ClockSkew = Duration(httpsig.DefaultClockSkew)
	}
	return &eff
}

func opSignatures(op *Operation) *RequestSignatures {
	if op == nil {
		return nil
	}
	return op.RequestSignatures
}

func (s *RequestSignatures) clone() *RequestSignatures {
	if s == nil {
		return nil
	}
	c := *s
	c.Components = slices.Clone(s.Components)
	return &c
}

// requestSignatures checks the API's request signatures and its
// operations' (field f is the API's). A public operation has no token,
// hence no client whose key could verify a signature: the API's
// settings pass it by, and its own cannot require one.
func (v *validator) requestSignatures(f string, a *API) {
	v.requestSignaturesBlock(f+".request_signatures", a.RequestSignatures)
	if a.Public && a.RequestSignaturesFor(nil) != nil {
		v.add(f+".request_signatures", "the API is public: its calls carry no token, so there is no client whose key could verify a signature", nil)
	}
	for j := range a.Operations {
		op := &a.Operations[j]
		of := fmt.Sprintf("%s.operations[%d].request_signatures", f, j)
		v.requestSignaturesBlock(of, op.RequestSignatures)
		if op.Public && !a.Public && op.RequestSignatures != nil && a.RequestSignaturesFor(op) != nil {
			v.add(of, "a public operation is called without a token, so there is no client whose key could verify a signature", nil)
		}
	}
}

// requestSignaturesBlock checks one request_signatures block at field f.
func (v *validator) requestSignaturesBlock(f string, s *RequestSignatures) {
	if s == nil {
		return
	}
	if s.Mode != "" {
		v.oneOf(f+".mode", s.Mode, requestSignatureModes)
	}
	if s.Mode == RequestSignaturesOff && (len(s.Components) > 0 || s.MaxAge != 0 || s.ClockSkew != 0 || s.Label != "") {
		v.add(f+".mode", "turns request signatures off: components, max_age, clock_skew and label would do nothing", nil)
	}
	v.requestComponents(f+".components", s.Components)
	if s.MaxAge != 0 {
		v.duration(f+".max_age", s.MaxAge, maxAgeBounds)
	}
	if s.ClockSkew != 0 {
		v.duration(f+".clock_skew", s.ClockSkew, clockSkewBounds)
	}
	if s.Label != "" && httpsig.CheckLabel(s.Label) != nil {
		v.add(f+".label", fmt.Sprintf("%q is not a signature label: lower-case letters, digits, _ - . *, starting with a letter or *", s.Label), nil)
	}
}

// requestComponents checks the components a request's signature must
// cover: those of the request itself, computable by the gateway.
func (v *validator) requestComponents(f string, list []string) {
	seen := map[string]bool{}
	for k, s := range list {
		cf := fmt.Sprintf("%s[%d]", f, k)
		c, err := httpsig.ParseComponent(s)
		switch {
		case err != nil:
			v.add(cf, fmt.Sprintf("%q: %s", s, strings.TrimPrefix(err.Error(), "httpsig: bad component: ")), nil)
			continue
		case c.Req || c.Name == httpsig.Status:
			// RFC 9421 §2.4: req and @status belong to responses.
			v.add(cf, fmt.Sprintf("%q is a response's component: a request's signature covers the request itself (drop ;req)", s), nil)
			continue
		case c.Name == "host":
			// Go moves Host out of the header map; @authority is the
			// normalized host (RFC 9421 §2.2.3).
			v.add(cf, `"host": cover @authority instead`, nil)
			continue
		case c.Name == "signature" || c.Name == "signature-input":
			v.add(cf, fmt.Sprintf("%q: a signature cannot cover its own fields", s), nil)
			continue
		}
		if id := c.String(); seen[id] {
			v.add(cf, fmt.Sprintf("%q is listed twice", s), nil)
		} else {
			seen[id] = true
		}
	}
}
