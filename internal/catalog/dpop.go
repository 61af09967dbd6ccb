package catalog

// The values of API.DPoP (RFC 9449 §7).
const (
	// DPoPAllowed takes Bearer tokens, and DPoP-bound tokens with the
	// DPoP scheme and a proof. What "" means.
	DPoPAllowed = "allowed"
	// DPoPRequired takes only DPoP-bound tokens with the DPoP scheme and
	// a proof: a stolen token is useless without the client's key.
	DPoPRequired = "required"
	// DPoPOff refuses the DPoP scheme, as a gateway without DPoP would.
	// Bound tokens are still refused as Bearer (§7.2): a binding the
	// gateway cannot check is not dropped silently.
	DPoPOff = "off"
)

// dpopModes lists the values of API.DPoP, for the error message.
var dpopModes = []string{DPoPAllowed, DPoPRequired, DPoPOff}

// dpop checks the API's dpop.
func (v *validator) dpop(f string, a *API) {
	if a.DPoP != "" {
		v.oneOf(f+".dpop", a.DPoP, dpopModes)
	}
}
