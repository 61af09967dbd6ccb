package openapi

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/scope"
)

// FuzzParse feeds arbitrary documents to Parse: it must return either an
// *Error on one line or an API whose operations are well formed, never
// panic, and never call an operation public and scoped at once.
func FuzzParse(f *testing.F) {
	// The seeds are in testdata/fuzz/FuzzParse: the documents of the
	// tests, and small ones with aliases, merge keys, $refs, server
	// variables and x-portcullis extensions.
	f.Add([]byte(doc("  /a:\n    get: {security: &s [{oauth: [read]}]}\n    put: {security: *s}\n", "")))
	valid := slices.Collect(func(yield func(string) bool) {
		for _, m := range methods {
			if !yield(m) {
				return
			}
		}
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		api, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse() error = %v (%T), want an *Error", err, err)
			}
			if api != nil {
				t.Fatalf("Parse() = %+v and an error", api)
			}
			if msg := err.Error(); strings.ContainsAny(msg, "\r\n") || !strings.HasPrefix(msg, "openapi: ") {
				t.Fatalf("Error() = %q, want one line starting with openapi:", msg)
			}
			return
		}
		if strings.HasSuffix(api.BasePath, "/") {
			t.Fatalf("BasePath = %q ends in a slash", api.BasePath)
		}
		for _, op := range api.Operations {
			if !slices.Contains(valid, op.Method) {
				t.Fatalf("operation method %q", op.Method)
			}
			if !strings.HasPrefix(op.Path, "/") {
				t.Fatalf("operation path %q does not start with /", op.Path)
			}
			if op.Public && len(op.Scopes) > 0 {
				t.Fatalf("operation %s %s is public and requires %v", op.Method, op.Path, op.Scopes)
			}
			for i, s := range op.Scopes {
				if !scope.IsToken(s) || slices.Contains(op.Scopes[:i], s) {
					t.Fatalf("operation %s %s scopes %q", op.Method, op.Path, op.Scopes)
				}
			}
			for i, e := range op.Extensions {
				if !strings.HasPrefix(e.Name, ExtensionPrefix) || e.Path == "" || e.Value == nil || e.Line < 1 {
					t.Fatalf("operation %s %s extension %+v", op.Method, op.Path, e)
				}
				if slices.ContainsFunc(op.Extensions[:i], func(o Extension) bool { return o.Name == e.Name }) {
					t.Fatalf("operation %s %s has %s twice", op.Method, op.Path, e.Name)
				}
				e.LineAt(".a[0].b")
			}
		}
	})
}
