// Package cluster runs Portcullis as a real cluster and breaks it on
// purpose: the binary is built once and started as separate processes on
// loopback ports (two authorization-server nodes, three gateway nodes),
// all on one PostgreSQL database and one Redis key prefix created for the
// run, with in-test TCP proxies in front of PostgreSQL and Redis so an
// outage can be staged without touching the shared servers other test
// packages use. A bounded load generator drives the gateways while the
// scenarios kill, stop, reload and cut.
//
// It runs only when PORTCULLIS_TEST_POSTGRES and PORTCULLIS_TEST_REDIS
// are set (CI sets them), and with PORTCULLIS_SOAK=1 its soak test sends
// a million requests. It contains no production code, and it never
// imports the module's packages: it reaches the nodes only through their
// command line, their HTTP listeners and signals, as an operator would.
package cluster
