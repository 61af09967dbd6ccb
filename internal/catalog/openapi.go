package catalog

import (
	"github.com/portcullis/portcullis/internal/openapi"
)

// OpenAPIOperations reads an OpenAPI 3.0 or 3.1 document (the contents of
// the file an API's OpenAPI field names; reading it is the caller's I/O)
// and returns its operations as catalog operations: method, path
// template, required scopes and whether the operation is public. A
// document says nothing of policies or limits. Errors are
// *openapi.Error, naming where in the document the problem is.
func OpenAPIOperations(data []byte) ([]Operation, error) {
	doc, err := openapi.Parse(data)
	if err != nil {
		return nil, err
	}
	ops := make([]Operation, len(doc.Operations))
	for i, o := range doc.Operations {
		ops[i] = Operation{Method: o.Method, Path: o.Path, Scopes: o.Scopes, Public: o.Public}
	}
	return ops, nil
}
