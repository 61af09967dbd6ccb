// Package cli is the command line of the portcullis binary: the grammar
// (kong), flags, prompts and output of serve, demo, migrate, clients,
// users, keys, apis, config validate and version.
//
// Commands call domain services (registry, keys, server, demo), or with
// --server a node's admin API (adminclient), and never the store directly; the rules of what an operator may register live in
// those services, not here. It must never print a secret except the
// one-time output an operator asked for (a new client secret).
package cli
