package httpsig

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/portcullis/portcullis/internal/httpsig"
)

// DefaultLabel is the label SignRequest gives a signature unless told
// otherwise. The gateway takes the only signature a request carries
// whatever its label, unless its configuration names one.
const DefaultLabel = httpsig.DefaultRequestLabel

// SignOptions change what SignRequest signs. A nil *SignOptions, like the
// zero value, signs what the gateway requires by default.
type SignOptions struct {
	// Label names the signature. Empty means DefaultLabel.
	Label string
	// Components are the covered components, in order, written as in
	// the gateway's configuration: "@method", "@target-uri",
	// "@authority", "@path", "@query", `@query-param;name="id"`, and
	// lower-case field names ("authorization", "content-type"). Nil
	// means DefaultRequestComponents. content-digest is added for a
	// request with content whatever this says: the gateway refuses a
	// body the signature does not bind.
	Components []string
	// Expires, when positive, adds an expires parameter this long after
	// created. Zero means none: the gateway's max_age bounds the
	// signature's life anyway.
	Expires time.Duration
	// Nonce and Tag add the nonce and tag parameters (RFC 9421 §2.3)
	// when not empty.
	Nonce, Tag string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultRequestComponents returns what a nil Components covers for req,
// as a new slice: the method, the target URI, the Authorization field
// when the request has one (so the signature binds the token), and
// content-digest when it has content.
func DefaultRequestComponents(req *http.Request) []string {
	c := []string{"@method", "@target-uri"}
	if len(req.Header.Values("Authorization")) > 0 {
		c = append(c, "authorization")
	}
	if hasContent(req) {
		c = append(c, "content-digest")
	}
	return c
}

// SignRequest signs req with an HTTP Message Signature (RFC 9421) by
// key, a private key the client registered the public half of under
// keyID: an ed25519.PrivateKey, an *ecdsa.PrivateKey on P-256 or an
// *rsa.PrivateKey of 2048 bits or more (ed25519, ecdsa-p256-sha256,
// rsa-pss-sha512). It reads the body to set Content-Digest (RFC 9530,
// sha-256) and puts it back, then sets Signature-Input and Signature,
// replacing any the request had.
//
// Call it last, once Authorization and every covered field are set, and
// send req as it is: the gateway rebuilds the target URI from the
// request line and Host it receives. To sign the requests of an
// *http.Client, use Transport.
func SignRequest(req *http.Request, key crypto.Signer, keyID string, opts *SignOptions) error {
	o := SignOptions{}
	if opts != nil {
		o = *opts
	}
	if o.Label == "" {
		o.Label = DefaultLabel
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if key == nil {
		return errors.New("httpsig: sign request: no key")
	}
	if err := httpsig.CheckKeyID(keyID); err != nil {
		return fmt.Errorf("httpsig: sign request: %w", err)
	}
	k, err := httpsig.NewKey(keyID, httpsig.AlgorithmFor(key.Public()), key)
	if err != nil {
		return fmt.Errorf("httpsig: sign request: %w", err)
	}
	content, err := takeContent(req)
	if err != nil {
		return fmt.Errorf("httpsig: sign request: reading the body: %w", err)
	}
	names := o.Components
	if names == nil {
		names = DefaultRequestComponents(req)
	}
	if len(content) > 0 && !slices.Contains(names, "content-digest") {
		names = append(slices.Clip(names), "content-digest")
	}
	in := &httpsig.Input{Params: httpsig.Params{Created: now(), Nonce: o.Nonce, Tag: o.Tag}}
	if o.Expires > 0 {
		in.Params.Expires = in.Params.Created.Add(o.Expires)
	}
	for _, n := range names {
		c, err := httpsig.ParseComponent(n)
		if err != nil {
			return fmt.Errorf("httpsig: sign request: component %q: %w", n, err)
		}
		if c.Name == "content-digest" {
			req.Header.Set("Content-Digest", httpsig.ContentDigest(content))
		}
		in.Components = append(in.Components, c)
	}
	m := &httpsig.Message{Header: req.Header, Request: &httpsig.Request{
		Method: req.Method, TargetURI: targetURI(req), Header: req.Header,
	}}
	input, signature, err := httpsig.Sign(m, in, o.Label, k)
	if err != nil {
		return fmt.Errorf("httpsig: sign request: %w", err)
	}
	req.Header.Set("Signature-Input", input)
	req.Header.Set("Signature", signature)
	return nil
}

// hasContent reports whether req may be sent with a body. A client
// request's ContentLength of 0 with a Body means "unknown" (see
// http.Request), so only the body itself says.
func hasContent(req *http.Request) bool {
	return req.Body != nil && req.Body != http.NoBody
}

// takeContent reads req's body and puts an identical one back, with a
// known length: the gateway needs to tell a request with content from
// one without, and the digest is of exactly these bytes. An empty body
// becomes http.NoBody.
func takeContent(req *http.Request) ([]byte, error) {
	if !hasContent(req) {
		return nil, nil
	}
	b, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(b))
	if len(b) == 0 {
		req.Body, req.GetBody = http.NoBody, nil
		return nil, nil
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

// Transport signs every request it carries with SignRequest, then sends
// it with Base. Put it beneath the transport that sets Authorization
// (as the Base of an oauth2.Transport), so that the token is there to
// be signed.
type Transport struct {
	// Base sends the signed request; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Key and KeyID are SignRequest's key and keyID.
	Key   crypto.Signer
	KeyID string
	// Options are SignRequest's options; nil means the defaults.
	Options *SignOptions
}

// RoundTrip signs a copy of req (a RoundTripper must not change the
// request it is given) and sends it.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	if err := SignRequest(r, t.Key, t.KeyID, t.Options); err != nil {
		// RoundTrip closes the body, even on errors.
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}
