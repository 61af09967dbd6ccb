package catalog

import (
	"strings"
	"testing"
)

func TestValidateValidation(t *testing.T) {
	schema := map[string]any{"type": "object", "properties": map[string]any{"qty": map[string]any{"type": "integer"}}}
	op := func(s *Snapshot) *OperationValidation {
		s.APIs[0].Operations[0].Path = "/items/{id}"
		v := &OperationValidation{}
		s.APIs[0].Operations[0].Validation = v
		return v
	}
	tests := []struct {
		name string
		edit func(*Snapshot)
		want string // a prefix of the error; "" for none
	}{
		{"defaults", func(s *Snapshot) { s.APIs[0].Validation = &Validation{} }, ""},
		{"all set", func(s *Snapshot) {
			s.APIs[0].Validation = &Validation{Mode: ValidationReport, MaxDepth: 10, MaxKeys: 5, MaxItems: 5, MaxStringLength: 5,
				ContentTypes: []string{"application/json", "application/*"}}
			v := op(s)
			v.Mode, v.RequestSchema, v.BodyRequired = ValidationEnforce, schema, true
			v.Parameters = []ValidationParameter{{Name: "id", In: "path", Schema: map[string]any{"type": "integer"}},
				{Name: "X-Tenant", In: "header", Required: true}, {Name: "limit", In: "query"}}
		}, ""},
		{"mode", func(s *Snapshot) { s.APIs[0].Validation = &Validation{Mode: "strict"} },
			`apis[0].validation.mode: "strict" is not one of enforce, report, off`},
		{"depth", func(s *Snapshot) { s.APIs[0].Validation = &Validation{MaxDepth: 5000} },
			`apis[0].validation.max_depth: must be from 1 to 1000`},
		{"negative", func(s *Snapshot) { s.APIs[0].Validation = &Validation{MaxKeys: -1} },
			`apis[0].validation.max_keys: must be from 1 to`},
		{"content type", func(s *Snapshot) { s.APIs[0].Validation = &Validation{ContentTypes: []string{"json"}} },
			`apis[0].validation.content_types[0]: "json" is not a media type`},
		{"content type twice", func(s *Snapshot) { op(s).ContentTypes = []string{"*/*", "*/*"} },
			`apis[0].operations[0].validation.content_types[1]: "*/*" is listed twice`},
		{"schema does not compile", func(s *Snapshot) { op(s).RequestSchema = map[string]any{"type": "integr"} },
			`apis[0].operations[0].validation.request_schema: does not compile:`},
		{"schema refers outside", func(s *Snapshot) { op(s).RequestSchema = map[string]any{"$ref": "file:///etc/passwd"} },
			`apis[0].operations[0].validation.request_schema: does not compile:`},
		{"parameter location", func(s *Snapshot) {
			op(s).Parameters = []ValidationParameter{{Name: "x", In: "cookie"}}
		}, `apis[0].operations[0].validation.parameters[0].in: "cookie" is not one of path, query, header`},
		{"path parameter not in path", func(s *Snapshot) {
			op(s).Parameters = []ValidationParameter{{Name: "sku", In: "path"}}
		}, `apis[0].operations[0].validation.parameters[0].name: "sku" is not a {name} of the path "/items/{id}"`},
		{"header twice", func(s *Snapshot) {
			op(s).Parameters = []ValidationParameter{{Name: "X-A", In: "header"}, {Name: "x-a", In: "header"}}
		}, `apis[0].operations[0].validation.parameters[1].name: header parameter "x-a" is listed twice`},
		{"parameter schema", func(s *Snapshot) {
			op(s).Parameters = []ValidationParameter{{Name: "id", In: "path", Schema: map[string]any{"minimum": "one"}}}
		}, `apis[0].operations[0].validation.parameters[0].schema: does not compile:`},
		{"response settings", func(s *Snapshot) {
			s.APIs[0].Validation = &Validation{Response: ValidationEnforce, ResponseMaxBodyBytes: MaxResponseMaxBodyBytes}
			v := op(s)
			v.Response = ValidationReport
			v.ResponseSchemas = map[string]map[string]any{"200": schema, "4XX": schema, "default": {}}
		}, ""},
		{"response mode", func(s *Snapshot) { s.APIs[0].Validation = &Validation{Response: "strict"} },
			`apis[0].validation.response: "strict" is not one of enforce, report, off`},
		{"operation response mode", func(s *Snapshot) { op(s).Response = "Enforce" },
			`apis[0].operations[0].validation.response: "Enforce" is not one of enforce, report, off`},
		{"response body bound", func(s *Snapshot) {
			s.APIs[0].Validation = &Validation{ResponseMaxBodyBytes: MaxResponseMaxBodyBytes + 1}
		}, `apis[0].validation.response_max_body_bytes: must be between 0 (1 MiB) and 16777216`},
		{"response body bound negative", func(s *Snapshot) { s.APIs[0].Validation = &Validation{ResponseMaxBodyBytes: -1} },
			`apis[0].validation.response_max_body_bytes: must be between 0 (1 MiB) and`},
		{"response without the document", func(s *Snapshot) {
			s.APIs[0].OpenAPI = "openapi.yaml"
			s.APIs[0].Validation = &Validation{Mode: ValidationOff, Response: ValidationReport}
		}, `apis[0].validation.response: checks nothing from the openapi document while validation.mode is off`},
		{"response status key", func(s *Snapshot) {
			op(s).ResponseSchemas = map[string]map[string]any{"2XX": schema, "20x": schema}
		}, `apis[0].operations[0].validation.response_schemas: "20x" is not a status code (100 to 599), a range such as 2XX, or default`},
		{"response schema does not compile", func(s *Snapshot) {
			op(s).ResponseSchemas = map[string]map[string]any{"404": {"type": "objet"}}
		}, `apis[0].operations[0].validation.response_schemas.404: does not compile:`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			tc.edit(&s)
			got := ""
			if err := s.Validate(); err != nil {
				got = err.Error()
			}
			if tc.want == "" && got != "" || !strings.HasPrefix(got, tc.want) {
				t.Errorf("Validate() error =\n%s\nwant it to start with\n%s", got, tc.want)
			}
		})
	}
}

