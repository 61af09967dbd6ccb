package phantom

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/phantom/phantomtest"
	"github.com/portcullis/portcullis/internal/token"
)

// fuzzGoodSig has the size of an ES256 signature (64 bytes), which the
// split resolver's shape check asks for.
const fuzzGoodSig = "c2ln" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

const fuzzGoodJWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9." + fuzzGoodSig

// acceptOne is a verifier that accepts exactly fuzzGoodJWT.
var acceptOne = phantomtest.VerifierFunc(func(_ context.Context, raw string) (*token.Verified, error) {
	if raw != fuzzGoodJWT {
		return nil, token.ErrSignature
	}
	return &token.Verified{JWT: raw, Claims: &token.Claims{Subject: "alice", ExpiresAt: time.Unix(1<<40, 0)}}, nil
})

// FuzzIntrospectionAnswer feeds arbitrary responses to the code that
// reads the authorization server's answer: it never panics, lets a token
// in only with the verified JWT, and every refusal is ErrInactive or
// ErrUnavailable.
func FuzzIntrospectionAnswer(f *testing.F) {
	f.Add(200, "application/jwt", []byte(fuzzGoodJWT))
	f.Add(200, "application/jwt; charset=utf-8", []byte(" "+fuzzGoodJWT+"\r\n"))
	f.Add(200, "application/json", []byte(`{"active":false}`))
	f.Add(200, "application/json", []byte(`{"active":true}`))
	f.Add(200, "application/json", []byte(`{"active":"false"}`))
	f.Add(200, "text/html", []byte("<html>"))
	f.Add(401, "application/json", []byte(`{"error":"invalid_client"}`))
	f.Add(503, "", []byte(nil))
	f.Add(200, "application/jwt;;", []byte(fuzzGoodJWT))
	in, err := NewIntrospector(IntrospectorConfig{
		URL: "https://as.example/introspect", ClientID: "g", ClientSecret: "s",
	}, acceptOne, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		v, err := in.answer(context.Background(), status, contentType, bytes.NewReader(body))
		if err == nil {
			if v == nil || v.JWT != fuzzGoodJWT {
				t.Fatalf("answer let in %v without the verified JWT", v)
			}
			if status != 200 || !strings.HasPrefix(strings.ToLower(contentType), "application/jwt") {
				t.Fatalf("answer accepted status %d, content type %q", status, contentType)
			}
			return
		}
		if v != nil {
			t.Fatalf("answer returned a token with error %v", err)
		}
		if errors.Is(err, ErrInactive) == errors.Is(err, ErrUnavailable) {
			t.Fatalf("answer err = %v, want exactly one of ErrInactive, ErrUnavailable", err)
		}
	})
}

type countingSource struct{ calls atomic.Int64 }

func (s *countingSource) HeaderPayload(context.Context, []byte) (string, error) {
	s.calls.Add(1)
	return "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9", nil
}

// FuzzSplitResolve presents arbitrary signatures: malformed ones never
// reach the source, and only the one true signature resolves.
func FuzzSplitResolve(f *testing.F) {
	f.Add(fuzzGoodSig)
	f.Add("c2ln")
	f.Add("")
	f.Add("a.b")
	f.Add("abc=")
	f.Add(strings.Repeat("A", token.MaxLength+1))
	f.Fuzz(func(t *testing.T, sig string) {
		src := &countingSource{}
		r := NewSplitResolver(src, acceptOne, IntrospectorConfig{}, nil, nil)
		v, err := r.Resolve(context.Background(), sig)
		wellFormed := len(sig) <= token.MaxLength && token.IsSplitSignature(sig)
		if got := src.calls.Load(); (got == 1) != wellFormed {
			t.Fatalf("source calls = %d for %q (well formed: %v)", got, sig, wellFormed)
		}
		if err == nil {
			if sig != fuzzGoodSig || v.JWT != fuzzGoodJWT {
				t.Fatalf("Resolve(%q) let in %q", sig, v.JWT)
			}
			return
		}
		if !errors.Is(err, ErrInactive) {
			t.Fatalf("Resolve(%q) err = %v, want ErrInactive", sig, err)
		}
	})
}
