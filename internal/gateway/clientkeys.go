package gateway

import (
	"context"
	"errors"

	"github.com/go-jose/go-jose/v4"
)

// ClientKeys finds the public keys an OAuth client registered (its JWK
// Set): the keys field rules encrypt to (use "enc") and the keys a
// client signs its requests with (use "sig"). The gateway caches nothing
// itself; an implementation decides how fresh its answers are.
type ClientKeys interface {
	// ClientKeys returns the client's key set. A client that is unknown
	// or registered no keys is ErrNoClientKeys; any other error means
	// the keys could not be read now (the step fails closed).
	ClientKeys(ctx context.Context, clientID string) (*jose.JSONWebKeySet, error)
}

// ErrNoClientKeys is a ClientKeys answer for a client without keys.
var ErrNoClientKeys = errors.New("the client registered no keys")
