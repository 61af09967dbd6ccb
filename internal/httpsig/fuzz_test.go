package httpsig

import (
	"net/http"
	"strings"
	"testing"
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
