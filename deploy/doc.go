// Package deploy holds no code of the binary: it is the home of the
// deployment files (deploy/systemd, deploy/kubernetes, the Dockerfile at
// the repository root, examples/compose) and of the tests that keep them
// true to the program. The tests parse each file, check that every
// configuration in it passes `portcullis config validate`, that ports,
// probes and flags match what the binary really serves and accepts,
// build the binary exactly as the Dockerfile does and check it is
// static, and start it as the systemd unit would.
//
// It must never be imported: nothing here is part of Portcullis.
package deploy
