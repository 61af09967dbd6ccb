package verify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/pkg/verify"
)

const audience = "urn:portcullis:api:warehouse"

// exampleIssuer stands for the Portcullis authorization server: it
// publishes a discovery document and a JWK Set, and mints tokens the way
// the gateway forwards them.
type exampleIssuer struct {
	*httptest.Server
	key *ecdsa.PrivateKey
}

func newExampleIssuer() *exampleIssuer {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	iss := &exampleIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks.json"})
	})
	mux.HandleFunc("GET /jwks.json", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"},
		}})
	})
	iss.Server = httptest.NewServer(mux)
	return iss
}

// mint signs a phantom token with claims added to valid defaults.
func (iss *exampleIssuer) mint(claims map[string]any) string {
	now := time.Now().Unix()
	c := map[string]any{"iss": iss.URL, "aud": audience, "iat": now, "exp": now + 300, "client_id": "warehouse-spa"}
	for k, v := range claims {
		c[k] = v
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: iss.key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType(verify.TypePhantomToken))
	if err != nil {
		log.Fatal(err)
	}
	payload, _ := json.Marshal(c)
	obj, err := signer.Sign(payload)
	if err != nil {
		log.Fatal(err)
	}
	tok, _ := obj.CompactSerialize()
	return tok
}

// Verify a token the gateway forwarded. The keys are found through the
// issuer's discovery document on first use.
func ExampleVerifier_Verify() {
	issuer := newExampleIssuer()
	defer issuer.Close()

	v, err := verify.New(verify.Config{Issuer: issuer.URL, Audience: audience})
	if err != nil {
		log.Fatal(err)
	}
	tok := issuer.mint(map[string]any{"sub": "alice", "scope": "list_items order_item", "office": "head"})

	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	office, _ := claims.String("office")
	fmt.Println(claims.Subject, claims.ClientID, claims.Scopes, office)

	// A token for another API is refused.
	_, err = v.Verify(context.Background(), issuer.mint(map[string]any{"sub": "alice", "aud": "urn:other"}))
	fmt.Println(err)
	// Output:
	// alice warehouse-spa [list_items order_item] head
	// verify: wrong audience
}

// Protect a backend: every route needs a verified token, and a route
// may require scopes of its own.
func ExampleNewMiddleware() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := verify.New(verify.Config{Issuer: issuer.URL, Audience: audience})
	if err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /items", verify.RequireScopes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "items for %s", claims.Subject)
	}), "list_items"))
	h, err := verify.NewMiddleware(v, verify.MiddlewareConfig{Realm: "warehouse"}, mux)
	if err != nil {
		log.Fatal(err)
	}
	backend := httptest.NewServer(h)
	defer backend.Close()

	get := func(tok string) {
		req, _ := http.NewRequest(http.MethodGet, backend.URL+"/items", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK {
			fmt.Println(resp.StatusCode, string(body))
			return
		}
		fmt.Println(resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	get("")
	get(issuer.mint(map[string]any{"sub": "bob", "scope": "list_items"}))
	get(issuer.mint(map[string]any{"sub": "bob", "scope": "order_item"}))
	get(issuer.mint(map[string]any{"sub": "bob", "exp": time.Now().Add(-time.Hour).Unix()}))
	// Output:
	// 401 Bearer realm="warehouse"
	// 200 items for bob
	// 403 Bearer realm="warehouse", error="insufficient_scope", error_description="the access token lacks a required scope", scope="list_items"
	// 401 Bearer realm="warehouse", error="invalid_token", error_description="the access token expired"
}

// Check who a token was exchanged through (RFC 8693 token exchange): the
// chain lists the current actor first.
func ExampleClaims_ActorChain() {
	issuer := newExampleIssuer()
	defer issuer.Close()
	v, err := verify.New(verify.Config{Issuer: issuer.URL, Audience: audience})
	if err != nil {
		log.Fatal(err)
	}
	tok := issuer.mint(map[string]any{
		"sub": "alice",
		"act": map[string]any{"sub": "orders-svc", "client_id": "orders",
			"act": map[string]any{"sub": "gateway-svc", "client_id": "gateway"}},
	})
	claims, err := v.Verify(context.Background(), tok)
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range claims.ActorChain() {
		fmt.Println(a.ClientID)
	}
	fmt.Println(claims.ActedBy("orders"), claims.ActorChainIs("orders", "gateway"))
	// Output:
	// orders
	// gateway
	// true true
}

// A handler tested without a token: NewContext stands in for the
// middleware.
func ExampleNewContext() {
	h := verify.RequireScopes(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verify.FromContext(r.Context())
		fmt.Fprintf(w, "order placed by %s", claims.Subject)
	}), "order_item")

	req := httptest.NewRequest(http.MethodPost, "/orders", nil)
	req = req.WithContext(verify.NewContext(req.Context(), &verify.Claims{Subject: "alice", Scopes: []string{"order_item"}}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Body)
	// Output: 200 order placed by alice
}
