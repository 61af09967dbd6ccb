package catalog

// WAF is an API's injection inspection with the OWASP Core Rule Set.
type WAF struct{}

// OperationWAF tunes an API's WAF for one operation.
type OperationWAF struct{}

func (w *WAF) clone() *WAF {
	if w == nil {
		return nil
	}
	c := *w
	return &c
}

func (w *OperationWAF) clone() *OperationWAF {
	if w == nil {
		return nil
	}
	c := *w
	return &c
}

// waf checks the API's WAF settings and its operations' (field f is the
// API's).
func (v *validator) waf(f string, a *API) {}
