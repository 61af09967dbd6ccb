package token

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// malleate returns the twin of an ECDSA-signed compact JWS: S replaced
// by n - S, which verifies just the same.
func malleate(t testing.TB, jws string, curve elliptic.Curve, size int) string {
	t.Helper()
	i := strings.LastIndexByte(jws, '.')
	sig, err := base64.RawURLEncoding.DecodeString(jws[i+1:])
	if err != nil || len(sig) != 2*size {
		t.Fatalf("signature: %v (%d bytes)", err, len(sig))
	}
	s := new(big.Int).SetBytes(sig[size:])
	s.Sub(curve.Params().N, s).FillBytes(sig[size:])
	return jws[:i+1] + base64.RawURLEncoding.EncodeToString(sig)
}

func ecdsaKey(t testing.TB, alg jose.SignatureAlgorithm, curve elliptic.Curve) signingKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{kid: "k-" + string(alg), alg: alg, priv: priv}
}

// TestVerifyRefusesHighS: with RequireLowS, of a token and its malleated
// twin (S' = n - S) only the low-S spelling verifies, whichever was made
// first and whatever the cache holds; without it both verify (the
// malleability the option closes).
func TestVerifyRefusesHighS(t *testing.T) {
	for _, tc := range []struct {
		alg   jose.SignatureAlgorithm
		curve elliptic.Curve
		size  int
	}{
		{jose.ES256, elliptic.P256(), 32},
		{jose.ES384, elliptic.P384(), 48},
		{jose.ES512, elliptic.P521(), 66},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			key := ecdsaKey(t, tc.alg, tc.curve)
			strict := newTestEnv(t, VerifierConfig{Algorithms: []string{string(tc.alg)}, RequireLowS: true}, key)
			lax := newTestEnv(t, VerifierConfig{Algorithms: []string{string(tc.alg)}}, key)
			raw := signToken(t, key, claimsAt(strict.issuer.URL(), strict.clock.Now()), nil)
			laxRaw := signToken(t, key, claimsAt(lax.issuer.URL(), lax.clock.Now()), nil)

			low, err := CanonicalECDSA(raw)
			if err != nil {
				t.Fatalf("CanonicalECDSA: %v", err)
			}
			high := malleate(t, low, tc.curve, tc.size)
			if _, err := strict.v.Verify(t.Context(), low); err != nil {
				t.Fatalf("Verify(low S) = %v, want it accepted", err)
			}
			// The twin is another string: a cache hit for low must not
			// let it through, nor may a second try.
			for range 2 {
				if _, err := strict.v.Verify(t.Context(), high); !errors.Is(err, ErrSignature) {
					t.Fatalf("Verify(high S) = %v, want ErrSignature", err)
				}
			}

			laxLow, err := CanonicalECDSA(laxRaw)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{laxLow, malleate(t, laxLow, tc.curve, tc.size)} {
				if _, err := lax.v.Verify(t.Context(), s); err != nil {
					t.Errorf("without RequireLowS, Verify = %v, want both spellings accepted", err)
				}
			}
		})
	}
}

// TestCanonicalECDSA: the low-S form verifies with the same key, is its
// own canonical form, and other algorithms pass unchanged.
func TestCanonicalECDSA(t *testing.T) {
	key := ecdsaKey(t, jose.ES384, elliptic.P384())
	pub := &key.priv.(*ecdsa.PrivateKey).PublicKey
	half := new(big.Int).Rsh(elliptic.P384().Params().N, 1)
	var sawHigh bool
	// About half of all signatures are high-S: a few dozen make sure
	// both kinds are seen.
	for i := 0; i < 64; i++ {
		raw := signRaw(t, key, []byte(`{"n":`+big.NewInt(int64(i)).String()+`}`), nil)
		low, err := CanonicalECDSA(raw)
		if err != nil {
			t.Fatal(err)
		}
		sawHigh = sawHigh || low != raw
		i := strings.LastIndexByte(low, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(low[i+1:])
		r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
		if s.Cmp(half) > 0 {
			t.Fatalf("CanonicalECDSA left S high")
		}
		h := sha512.Sum384([]byte(low[:i]))
		if !ecdsa.Verify(pub, h[:], r, s) {
			t.Fatalf("the low-S form does not verify")
		}
		if again, _ := CanonicalECDSA(low); again != low {
			t.Fatalf("CanonicalECDSA is not idempotent")
		}
		if err := checkLowS(string(jose.ES384), sig); err != nil {
			t.Fatalf("checkLowS(low) = %v", err)
		}
	}
	if !sawHigh {
		t.Errorf("no high-S signature in 64: CanonicalECDSA changed nothing")
	}
	rsa := newSigningKey(t, jose.RS256, "r")
	raw := signRaw(t, rsa, []byte(`{}`), nil)
	if got, err := CanonicalECDSA(raw); err != nil || got != raw {
		t.Errorf("CanonicalECDSA(RS256) = %v, %v; want it unchanged", got != raw, err)
	}
	if _, err := CanonicalECDSA("not.a-jws"); !errors.Is(err, ErrMalformed) {
		t.Errorf("CanonicalECDSA(junk) err = %v, want ErrMalformed", err)
	}
}
