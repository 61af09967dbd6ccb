// Package openapi reads an OpenAPI 3.0 or 3.1 document (YAML or JSON) and
// extracts what the gateway needs to protect an API: its operations
// (method and path template) and the scopes each requires, from the
// security requirements of the operation or, failing that, the document.
//
// It never fetches anything: external $refs are refused.
package openapi

// Operation is one method on one path template.
type Operation struct {
	Method string
	// Path is the template as written ("/items/{id}"), relative to the
	// API's base path.
	Path        string
	OperationID string
	// Scopes required: from the first security requirement that names an
	// oauth2 or openIdConnect scheme.
	Scopes []string
	// Public is true when the effective security is explicitly empty
	// (security: []) or lists an empty requirement ({}).
	Public bool
}

// API is what a document declares.
type API struct {
	Title   string
	Version string
	// BasePath is the path of the first server URL ("/warehouse"), empty
	// when there is none.
	BasePath   string
	Operations []Operation
}

// Parse reads a document; it refuses versions other than 3.0.x and 3.1.x,
// documents over 10 MiB and external references, with errors naming the
// offending path ("paths./items.get.security: ...").
func Parse(data []byte) (*API, error) { panic("todo") }
