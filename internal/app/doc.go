// Package app wires Portcullis together: it turns a configuration into a
// running program (logger, master key, store, signing keys, the
// authorization server and the admin listener), implements the command
// line (serve, demo, migrate, clients, users, keys) and seeds the warehouse
// demo.
//
// It is the only package that knows every other one. Leaf packages never
// import it, and it holds no domain logic of its own beyond validating what
// an operator types. It must never print or log a secret except the
// one-time output an operator asked for (a new client secret, the demo
// quick-start), and never create a master key behind a management command's
// back.
package app
