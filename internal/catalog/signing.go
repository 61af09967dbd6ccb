package catalog

import (
	"fmt"
	"slices"
	"strings"

	"github.com/portcullis/portcullis/internal/httpsig"
	"github.com/portcullis/portcullis/internal/printable"
)

// ResponseSigning is an API's signing of responses with HTTP Message
// Signatures (RFC 9421): the gateway adds Content-Digest (RFC 9530,
// sha-256), Signature-Input and Signature to every proxied response whose
// body fits in MaxBodyBytes, signed with the first of Keys, and publishes
// every key's public half at ResponseKeysPath.
type ResponseSigning struct {
	// Keys sign responses: the first one signs, the others are only
	// published, so a key is rotated by putting the new one first and
	// keeping the old one listed until clients have refreshed their
	// keys. Required (at least one).
	Keys []SigningKey `yaml:"keys"`
	// Label names the signature in Signature-Input and Signature (a
	// structured-field key: lower case letters, digits, _ - . *). Empty
	// means "portcullis" (DefaultSignatureLabel).
	Label string `yaml:"label"`
	// Components are the covered components, in order: derived ones
	// (@status; request ones with ;req, such as @method;req,
	// @target-uri;req, @authority;req, @path;req, @query;req) and
	// lower-case field names, of the response or, with ;req, of the
	// request. content-digest is required. Empty means
	// DefaultSignedComponents(). A field absent from a response (or
	// its request) is left out of that response's signature.
	Components []string `yaml:"components"`
	// MaxBodyBytes is the largest response body the gateway holds to
	// digest and sign; a larger one, and any server-sent event stream,
	// goes out unsigned. Zero means 1 MiB (DefaultSignedBodyBytes).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

// SigningKey is one response-signing key: an Ed25519 or ECDSA P-256
// private key in a PKCS #8 PEM, read from a file or an environment
// variable. These are the gateway's own keys, never the authorization
// server's token keys.
type SigningKey struct {
	// ID is the keyid parameter of signatures and the kid of the
	// published JWK (printable ASCII, unique). Required.
	ID string `yaml:"id"`
	// Alg is ed25519 or ecdsa-p256-sha256 (RFC 9421 §3.3). Required.
	Alg string `yaml:"alg"`
	// PrivateKeyFile (relative to the file that declared the API) or
	// PrivateKeyEnv holds the PEM; exactly one is set.
	PrivateKeyFile string `yaml:"private_key_file"`
	PrivateKeyEnv  string `yaml:"private_key_env"`
}

// Defaults of ResponseSigning.
const (
	DefaultSignatureLabel  = "portcullis"
	DefaultSignedBodyBytes = 1 << 20
	// MaxSignedBodyBytes bounds MaxBodyBytes: the body is held in
	// memory while it is digested.
	MaxSignedBodyBytes = 64 << 20
	// ResponseKeysPath is where the gateway publishes the response
	// signing keys of every API, as a JWKS.
	ResponseKeysPath = "/.well-known/portcullis/response-keys.json"
)

var defaultSignedComponents = []string{"@status", "content-type", "content-digest", "@method;req", "@target-uri;req"}

// DefaultSignedComponents returns what an empty Components means, as a
// new slice: the status, the body's type and digest, and the request's
// method and target URI, so a response cannot be replayed as the answer
// to another request.
func DefaultSignedComponents() []string { return slices.Clone(defaultSignedComponents) }

// SignatureLabel is Label, or its default.
func (s *ResponseSigning) SignatureLabel() string {
	if s.Label == "" {
		return DefaultSignatureLabel
	}
	return s.Label
}

// SignedComponents is Components, or the default.
func (s *ResponseSigning) SignedComponents() []string {
	if len(s.Components) == 0 {
		return DefaultSignedComponents()
	}
	return s.Components
}

// BodyLimit is MaxBodyBytes, or its default.
func (s *ResponseSigning) BodyLimit() int64 {
	if s.MaxBodyBytes == 0 {
		return DefaultSignedBodyBytes
	}
	return s.MaxBodyBytes
}

func (s *ResponseSigning) clone() *ResponseSigning {
	if s == nil {
		return nil
	}
	c := *s
	c.Keys = slices.Clone(s.Keys)
	c.Components = slices.Clone(s.Components)
	return &c
}

// responseSigning checks the API's response signing (field f is the
// API's).
func (v *validator) responseSigning(f string, a *API) {
	s := a.ResponseSigning
	if s == nil {
		return
	}
	f += ".response_signing"
	if len(s.Keys) == 0 {
		v.add(f+".keys", "must list at least one key (the first signs)", nil)
	}
	for k, key := range s.Keys {
		kf := fmt.Sprintf("%s.keys[%d]", f, k)
		switch {
		case httpsig.CheckKeyID(key.ID) != nil:
			v.add(kf+".id", "must be 1 to 256 printable ASCII characters", nil)
		case slices.ContainsFunc(s.Keys[:k], func(o SigningKey) bool { return o.ID == key.ID }):
			v.add(kf+".id", fmt.Sprintf("%q is listed twice", key.ID), nil)
		}
		v.oneOf(kf+".alg", key.Alg, httpsig.Algorithms())
		hasFile, hasEnv := key.PrivateKeyFile != "", key.PrivateKeyEnv != ""
		switch {
		case hasFile && hasEnv:
			v.add(kf+".private_key_env", "set only one of private_key_file and private_key_env", nil)
		case !hasFile && !hasEnv:
			v.add(kf+".private_key_file", "needs private_key_file or private_key_env to read the PEM private key from", nil)
		}
		if hasEnv && !envName.MatchString(key.PrivateKeyEnv) {
			v.add(kf+".private_key_env", "is not an environment variable name: letters, digits and _, not starting with a digit", nil)
		}
		if hasFile && printable.HasControl(key.PrivateKeyFile) {
			v.add(kf+".private_key_file", "must not contain control characters", nil)
		}
	}
	if s.Label != "" && httpsig.CheckLabel(s.Label) != nil {
		v.add(f+".label", fmt.Sprintf("%q is not a signature label: lower-case letters, digits, _ - . *, starting with a letter or *", s.Label), nil)
	}
	v.signedComponents(f+".components", s.Components)
	if s.MaxBodyBytes < 0 || s.MaxBodyBytes > MaxSignedBodyBytes {
		v.add(f+".max_body_bytes", fmt.Sprintf("must be from 0 (1 MiB) to %d: the body is held in memory to be digested", MaxSignedBodyBytes), nil)
	}
}

// signedComponents checks the covered components of a response
// signature.
func (v *validator) signedComponents(f string, list []string) {
	if len(list) == 0 {
		return
	}
	seen := map[string]bool{}
	digest := false
	for k, s := range list {
		cf := fmt.Sprintf("%s[%d]", f, k)
		c, err := httpsig.ParseComponent(s)
		if err == nil {
			err = c.CheckResponse()
		}
		if err != nil {
			v.add(cf, fmt.Sprintf("%q: %s", s, strings.TrimPrefix(err.Error(), "httpsig: bad component: ")), nil)
			continue
		}
		id := c.String()
		if seen[id] {
			v.add(cf, fmt.Sprintf("%q is listed twice", s), nil)
		}
		seen[id] = true
		digest = digest || c.Name == "content-digest" && !c.Req
	}
	if !digest {
		v.add(f, "must cover content-digest: without it the body is not signed", nil)
	}
}
