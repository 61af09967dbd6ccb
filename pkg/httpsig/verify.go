// Package httpsig lets an API client of a Portcullis gateway use HTTP
// Message Signatures (RFC 9421) both ways: sign its requests for an API
// that requires it, with a key it registered (SignRequest, Transport),
// and check that a response came from the gateway unchanged: it verifies
// the response's signature with the gateway's published keys and the
// body against its Content-Digest (RFC 9530).
//
//	err := httpsig.SignRequest(req, privateKey, "client-key-1", nil)
//
//	keys, err := httpsig.FetchKeys(ctx, http.DefaultClient, "https://gw.example/.well-known/portcullis/response-keys.json")
//	resp, err := http.DefaultClient.Do(req)
//	err = httpsig.VerifyResponse(resp, req, keys)
//
// It never trusts the message to say which algorithm to use (the key
// decides), never accepts a signature that leaves out the body's digest,
// the status or the request it answers (unless told otherwise), never
// reads more of a body than its limit, and never signs with a shared
// secret (hmac-sha256).
package httpsig

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/httpsig"
)

// Errors VerifyResponse wraps, for errors.Is.
var (
	// ErrNotSigned: the response has no signature under the label.
	ErrNotSigned = errors.New("httpsig: the response is not signed")
	// ErrSignature: the signature does not verify.
	ErrSignature = httpsig.ErrSignature
	// ErrDigest: the body does not match its Content-Digest.
	ErrDigest = httpsig.ErrDigest
	// ErrPolicy: the signature is valid but does not cover what is
	// required, is too old, or names an unknown key.
	ErrPolicy = errors.New("httpsig: the signature does not meet the policy")
)

// KeyFunc returns the public key with the given key id (an
// ed25519.PublicKey or a P-256 *ecdsa.PublicKey).
type KeyFunc func(keyID string) (crypto.PublicKey, error)

// ParseKeys reads a JWKS document (RFC 7517), such as the gateway's
// /.well-known/portcullis/response-keys.json, into a KeyFunc. Keys of
// other types are ignored; private members, if any, are dropped.
func ParseKeys(jwks []byte) (KeyFunc, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		return nil, fmt.Errorf("httpsig: keys: %w", err)
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		pub := k.Public().Key
		if k.KeyID == "" || httpsig.AlgorithmFor(pub) == "" || k.Use != "" && k.Use != "sig" {
			continue
		}
		keys[k.KeyID] = pub
	}
	return func(id string) (crypto.PublicKey, error) {
		if k, ok := keys[id]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("%w: unknown key id %q", ErrPolicy, id)
	}, nil
}

