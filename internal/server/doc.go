// Package server builds and runs a Portcullis node from a configuration:
// the listeners of the roles it runs (authz, gateway, admin), each role
// wiring only what it needs, the background loops of each role, reload and
// graceful shutdown. It also holds the adapters between domain packages and
// the store (the split-token source of the gateway, the token revoker of
// abuse rules), so those packages never import the store themselves, and
// opens an installation for the management commands.
//
// It is the one place that knows every domain package; none of them, and
// not the command line's grammar, is imported back. It must never log a
// secret and never create a master key behind a management command's back.
package server
