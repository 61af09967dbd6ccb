package catalog

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/portcullis/portcullis/internal/openapi"
)

func TestOpenAPIOperations(t *testing.T) {
	doc := []byte(`openapi: 3.1.0
info: {title: Shop, version: "1"}
security: [{auth: []}]
paths:
  /items:
    get:
      operationId: listItems
      security: [{auth: [read]}]
      responses: {"200": {description: ok}}
  /health:
    get:
      security: []
      responses: {"200": {description: ok}}
components:
  securitySchemes:
    auth: {type: oauth2, flows: {clientCredentials: {tokenUrl: https://as.example/token, scopes: {read: read}}}}
`)
	got, err := OpenAPIOperations(doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []Operation{
		{Method: "GET", Path: "/items", Scopes: []string{"read"}},
		{Method: "GET", Path: "/health", Public: true},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OpenAPIOperations() mismatch (-want +got):\n%s", diff)
	}
	var oe *openapi.Error
	if _, err := OpenAPIOperations([]byte("swagger: '2.0'")); !errors.As(err, &oe) {
		t.Errorf("OpenAPIOperations(swagger) = %v, want an *openapi.Error", err)
	}
}
