// Package replay remembers one-time values in Redis so that every node
// sharing the server refuses a value any of them has accepted: the
// (key, jti) pairs of DPoP proofs (RFC 9449 §11.1), through the
// verify.ReplayCache interface the gateway takes.
//
// It only records and answers "seen before?"; it never decides access
// itself, and an error is always the caller's to fail closed on.
package replay
