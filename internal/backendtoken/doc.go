// Package backendtoken obtains the access tokens the gateway presents to
// a backend in place of the one its caller sent: a token exchanged for
// the backend's audience (RFC 8693, the caller stays the subject and the
// gateway is recorded as the actor), or the gateway's own
// client-credentials token (RFC 6749 §4.4) for backends that trust the
// gateway rather than the caller.
//
// Tokens are cached until shortly before they expire and fetched again
// ahead of time, one fetch per key however many requests wait for it;
// with a shared cache (Redis) the nodes of a cluster reuse each other's
// tokens, sealed with AES-256-GCM, so twenty gateways do not fetch twenty
// tokens and the shared store never holds one in clear.
//
// It never logs a token or a client secret, and never forwards the
// caller's token anywhere but to the configured token endpoint, where it
// is the subject of the exchange.
package backendtoken
