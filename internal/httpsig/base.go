// Package httpsig implements HTTP Message Signatures (RFC 9421) for the
// algorithms Portcullis uses, ed25519, ecdsa-p256-sha256 and
// rsa-pss-sha512, and the sha-256 and sha-512 Content-Digest of RFC
// 9530: the signature base of §2.5, the Signature-Input and Signature
// fields of §4 (serialized and parsed as RFC 8941 structured fields with
// github.com/dunglas/httpsfv), signing, verifying, and the policy a
// verifier of signed requests applies (§3.2: what must be covered, how
// old a signature may be, which key).
//
// It never hand-parses a structured field, never lets a value with a
// control character into a signature base (a forged line would sign
// something else), and never picks an algorithm from what a message
// says: the verifier's key decides it, and the alg parameter must agree.
// It holds no shared secrets: hmac-sha256 is refused.
package httpsig

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dunglas/httpsfv"
)

// Params are a signature's parameters (RFC 9421 §2.3). A zero field is
// left out.
type Params struct {
	Created, Expires time.Time
	KeyID, Alg       string
	Nonce, Tag       string
}

// Input is what one signature covers: its components, in order, and its
// parameters. Built by the signer, or parsed from Signature-Input by the
// verifier, which then serializes it exactly as received.
type Input struct {
	Components []Component
	Params     Params

	// raw is the inner list as received; nil for an Input built here.
	raw *httpsfv.InnerList
}

// paramOrder is the order parameters are written in: that of the RFC's
// examples (created, keyid, nonce in B.2.1; created, keyid, tag in
// B.2.2).
var paramOrder = [...]string{"created", "expires", "keyid", "alg", "nonce", "tag"}

// innerList is the signature parameters value as a structured field.
func (in *Input) innerList() (httpsfv.InnerList, error) {
	if in.raw != nil {
		return *in.raw, nil
	}
	l := httpsfv.InnerList{Items: make([]httpsfv.Item, len(in.Components)), Params: httpsfv.NewParams()}
	for i, c := range in.Components {
		if err := c.check(); err != nil {
			return l, err
		}
		l.Items[i] = c.item()
	}
	p := in.Params
	for _, k := range paramOrder {
		switch k {
		case "created":
			if !p.Created.IsZero() {
				l.Params.Add(k, p.Created.Unix())
			}
		case "expires":
			if !p.Expires.IsZero() {
				l.Params.Add(k, p.Expires.Unix())
			}
		case "keyid":
			addString(l.Params, k, p.KeyID)
		case "alg":
			addString(l.Params, k, p.Alg)
		case "nonce":
			addString(l.Params, k, p.Nonce)
		case "tag":
			addString(l.Params, k, p.Tag)
		}
	}
	return l, nil
}

func addString(p *httpsfv.Params, k, v string) {
	if v != "" {
		p.Add(k, v)
	}
}

// SignatureParams is the @signature-params value (RFC 9421 §2.3): the
// covered components and parameters as an inner list.
func (in *Input) SignatureParams() (string, error) {
	l, err := in.innerList()
	if err != nil {
		return "", err
	}
	s, err := httpsfv.Marshal(l)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrComponent, err)
	}
	return s, nil
}