// FetchKeys gets the JWKS at url with client and parses it. Fetch it
// again when a response names a key id it does not know: the gateway
// publishes a new key before it signs with it.
func FetchKeys(ctx context.Context, client *http.Client, url string) (KeyFunc, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("httpsig: keys: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("httpsig: keys: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("httpsig: keys: %s answered %d", url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("httpsig: keys: %w", err)
	}
	return ParseKeys(b)
}

// Verifier verifies signed responses. Only Keys is required; the zero
// value of every other field is the gateway's default. Safe for
// concurrent use once set up.
type Verifier struct {
	// Keys finds the gateway's public keys (ParseKeys, FetchKeys).
	Keys KeyFunc
	// Label is the signature's label. Empty means "portcullis".
	Label string
	// Require lists the components the signature must cover, written
	// as in the gateway's configuration. Nil means
	// DefaultRequired(); content-digest is required whatever it says.
	Require []string
	// MaxAge refuses a signature created longer ago. Zero means no
	// bound (the expires parameter, when present, is always checked).
	MaxAge time.Duration
	// MaxBodyBytes bounds the body read to check its digest. Zero
	// means 16 MiB.
	MaxBodyBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// DefaultRequired returns the components a signature must cover by
// default, as a new slice: the status, the body's digest and the
// request's method and target URI, so that a response cannot pass for
// another or for the answer to another request.
func DefaultRequired() []string {
	return []string{"@status", "content-digest", "@method;req", "@target-uri;req"}
}

// clockSkew is how far in the future a created time may be.
const clockSkew = time.Minute

// VerifyResponse checks resp, the answer to req, with keys and the
// default policy (see Verifier.VerifyResponse).
func VerifyResponse(resp *http.Response, req *http.Request, keys KeyFunc) error {
	return (&Verifier{Keys: keys}).VerifyResponse(resp, req)
}

// VerifyResponse checks that resp, the answer to req (nil means
// resp.Request), carries a valid signature from a key that v.Keys
// knows, covering at least the required components, and that its body
// matches its Content-Digest. The body is read (up to the limit) and put
// back, so the caller can still read it.
//
// A response the client decompressed on its own (resp.Uncompressed) is
// refused: the digest is of the bytes sent. Set Accept-Encoding
// yourself, or DisableCompression on the transport.
func (v *Verifier) VerifyResponse(resp *http.Response, req *http.Request) error {
	o := *v
	if o.Keys == nil {
		return fmt.Errorf("%w: no keys", ErrPolicy)
	}
	if req == nil {
		req = resp.Request
	}
	if req == nil {
		return fmt.Errorf("%w: no request to bind the response to", ErrPolicy)
	}
	if o.Label == "" {
		o.Label = "portcullis"
	}
	if o.Require == nil {
		o.Require = DefaultRequired()
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = 16 << 20
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if resp.Uncompressed {
		return fmt.Errorf("%w: the body was decompressed by the client; its digest cannot be checked", ErrPolicy)
	}

	inLines, sigLines := resp.Header.Values("Signature-Input"), resp.Header.Values("Signature")
	if len(inLines) == 0 && len(sigLines) == 0 {
		return ErrNotSigned
	}
	in, sig, err := httpsig.ParseFields(inLines, sigLines, o.Label)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotSigned, err)
	}
	if err := checkPolicy(in, o, now()); err != nil {
		return err
	}
	pub, err := o.Keys(in.Params.KeyID)
	if err != nil {
		return err
	}
	alg := httpsig.AlgorithmFor(pub)
	if alg == "" || in.Params.Alg != "" && in.Params.Alg != alg {
		return fmt.Errorf("%w: the key does not sign with %q", ErrPolicy, in.Params.Alg)
	}
	m := &httpsig.Message{
		Status: resp.StatusCode,
		Header: resp.Header,
		Request: &httpsig.Request{
			Method:    req.Method,
			TargetURI: targetURI(req),
			Header:    req.Header,
		},
	}
	base, err := httpsig.Base(m, in)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if err := httpsig.Verify(alg, pub, base, sig); err != nil {
		return err
	}

	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxBodyBytes+1))
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("httpsig: reading the body: %w", err)
	}
	if int64(len(body)) > o.MaxBodyBytes {
		return fmt.Errorf("%w: the body is larger than %d bytes", ErrPolicy, o.MaxBodyBytes)
	}
	return httpsig.CheckContentDigest(resp.Header.Values("Content-Digest"), body)
}

// checkPolicy checks what the signature covers and when it was made.
func checkPolicy(in *httpsig.Input, o Verifier, now time.Time) error {
	covered := make(map[string]bool, len(in.Components))
	for _, c := range in.Components {
		covered[canonical(c)] = true
	}
	for _, r := range append(o.Require, "content-digest") {
		c, err := httpsig.ParseComponent(r)
		if err != nil {
			return fmt.Errorf("%w: required component %q: %w", ErrPolicy, r, err)
		}
		if !covered[canonical(c)] {
			return fmt.Errorf("%w: %s is not covered", ErrPolicy, c)
		}
	}
	p := in.Params
	switch {
	case p.KeyID == "":
		return fmt.Errorf("%w: no keyid", ErrPolicy)
	case p.Created.IsZero():
		return fmt.Errorf("%w: no created time", ErrPolicy)
	case p.Created.After(now.Add(clockSkew)):
		return fmt.Errorf("%w: created in the future", ErrPolicy)
	case o.MaxAge > 0 && now.Sub(p.Created) > o.MaxAge:
		return fmt.Errorf("%w: created more than %s ago", ErrPolicy, o.MaxAge)
	case !p.Expires.IsZero() && !now.Before(p.Expires):
		return fmt.Errorf("%w: expired", ErrPolicy)
	}
	return nil
}

// canonical compares components whatever the order of their
// parameters.
func canonical(c httpsig.Component) string {
	return httpsig.Component{Name: c.Name, Req: c.Req, QueryName: c.QueryName}.String()
}

// targetURI is the URI req was sent to: scheme, the Host it sent, and
// the request target of its request line.
func targetURI(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	return strings.ToLower(req.URL.Scheme) + "://" + host + req.URL.RequestURI()
}
