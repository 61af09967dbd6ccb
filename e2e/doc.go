// Package e2e holds the end-to-end tests of Portcullis: they start the real
// server in-process on loopback ports and drive it with third-party
// clients (golang.org/x/oauth2, github.com/coreos/go-oidc/v3) and plain
// net/http, the way a deployment is used. It contains no production code.
package e2e
