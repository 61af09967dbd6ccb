// Package audit is the tamper-evident audit trail of management
// operations: who changed which client, user or key, when, from where,
// and what the object looked like before and after.
//
// Records are appended to the store's append-only audit table and
// hash-chained: each record's hash is SHA-256 over the previous record's
// hash and the record's canonical JSON (see Canonicalize), so Verify finds
// a record that was edited, deleted, reordered or inserted behind the
// store's back. Appends are serialised in the database, so several nodes
// appending at once never fork the chain.
//
// It must never store a secret: Before and After pass through Redact,
// which replaces secrets, password hashes and tokens with a marker. It
// must never let a change through unrecorded: Apply commits a change and
// its record in one transaction, and an append that fails fails the
// change. Audit records are a typed stream of their own, never log lines.
//
// A Follower copies the trail, as it grows, to sinks outside the store (a
// file it resumes exactly, syslog), checking each record's place in the
// chain before it goes out.
package audit
