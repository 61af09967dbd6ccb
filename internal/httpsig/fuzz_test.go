package httpsig

import (
	"crypto/ed25519"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzSignatureBase feeds a received Signature-Input and message parts to
// the base builder: it must never panic, and a base it builds has one
// line per covered component plus @signature-params, with no control
// character but the LF between lines (and HTAB inside field values).
func FuzzSignatureBase(f *testing.F) {
	f.Add(`sig=("@status" "content-type" "@method";req "@target-uri";req);created=1;keyid="k"`, "application/json", "https://example.com/a?b=c", 200)
	f.Add(`sig=("x-a" "@query-param";name="b";req "@authority";req)`, "v\nx", "https://EXAMPLE.com:443/?b=%20", 503)
	f.Add(`sig=("@path";req "@query";req "@scheme";req)`, "\x00", "http://a/\r", 0)
	f.Add(`sig=();alg="ed25519";tag="t";nonce="n";expires=2`, "", "", 204)
	f.Fuzz(func(t *testing.T, input, value, target string, status int) {
		in, _, err := ParseFields([]string{input}, []string{"sig=:AA==:"}, "sig")
		if err != nil {
			return
		}
		h := http.Header{"Content-Type": {value}, "X-A": {value, value}}
		m := &Message{Status: status, Header: h, Request: &Request{Method: "POST", TargetURI: target, Header: h}}
		base, err := Base(m, in)
		if err != nil {
			return
		}
		if n := strings.Count(string(base), "\n"); n != len(in.Components) {
			t.Fatalf("%d components gave %d line breaks:\n%q", len(in.Components), n, base)
		}
		for _, b := range base {
			if b < 0x20 && b != '\n' && b != '\t' || b == 0x7f {
				t.Fatalf("control byte %#x in base %q", b, base)
			}
		}
	})
}

// FuzzParseRequest feeds a request's Signature-Input and Signature as a
// client could send them to the verifier of signed requests: it must
// never panic, a request with content is never accepted without
// content-digest covered, nothing it accepts lacks a keyid or a created
// time inside the window, and verifying what it accepted with a key
// (which cannot have signed it) never succeeds.
func FuzzParseRequest(f *testing.F) {
	f.Add(`sig1=("@method" "@target-uri" "authorization" "content-digest");created=1700000000;keyid="k";alg="ed25519"`, "sig1=:AAAA:", "POST", "https://gw.example/a?b=c", true)
	f.Add(`sig1=("@method");created=1700000000;keyid="k", sig2=();created=1`, "sig1=:AAAA:, sig2=:AA==:", "GET", "http://a/", false)
	f.Add(`sig1=("@query-param";name="x" "@authority" "@scheme" "@path" "@query");created=1700000001;expires=1700000002;keyid="k";nonce="n";tag="t"`, "sig1=:AAAA:", "", "https://A.example:443/p?x=%20", false)
	f.Add(`sig1=("@method";req);created=1700000000;keyid="k";alg="hmac-sha256"`, "sig1=:AAAA:", "GET", "https://a/", false)
	f.Add(`sig1=("content-digest" "content-digest");created=1700000000;keyid="k"`, "sig1=:AAAA:", "PUT", "https://a/", true)
	pub, _, _ := ed25519.GenerateKey(nil)
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, input, signature, method, target string, hasContent bool) {
		h := http.Header{"Signature-Input": {input}, "Signature": {signature}, "Authorization": {"Bearer x"}, "Content-Digest": {"sha-256=:AA==:"}}
		p := &RequestPolicy{Required: []Component{{Name: Method}}}
		s, err := p.ParseRequest(h, hasContent, now)
		if err != nil {
			return
		}
		ps := s.Input.Params
		if ps.KeyID == "" || ps.Created.IsZero() || ps.Created.After(now.Add(DefaultClockSkew)) || now.Sub(ps.Created) > DefaultMaxAge {
			t.Fatalf("accepted params %+v", ps)
		}
		if hasContent && !s.CoversDigest() {
			t.Fatalf("accepted a request with content without content-digest: %q", input)
		}
		if s.Verify(&Request{Method: method, TargetURI: target, Header: h}, pub) == nil {
			t.Fatalf("a signature nobody made verified: %q %q", input, signature)
		}
	})
}
