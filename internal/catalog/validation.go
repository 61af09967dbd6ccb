package catalog

// Validation is an API's request validation: its contract (the OpenAPI
// document's or inline schemas) and the guards on request bodies.
type Validation struct{}

// OperationValidation overrides an API's Validation for one operation.
type OperationValidation struct{}

func (v *Validation) clone() *Validation {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

func (v *OperationValidation) clone() *OperationValidation {
	if v == nil {
		return nil
	}
	c := *v
	return &c
}

// validation checks the API's validation settings and its operations'
// (field f is the API's).
func (v *validator) validation(f string, a *API) {}
