// Package registry holds the domain services for OAuth clients and end
// users: the redirect-URI, scope, audience and secret rules of a client, the
// role and attribute rules of a user, and every mutation of either. The
// command line, the admin API, the developer portal and dynamic client
// registration (RFC 7591) all go through it, so a rule is written once and
// the audit trail has one place to hook in.
//
// It must never return or log a secret except the one-time value a caller
// asked to issue, and never hash passwords itself (identity does that).
package registry
