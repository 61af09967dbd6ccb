// Package verify is what a backend behind the Portcullis gateway uses to
// verify the JWT the gateway forwards to it, and to read its claims.
//
// The gateway turns whatever the client presented (an opaque token, a
// split token, a JWT access token) into a signed JWT and forwards it in
// the Authorization header. "Verify again inside" is part of the trust
// model: a backend must not trust the network, so it checks that JWT
// itself before acting on any claim. This package does that check the
// way the gateway does:
//
//   - keys come only from the issuer's JWK Set, found through its
//     discovery document (OpenID Connect Discovery 1.0 or RFC 8414, whose
//     issuer must equal the configured one exactly) or a configured URL;
//     they are cached for a TTL and refetched, at a bounded rate, when a
//     token names an unknown key, so the issuer can rotate keys;
//   - only the compact serialization, only allow-listed asymmetric
//     algorithms, checked before any key is looked up (RFC 8725 §3.1);
//   - explicit typing (RFC 8725 §3.11): at+jwt (RFC 9068) and
//     phantom+jwt, the type of the JWTs that stay behind the gateway;
//   - iss exactly, aud containing the backend's audience, exp, nbf and
//     iat with a bounded clock skew, and a bound on the token's size.
//
// [NewMiddleware] wraps an [http.Handler]: it reads the token, verifies
// it, enforces sender constraints when asked (RFC 8705 certificate
// binding, RFC 9449 DPoP) and required scopes, answers failures with an
// RFC 6750 §3 challenge, and hands the [Claims] on in the request's
// context ([FromContext]).
//
// What this package must never do: accept a token whose signature it has
// not checked with a key of the configured issuer; let the token choose
// its key or algorithm (jku, x5u, jwk and x5c headers are ignored, "none"
// and HMAC algorithms cannot be configured); accept a token while the
// issuer's keys are unknown (it fails closed); quote a token, or a claim
// of one that did not verify, in an error, a log line or a response; or
// import anything of Portcullis's internal packages, so backends can
// depend on it alone and its API stays small and stable.
package verify
