package httpsig

import (
	"fmt"

	"github.com/dunglas/httpsfv"
)

// AcceptSignature is an Accept-Signature field value (RFC 9421 §5.1)
// asking for one signature under label that covers components, in
// order, with a created parameter (which a verifier of this package
// requires). It names no key and no algorithm: the signer uses the one
// it registered.
func AcceptSignature(label string, components []Component) (string, error) {
	l := httpsfv.InnerList{Items: make([]httpsfv.Item, len(components)), Params: httpsfv.NewParams()}
	for i, c := range components {
		if err := c.check(); err != nil {
			return "", err
		}
		l.Items[i] = c.item()
	}
	// §5.1: a parameter with the Boolean value true asks the signer to
	// include it with a value of its own.
	l.Params.Add("created", true)
	d := httpsfv.NewDictionary()
	d.Add(label, l)
	s, err := httpsfv.Marshal(d)
	if err != nil {
		return "", fmt.Errorf("%w: label %q: %v", ErrSignatureFields, label, err)
	}
	return s, nil
}
