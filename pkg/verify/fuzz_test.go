package verify

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/portcullis/portcullis/pkg/issuer"
)

// noNetwork is a transport for fuzzing: the verifier's keys are loaded
// up front, and nothing may leave the process.
type noNetwork struct{}

func (noNetwork) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network while fuzzing")
}

// FuzzTokenVerify feeds arbitrary strings to the token parsing path
// (shape, JWS, header, key lookup, signature, claims) of a verifier whose
// keys are loaded. Seeds are in testdata/fuzz/FuzzTokenVerify and below.
func FuzzTokenVerify(f *testing.F) {
	clock := newFxClock()
	const iss = "https://issuer.example"
	key := fxNewKey(f, "k1", jose.ES256)
	v, err := New(Config{
		Issuer: iss, Audience: fxAudience, JWKSURL: iss + "/jwks.json",
		Now: clock.Now, HTTPClient: &http.Client{Transport: noNetwork{}},
	})
	if err != nil {
		f.Fatal(err)
	}
	doc, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.public()}})
	if err != nil {
		f.Fatal(err)
	}
	keys, err := issuer.ParseKeySet(doc)
	if err != nil {
		f.Fatal(err)
	}
	v.keys.current.Store(&jwkSet{keys: keys, fetched: clock.Now()})
	// A fetch "just happened": unknown kids are refused without one.
	v.keys.lastAttempt = clock.Now().UnixNano()

	now := clock.Now().Unix()
	claims := map[string]any{"iss": iss, "aud": fxAudience, "sub": "alice", "exp": now + 60, "iat": now,
		"scope": "a b", "act": map[string]any{"sub": "svc", "act": map[string]any{"client_id": "c"}}, "cnf": map[string]any{"jkt": "x"}}
	valid := fxSign(f, key, TypeAccessToken, nil, claims)
	f.Add(valid)
	f.Add(fxSign(f, key, TypePhantomToken, nil, `{"iss":"`+iss+`","aud":["`+fxAudience+`"],"exp":1e10}`))
	f.Add(fxSign(f, key, TypeAccessToken, nil, `{"iss":"`+iss+`","aud":"`+fxAudience+`","exp":1e10,"act":{"act":{"act":{}}}}`))
	f.Add(fxSign(f, key, TypeAccessToken, nil, `[]`))
	f.Add(valid[:len(valid)-2])
	f.Add(strings.Replace(valid, ".", "..", 1))

	f.Fuzz(func(t *testing.T, tok string) {
		c, err := v.Verify(t.Context(), tok)
		if err != nil {
			if c != nil {
				t.Fatal("claims returned with an error")
			}
			if len(tok) >= 16 && strings.Contains(err.Error(), tok) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		if c.Issuer != iss {
			t.Fatalf("accepted claims of issuer %q", c.Issuer)
		}
		found := false
		for _, a := range c.Audience {
			found = found || a == fxAudience
		}
		if !found || c.ExpiresAt.IsZero() {
			t.Fatal("accepted a token without the audience or exp")
		}
		_ = c.ActorChain()
	})
}

// FuzzAccessToken feeds arbitrary Authorization header values to the
// credential parser: it must never panic, and a token it returns is
// always a non-empty token68.
func FuzzAccessToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "DPoP abc.def", "bearer  a==", "Basic x", "Bearer", "Bearer a b", ""} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, dpop bool) {
		tok, _, err := accessToken([]string{v}, dpop)
		if err == nil && (tok == "" || !validToken68(tok)) {
			t.Fatalf("accepted %q", tok)
		}
	})
}
