package token

import (
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// FuzzVerify feeds arbitrary strings to a verifier whose issuer signed
// exactly one token: nothing else may ever verify, and nothing may panic.
// Seeds in testdata/fuzz/FuzzVerify cover alg none, HMAC, foreign keys,
// jku/jwk headers, JSON serialization and broken encodings.
func FuzzVerify(f *testing.F) {
	e := newTestEnv(f, VerifierConfig{})
	good := e.token(f, nil)
	hp, sig, _ := Split(good)
	f.Add(good)
	f.Add(hp + "." + sig[:len(sig)-2])
	f.Add(strings.Replace(good, ".", "..", 1))
	f.Add(hp)
	f.Add(good + ".")
	f.Add(signToken(f, newSigningKey(f, jose.ES256, "k1"), claimsAt(e.issuer.URL(), e.clock.Now()), nil))
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := e.v.Verify(t.Context(), raw)
		if err == nil && raw != good {
			t.Fatalf("Verify accepted a token the issuer never signed: %q", raw)
		}
		if err != nil && got != nil {
			t.Fatalf("Verify returned a result with error %v", err)
		}
		if err == nil && got.JWT != raw {
			t.Fatalf("Verify returned JWT %q for %q", got.JWT, raw)
		}
	})
}
