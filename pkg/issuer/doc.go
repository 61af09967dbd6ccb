// Package issuer reads what an OAuth 2.0 or OpenID Connect issuer
// publishes for those who verify its tokens: its metadata (OpenID Connect
// Discovery 1.0, RFC 8414) and its JSON Web Key Set (RFC 7517).
//
// Both are trusted once read (keys decide which tokens pass; an
// introspection endpoint receives the caller's credentials), so every
// fetch obeys the same rules:
//
//   - https only, plain http to a loopback host alone (an issuer on the
//     same machine in development and tests), never credentials in the
//     URL ([CheckURL]); an issuer identifier has no query or fragment
//     either ([CheckIdentifier], RFC 8414 §2);
//   - at most three redirects, each obeying the same rules and never
//     leaving https for http ([RestrictRedirects]);
//   - documents bounded in size ([MaxDocumentSize]) and time
//     ([FetchTimeout]);
//   - a metadata document must name the issuer exactly, the defence
//     against mix-up (OpenID Connect Discovery §4.3, RFC 8414 §3.3).
//
// A key set ([ParseKeySet]) keeps only public, asymmetric signature keys
// and is refused whole when it publishes a private key; a key is looked
// up by kid and algorithm, and the key, not the token, decides which
// algorithm it verifies (RFC 8725 §3.1).
//
// The Portcullis gateway (through its token package) and the backends'
// package [github.com/portcullis/portcullis/pkg/verify] both build on
// this one, so a rule is written, and fixed, once. It depends on no
// internal package of Portcullis.
package issuer