// TestCloneValidation: a clone's schemas and lists are its own.
func TestCloneValidation(t *testing.T) {
	s := validSnapshot()
	s.APIs[0].Validation = &Validation{ContentTypes: []string{"application/json"}}
	s.APIs[0].Operations[0].Validation = &OperationValidation{
		RequestSchema:   map[string]any{"properties": map[string]any{"a": map[string]any{"type": "string"}}, "required": []any{"a"}},
		Parameters:      []ValidationParameter{{Name: "q", In: "query", Schema: map[string]any{"type": "integer"}}},
		ResponseSchemas: map[string]map[string]any{"200": {"properties": map[string]any{"id": map[string]any{"type": "integer"}}}},
	}
	c := s.Clone()
	c.APIs[0].Operations[0].Validation.ResponseSchemas["200"]["properties"].(map[string]any)["id"].(map[string]any)["type"] = "string"
	c.APIs[0].Operations[0].Validation.ResponseSchemas["default"] = nil
	if rs := s.APIs[0].Operations[0].Validation.ResponseSchemas; len(rs) != 1 ||
		rs["200"]["properties"].(map[string]any)["id"].(map[string]any)["type"] != "integer" {
		t.Error("editing the clone's response schemas changed the original")
	}
	c.APIs[0].Validation.ContentTypes[0] = "text/plain"
	cv := c.APIs[0].Operations[0].Validation
	cv.RequestSchema["properties"].(map[string]any)["a"].(map[string]any)["type"] = "integer"
	cv.RequestSchema["required"].([]any)[0] = "b"
	cv.Parameters[0].Schema["type"] = "string"
	v := s.APIs[0].Operations[0].Validation
	if s.APIs[0].Validation.ContentTypes[0] != "application/json" ||
		v.RequestSchema["properties"].(map[string]any)["a"].(map[string]any)["type"] != "string" ||
		v.RequestSchema["required"].([]any)[0] != "a" || v.Parameters[0].Schema["type"] != "integer" {
		t.Error("editing the clone changed the original")
	}
}

func TestResponseMode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		api     *Validation
		op      *OperationValidation
		schemas bool
		want    string
	}{
		{"nothing set, schemas", nil, nil, true, ValidationReport},
		{"nothing set, no schemas", nil, nil, false, ValidationOff},
		{"API mode enforce", &Validation{Mode: ValidationEnforce}, nil, true, ValidationReport},
		{"API mode off", &Validation{Mode: ValidationOff}, nil, true, ValidationOff},
		{"API response", &Validation{Mode: ValidationOff, Response: ValidationEnforce}, nil, true, ValidationEnforce},
		{"API response, no schemas", &Validation{Response: ValidationEnforce}, nil, false, ValidationEnforce},
		{"operation mode off", &Validation{Mode: ValidationEnforce}, &OperationValidation{Mode: ValidationOff}, true, ValidationOff},
		{"operation mode on, API off", &Validation{Mode: ValidationOff}, &OperationValidation{Mode: ValidationReport}, true, ValidationReport},
		{"operation response wins", &Validation{Response: ValidationEnforce}, &OperationValidation{Response: ValidationOff}, true, ValidationOff},
		{"API response beats operation mode off", &Validation{Response: ValidationEnforce}, &OperationValidation{Mode: ValidationOff}, true, ValidationEnforce},
	} {
		if got := ResponseMode(tc.api, tc.op, tc.schemas); got != tc.want {
			t.Errorf("%s: ResponseMode = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResponseLimit(t *testing.T) {
	if got := (*Validation)(nil).ResponseLimit(); got != DefaultResponseMaxBodyBytes {
		t.Errorf("nil: %d", got)
	}
	if got := (&Validation{ResponseMaxBodyBytes: 10}).ResponseLimit(); got != 10 {
		t.Errorf("set: %d", got)
	}
}
