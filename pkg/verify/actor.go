package verify

import (
	"fmt"
)

// maxActorDepth bounds the act chain. Real delegation chains are a few
// hops; a deeper one is refused rather than walked.
const maxActorDepth = 16

// Actor is one party of a delegation chain: the act claim of RFC 8693
// §4.1, which names who acts for the token's subject, and in its own act
// member who acted before.
type Actor struct {
	// Subject is the actor's sub.
	Subject string
	// Issuer is the actor's iss, when the actor's identifier is scoped
	// to an issuer other than the token's.
	Issuer string
	// ClientID is the actor's client_id (RFC 8693 §4.3): the client
	// that exchanged the token.
	ClientID string
	// Act is the prior actor, nil at the end of the chain.
	Act *Actor
	// Raw is the actor's object as decoded JSON, act member included.
	Raw map[string]any
}

// actorOf reads the act (RFC 8693 §4.1) member name of m; nil when absent.
func actorOf(m map[string]any, name string, depth int) (*Actor, error) {
	v, ok := m[name]
	if !ok {
		return nil, nil
	}
	if depth >= maxActorDepth {
		return nil, fmt.Errorf("%w: act chain deeper than %d", ErrMalformed, maxActorDepth)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: claim act is not an object", ErrMalformed)
	}
	a := &Actor{Raw: obj}
	var err error
	for _, s := range []struct {
		name string
		dst  *string
	}{
		{"sub", &a.Subject}, {"iss", &a.Issuer}, {"client_id", &a.ClientID},
	} {
		if *s.dst, err = registeredString(obj, s.name); err != nil {
			return nil, err
		}
	}
	if a.Act, err = actorOf(obj, "act", depth+1); err != nil {
		return nil, err
	}
	return a, nil
}

// ActorChain returns the delegation chain, current actor first: RFC 8693
// §4.1 nests prior actors inside the current one, so element 0 is the
// party that presented the token (the last hop) and the last element the
// first party that acted for the subject. It is empty when the token
// carries no act claim. The subject itself is not part of the chain.
func (c *Claims) ActorChain() []Actor {
	var chain []Actor
	for a := c.Act; a != nil; a = a.Act {
		chain = append(chain, *a)
	}
	return chain
}

// ActedBy reports whether the current actor (the last hop, the outermost
// act) is the client clientID. It is false when the token carries no act
// claim: a token the client obtained for itself names it in client_id.
// Note that RFC 8693 §4.1 leaves only the nesting as authoritative: prior
// actors are informational, so decisions rest on the current one.
func (c *Claims) ActedBy(clientID string) bool {
	return c.Act != nil && clientID != "" && c.Act.clientID() == clientID
}

// clientID is the client an actor names: its client_id claim, else its
// sub (a Portcullis authorization server names a client acting for
// itself by its client id in sub, as in RFC 8693 §4.1's examples).
func (a *Actor) clientID() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return a.Subject
}

// ActorChainIs reports whether the chain's client IDs are clientIDs
// exactly, current actor first; with no arguments, whether the token
// carries no act claim at all.
func (c *Claims) ActorChainIs(clientIDs ...string) bool {
	a := c.Act
	for _, id := range clientIDs {
		if a == nil || a.clientID() != id {
			return false
		}
		a = a.Act
	}
	return a == nil
}