// Base builds the signature base of in over m (RFC 9421 §2.5): a line
// per covered component, `"name";params: value`, then the
// @signature-params line, joined by LF with none at the end. A component
// that cannot be computed (absent field, req on a request, a control
// character) or is listed twice is an error, and there is no base.
func Base(m *Message, in *Input) ([]byte, error) {
	sp, err := in.SignatureParams()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	seen := make(map[string]bool, len(in.Components))
	for _, c := range in.Components {
		id := c.String()
		if id == "" {
			return nil, fmt.Errorf("%w: %q cannot be serialized", ErrComponent, c.Name)
		}
		// RFC 9421 §7.2.5: a component listed twice could be read two
		// ways; refuse it.
		key := c.key()
		if seen[key] {
			return nil, fmt.Errorf("%w: %s is listed twice", ErrComponent, id)
		}
		seen[key] = true
		v, err := m.value(c)
		if err != nil {
			return nil, err
		}
		b.WriteString(id)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(sp)
	return []byte(b.String()), nil
}

// key identifies a component whatever the order of its parameters.
func (c Component) key() string {
	k := c.Name + "\x00" + c.QueryName
	if c.Req {
		k += "\x00req"
	}
	return k
}

// ErrSignatureFields is wrapped by every refusal of a Signature-Input or
// Signature field.
var ErrSignatureFields = errors.New("httpsig: bad signature fields")

// Fields renders the Signature-Input and Signature field values of one
// signature under label (RFC 9421 §4.1, §4.2).
func Fields(label string, in *Input, sig []byte) (input, signature string, err error) {
	l, err := in.innerList()
	if err != nil {
		return "", "", err
	}
	d := httpsfv.NewDictionary()
	d.Add(label, l)
	if input, err = httpsfv.Marshal(d); err != nil {
		return "", "", fmt.Errorf("%w: label %q: %v", ErrSignatureFields, label, err)
	}
	d = httpsfv.NewDictionary()
	d.Add(label, httpsfv.NewItem(sig))
	if signature, err = httpsfv.Marshal(d); err != nil {
		return "", "", fmt.Errorf("%w: label %q: %v", ErrSignatureFields, label, err)
	}
	return input, signature, nil
}

// ParseFields finds the signature labelled label in the Signature-Input
// and Signature field lines given: its input and its signature bytes.
// An empty label takes the only signature there is; with several, the
// caller must say which one it wants (RFC 9421 §3.2 leaves the choice
// to the verifier, never to the message). Only the parameters of RFC
// 9421 §2.3 are understood; any other is an error, as is a component
// this package does not compute.
func ParseFields(inputLines, signatureLines []string, label string) (*Input, []byte, error) {
	if len(inputLines) == 0 || len(signatureLines) == 0 {
		return nil, nil, fmt.Errorf("%w: no Signature-Input or Signature", ErrSignatureFields)
	}
	ins, err := httpsfv.UnmarshalDictionary(inputLines)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Signature-Input is not a dictionary", ErrSignatureFields)
	}
	sigs, err := httpsfv.UnmarshalDictionary(signatureLines)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: Signature is not a dictionary", ErrSignatureFields)
	}
	if label == "" {
		names := ins.Names()
		if len(names) != 1 {
			return nil, nil, fmt.Errorf("%w: %d signatures and no label to pick one", ErrSignatureFields, len(names))
		}
		label = names[0]
	}
	mi, ok1 := ins.Get(label)
	ms, ok2 := sigs.Get(label)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("%w: no signature labelled %q", ErrSignatureFields, label)
	}
	l, ok := mi.(httpsfv.InnerList)
	if !ok {
		return nil, nil, fmt.Errorf("%w: Signature-Input %q is not an inner list", ErrSignatureFields, label)
	}
	si, ok := ms.(httpsfv.Item)
	sig, ok2 := si.Value.([]byte)
	if !ok || !ok2 {
		return nil, nil, fmt.Errorf("%w: Signature %q is not a byte sequence", ErrSignatureFields, label)
	}
	in, err := parseInput(l)
	if err != nil {
		return nil, nil, err
	}
	return in, sig, nil
}

// parseInput reads a received inner list; its serialization stays as
// received, for the base.
func parseInput(l httpsfv.InnerList) (*Input, error) {
	in := &Input{raw: &l, Components: make([]Component, len(l.Items))}
	for i, it := range l.Items {
		c, err := componentFromItem(it)
		if err != nil {
			return nil, err
		}
		in.Components[i] = c
	}
	p := &in.Params
	for _, k := range l.Params.Names() {
		v, _ := l.Params.Get(k)
		var ok bool
		switch k {
		case "created", "expires":
			var n int64
			if n, ok = v.(int64); ok {
				t := time.Unix(n, 0)
				if k == "created" {
					p.Created = t
				} else {
					p.Expires = t
				}
			}
		case "keyid":
			p.KeyID, ok = v.(string)
		case "alg":
			p.Alg, ok = v.(string)
		case "nonce":
			p.Nonce, ok = v.(string)
		case "tag":
			p.Tag, ok = v.(string)
		default:
			return nil, fmt.Errorf("%w: parameter %q is not supported", ErrSignatureFields, k)
		}
		if !ok {
			return nil, fmt.Errorf("%w: parameter %q has the wrong type", ErrSignatureFields, k)
		}
	}
	return in, nil
}
