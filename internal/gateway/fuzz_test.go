package gateway

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/internal/token"
)

// fuzzRoutes is a table with every kind of segment.
var fuzzRoutes = []string{
	"GET /",
	"GET /items",
	"GET /items/",
	"GET /items/{id}",
	"GET /items/special",
	"* /items/{id}/history",
	"GET /orgs/{org}/items/{id}",
	"GET /files/{path...}",
	"POST /a/{x}/{y}/{z}",
}

// FuzzMatch: any path either matches nothing or matches an operation
// whose pattern, filled with the captured values, gives the path back.
func FuzzMatch(f *testing.F) {
	rt := testRouter(f, fuzzRoutes...)
	f.Fuzz(func(t *testing.T, method, path string) {
		var vals [maxParams]string
		op, _ := rt.match(method, path, &vals)
		if op == nil {
			return
		}
		if path == "" {
			path = "/"
		}
		var b strings.Builder
		n := 0
		for _, s := range op.pattern.segs {
			b.WriteByte('/')
			switch s.kind {
			case segLiteral:
				b.WriteString(s.lit)
			default:
				v := vals[n]
				n++
				if s.kind == segWild && (v == "" || strings.Contains(v, "/")) {
					t.Fatalf("%s captured %q for {%s}", op.label, v, s.lit)
				}
				b.WriteString(v)
			}
		}
		got := b.String()
		if got == "" {
			got = "/"
		}
		if got != path {
			t.Fatalf("%s matched %q but rebuilds %q", op.label, path, got)
		}
		if op.method != "" && op.method != method && !(method == "HEAD" && op.method == "GET") {
			t.Fatalf("%s matched method %q", op.label, method)
		}
		// cleanPath never panics either, on anything.
		_ = cleanPath(path, path)
	})
}

// FuzzExtractBearer: extraction never panics, and what it returns is a
// b64token of bounded size that appears at the end of the header.
func FuzzExtractBearer(f *testing.F) {
	f.Fuzz(func(t *testing.T, v string) {
		tok, scheme, err := extractCredential(http.Header{"Authorization": {v}})
		if err != nil {
			if tok != "" {
				t.Fatalf("token %q with error %v", tok, err)
			}
			if !errors.Is(err, errNoCredential) && !errors.Is(err, errMalformedCredential) && !errors.Is(err, errCredentialTooLong) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !isB64Token(tok) || len(tok) > token.MaxLength || !strings.HasSuffix(v, tok) {
			t.Fatalf("extracted %q from %q", tok, v)
		}
		switch {
		case scheme == schemeBearer && asciiEqualFold(v[:6], "bearer"):
		case scheme == schemeDPoP && asciiEqualFold(v[:4], "dpop"):
		default:
			t.Fatalf("extracted a token from %.6q as scheme %d", v, scheme)
		}
	})
}
