package clientauth_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/clientauth"
	"github.com/portcullis/portcullis/internal/store"
)

var update = flag.Bool("update", false, "rewrite the fuzz seed corpus in testdata/fuzz")

// fuzzKeyPath holds a fixed client key, so seed assertions stay valid: the
// seeds are checked in, and a key generated per run would not verify them.
const fuzzKeyPath = "testdata/fuzz_client_key.json"

const fuzzJWTID = "fuzz-jwt"

// descriptions is every Description an *Error may carry. Responses are
// built only from these constants, so no input can be echoed back.
var descriptions = map[string]bool{
	"client authentication failed":                                    true,
	"client authentication is required":                               true,
	"more than one client authentication method was used":             true,
	"a client authentication parameter was repeated":                  true,
	"client credentials must be sent in the request body":             true,
	"client credentials are too large":                                true,
	"unsupported client_assertion_type":                               true,
	"client_assertion and client_assertion_type must both be present": true,
	"client assertion is invalid":                                     true,
	"client assertion is expired or not yet valid":                    true,
	"client assertion was already used":                               true,
	"client authentication is temporarily unavailable":                true,
}

func loadFuzzKey(t testing.TB) jose.JSONWebKey {
	t.Helper()
	b, err := os.ReadFile(fuzzKeyPath)
	if err != nil {
		t.Fatalf("read fuzz key (regenerate with go test -run TestFuzzSeeds -update): %v", err)
	}
	var k jose.JSONWebKey
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return k
}

func fuzzClients(t testing.TB) []store.Client {
	k := loadFuzzKey(t)
	return append(testClients(t), store.Client{
		ID: fuzzJWTID, AuthMethod: store.AuthPrivateKeyJWT,
		JWKS: jwks(t, k.Public()),
	})
}

// fuzzSeeds are the checked-in corpus: one valid request per method and a
// few near misses.
func fuzzSeeds(t testing.TB, key jose.JSONWebKey) map[string][2]string {
	claims := assertionClaims(func(c map[string]any) {
		c["iss"], c["sub"], c["jti"] = fuzzJWTID, fuzzJWTID, "seed-jti"
	})
	assertion := signAssertion(t, key.Key, jose.ES256, key.KeyID, claims)
	return map[string][2]string{
		"basic":           {basicHeader(basicID, basicSecret), ""},
		"basic_wrong":     {basicHeader(basicID, "nope"), ""},
		"basic_raw":       {rawBasicHeader("a:b:c"), "client_id=a"},
		"post":            {"", form("client_id", postID, "client_secret", postSecret).Encode()},
		"none":            {"", "client_id=" + url.QueryEscape(publicID) + "&grant_type=authorization_code"},
		"assertion":       {"", assertionForm(assertion).Encode()},
		"assertion_basic": {basicHeader(fuzzJWTID, "x"), assertionForm(assertion, "client_id", fuzzJWTID).Encode()},
		"repeated":        {"", "client_id=a&client_id=b&client_secret=c"},
		"empty":           {"", ""},
	}
}

// TestFuzzSeeds checks that the seed corpus is present; with -update it
// rewrites the corpus (and the key, when missing).
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzAuthenticate")
	if *update {
		if _, err := os.Stat(fuzzKeyPath); err != nil {
			b, err := json.MarshalIndent(jose.JSONWebKey{Key: getKeys().unregistered, KeyID: "fuzz-key", Algorithm: "ES256", Use: "sig"}, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fuzzKeyPath, append(b, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, in := range fuzzSeeds(t, loadFuzzKey(t)) {
			text := fmt.Sprintf("go test fuzz v1\nstring(%s)\nstring(%s)\n", strconv.Quote(in[0]), strconv.Quote(in[1]))
			if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no seed corpus in %s (regenerate with -update): %v", dir, err)
	}
	// The valid seeds must stay valid, or the fuzzer never reaches the
	// code behind a successful parse.
	st := newMemStore(fuzzClients(t)...)
	for name, wantID := range map[string]string{"basic": basicID, "post": postID, "none": publicID, "assertion": fuzzJWTID} {
		t.Run(name, func(t *testing.T) {
			authz, body := readSeed(t, filepath.Join(dir, name))
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if authz != "" {
				r.Header.Set("Authorization", authz)
			}
			if err := r.ParseForm(); err != nil {
				t.Fatal(err)
			}
			c, err := newAuthenticator(st).Authenticate(t.Context(), r)
			if err != nil || c.ID != wantID {
				t.Errorf("seed %s: Authenticate() = %q, %v; want %q", name, c.ID, err, wantID)
			}
		})
	}
}

// readSeed parses a two-string corpus file.
func readSeed(t *testing.T, path string) (string, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 {
		t.Fatalf("%s: %d lines, want 3", path, len(lines))
	}
	var vals [2]string
	for i, l := range lines[1:] {
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(l, "string("), ")"))
		if err != nil {
			t.Fatalf("%s line %d: %v", path, i+2, err)
		}
		vals[i] = v
	}
	return vals[0], vals[1]
}

// FuzzAuthenticate feeds arbitrary Authorization headers and form bodies to
// Authenticate: it must never panic, every failure must be a typed *Error
// with a fixed description, and success must name a registered client.
func FuzzAuthenticate(f *testing.F) {
	clients := fuzzClients(f)
	registered := map[string]bool{}
	for _, c := range clients {
		registered[c.ID] = true
	}
	f.Fuzz(func(t *testing.T, authorization, body string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if authorization != "" {
			r.Header.Set("Authorization", authorization)
		}
		if err := r.ParseForm(); err != nil {
			return // the endpoint answers invalid_request before authenticating
		}
		a := newAuthenticator(newMemStore(clients...))
		c, err := a.Authenticate(t.Context(), r)
		if err == nil {
			if !registered[c.ID] {
				t.Fatalf("Authenticate() returned unregistered client %q", c.ID)
			}
			return
		}
		var ae *clientauth.Error
		if !errors.As(err, &ae) {
			t.Fatalf("Authenticate() error %v is not a *clientauth.Error", err)
		}
		if ae.Code != clientauth.CodeInvalidClient && ae.Code != clientauth.CodeInvalidRequest {
			t.Errorf("Code = %q", ae.Code)
		}
		if !descriptions[ae.Description] {
			t.Errorf("Description %q is not one of the fixed descriptions", ae.Description)
		}
		if ae.Basic != isBasicHeader(authorization) {
			t.Errorf("Basic = %v for Authorization %q", ae.Basic, authorization)
		}
		if c.ID != "" {
			t.Errorf("Authenticate() returned client %q with an error", c.ID)
		}
	})
}

func isBasicHeader(h string) bool {
	scheme, _, _ := strings.Cut(h, " ")
	return strings.EqualFold(scheme, "basic")
}
