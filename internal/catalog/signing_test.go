package catalog

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidateResponseSigning(t *testing.T) {
	key := func(id, alg string) SigningKey { return SigningKey{ID: id, Alg: alg, PrivateKeyEnv: "SIGNING_KEY"} }
	ok := func() ResponseSigning { return ResponseSigning{Keys: []SigningKey{key("k1", "ed25519")}} }
	tests := []struct {
		name string
		edit func(*ResponseSigning)
		want []string // the problems' fields, after "apis[0].response_signing."
	}{
		{"defaults", func(*ResponseSigning) {}, nil},
		{"rotation", func(s *ResponseSigning) {
			s.Keys = []SigningKey{key("k2", "ecdsa-p256-sha256"), {ID: "k1", Alg: "ed25519", PrivateKeyFile: "keys/k1.pem"}}
		}, nil},
		{"custom", func(s *ResponseSigning) {
			s.Label, s.MaxBodyBytes = "sig-1", 4096
			s.Components = []string{"@status", "content-digest", "@authority;req", "@path;req", `@query-param;name="page";req`, "x-request-id", "content-type;req"}
		}, nil},
		{"no keys", func(s *ResponseSigning) { s.Keys = nil }, []string{"keys"}},
		{"unknown alg", func(s *ResponseSigning) { s.Keys[0].Alg = "rsa-pss-sha512" }, []string{"keys[0].alg"}},
		{"no key source", func(s *ResponseSigning) { s.Keys[0].PrivateKeyEnv = "" }, []string{"keys[0].private_key_file"}},
		{"two key sources", func(s *ResponseSigning) { s.Keys[0].PrivateKeyFile = "k.pem" }, []string{"keys[0].private_key_env"}},
		{"bad env name", func(s *ResponseSigning) { s.Keys[0].PrivateKeyEnv = "1KEY" }, []string{"keys[0].private_key_env"}},
		{"bad id", func(s *ResponseSigning) { s.Keys[0].ID = "k\n1" }, []string{"keys[0].id"}},
		{"duplicate id", func(s *ResponseSigning) { s.Keys = append(s.Keys, key("k1", "ed25519")) }, []string{"keys[1].id"}},
		{"bad label", func(s *ResponseSigning) { s.Label = "Sig" }, []string{"label"}},
		{"unknown component", func(s *ResponseSigning) { s.Components = []string{"@nope", "content-digest"} }, []string{"components[0]"}},
		{"request component without req", func(s *ResponseSigning) { s.Components = []string{"@method", "content-digest"} }, []string{"components[0]"}},
		{"status with req", func(s *ResponseSigning) { s.Components = []string{"@status;req", "content-digest"} }, []string{"components[0]"}},
		{"upper-case field", func(s *ResponseSigning) { s.Components = []string{"Content-Type", "content-digest"} }, []string{"components[0]"}},
		{"unsupported parameter", func(s *ResponseSigning) { s.Components = []string{"content-type;sf", "content-digest"} }, []string{"components[0]"}},
		{"twice", func(s *ResponseSigning) { s.Components = []string{"content-digest", "content-digest"} }, []string{"components[1]"}},
		{"no digest", func(s *ResponseSigning) { s.Components = []string{"@status", "content-digest;req"} }, []string{"components"}},
		{"negative body", func(s *ResponseSigning) { s.MaxBodyBytes = -1 }, []string{"max_body_bytes"}},
		{"huge body", func(s *ResponseSigning) { s.MaxBodyBytes = MaxSignedBodyBytes + 1 }, []string{"max_body_bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validSnapshot()
			rs := ok()
			tc.edit(&rs)
			s.APIs[0].ResponseSigning = &rs
			var got []string
			for _, p := range s.Problems(Fields{}) {
				got = append(got, strings.TrimPrefix(p.Field, "apis[0].response_signing."))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestResponseSigningDefaults(t *testing.T) {
	s := &ResponseSigning{}
	if got := s.SignatureLabel(); got != "portcullis" {
		t.Errorf("label %q", got)
	}
	if diff := cmp.Diff([]string{"@status", "content-type", "content-digest", "@method;req", "@target-uri;req"}, s.SignedComponents()); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	if got := s.BodyLimit(); got != 1<<20 {
		t.Errorf("body limit %d", got)
	}
	// The defaults are valid themselves.
	snap := validSnapshot()
	snap.APIs[0].ResponseSigning = &ResponseSigning{Keys: []SigningKey{{ID: "k", Alg: "ed25519", PrivateKeyEnv: "K"}},
		Components: DefaultSignedComponents()}
	if p := snap.Problems(Fields{}); len(p) > 0 {
		t.Errorf("default components refused: %v", p[0])
	}
}

func TestResponseSigningCloneIsDeep(t *testing.T) {
	s := &ResponseSigning{Keys: []SigningKey{{ID: "a"}}, Components: []string{"x"}}
	c := s.clone()
	c.Keys[0].ID, c.Components[0] = "changed", "changed"
	if s.Keys[0].ID != "a" || s.Components[0] != "x" {
		t.Error("editing a clone changed the original")
	}
}
