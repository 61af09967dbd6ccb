package catalog

// ResponseSigning is an API's signing of responses (RFC 9421).
type ResponseSigning struct{}

func (s *ResponseSigning) clone() *ResponseSigning {
	if s == nil {
		return nil
	}
	c := *s
	return &c
}

// responseSigning checks the API's response signing (field f is the
// API's).
func (v *validator) responseSigning(f string, a *API) {}
