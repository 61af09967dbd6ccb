package catalog

// The values of API.MTLS (RFC 8705 §3). There is no "off": a token bound
// to a certificate is checked wherever it is presented, since a binding
// the gateway let pass unchecked would make a stolen token usable by
// anyone (fail closed).
const (
	// MTLSAllowed checks certificate-bound tokens and takes unbound ones.
	// What "" means.
	MTLSAllowed = "allowed"
	// MTLSRequired takes only certificate-bound tokens, presented over a
	// connection with their certificate.
	MTLSRequired = "required"
)

// mtlsModes lists the values of API.MTLS, for the error message.
var mtlsModes = []string{MTLSAllowed, MTLSRequired}

// mtls checks the API's mtls.
func (v *validator) mtls(f string, a *API) {
	switch a.MTLS {
	case "", MTLSAllowed, MTLSRequired:
	case "off":
		v.add(f+".mtls", `"off" is not a mode: a certificate-bound token is always checked (RFC 8705 §3); use allowed or required`, nil)
	default:
		v.oneOf(f+".mtls", a.MTLS, mtlsModes)
	}
}
