// Package clientcert finds the TLS client certificate of a request, for
// mutual-TLS client authentication and certificate-bound access tokens
// (RFC 8705): from the TLS connection itself, or, behind a
// TLS-terminating proxy, from the RFC 9440 Client-Cert header, which is
// believed only when the request comes from a configured proxy address.
//
// It also computes the certificate thumbprint a bound token carries as
// cnf["x5t#S256"] (RFC 8705 §3.1). The authorization server and the
// gateway share it so that both sides agree, byte for byte, on which
// certificate a request presented.
package clientcert
