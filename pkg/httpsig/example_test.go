package httpsig_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/httpsig"
	pubsig "github.com/portcullis/portcullis/pkg/httpsig"
)

// ExampleVerifyResponse checks a response of a server that signs the way
// the gateway does.
func ExampleVerifyResponse() {
	srv := signingServer()
	defer srv.Close()
	ctx := context.Background()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/orders/7", nil)

	keys, _ := pubsig.FetchKeys(ctx, srv.Client(), srv.URL+"/.well-known/portcullis/response-keys.json")
	resp, _ := srv.Client().Do(req)
	err := pubsig.VerifyResponse(resp, req, keys)

	fmt.Println("verified:", err == nil)
	// Output: verified: true
}

// signingServer answers every request with a signed JSON body and
// publishes its key, as the gateway does.
func signingServer() *httptest.Server {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := httpsig.NewKey("gw-1", httpsig.Ed25519, priv)
	comps := []httpsig.Component{}
	for _, c := range []string{"@status", "content-type", "content-digest", "@method;req", "@target-uri;req"} {
		pc, _ := httpsig.ParseComponent(c)
		comps = append(comps, pc)
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/portcullis/response-keys.json" {
			_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: key.ID, Use: "sig"}}})
			return
		}
		body := []byte(`{"order":7}`)
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Digest", httpsig.ContentDigest(body))
		m := &httpsig.Message{Status: 200, Header: h, Request: &httpsig.Request{
			Method: r.Method, TargetURI: "http://" + r.Host + r.RequestURI, Header: r.Header}}
		in := &httpsig.Input{Components: comps, Params: httpsig.Params{Created: time.Now()}}
		input, sig, err := httpsig.Sign(m, in, "portcullis", key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		h.Set("Signature-Input", input)
		h.Set("Signature", sig)
		_, _ = w.Write(body)
	}))
}

// ExampleSignRequest signs a request for an API whose gateway requires
// signed requests, with the key the client registered as "client-key-1"
// (a use "sig" key of its JWK Set).
func ExampleSignRequest() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	req, _ := http.NewRequest("POST", "https://gw.example/warehouse/orders", strings.NewReader(`{"item":"hammer"}`))
	req.Header.Set("Authorization", "Bearer pca_...")
	req.Header.Set("Content-Type", "application/json")

	err := pubsig.SignRequest(req, priv, "client-key-1", &pubsig.SignOptions{
		Now: func() time.Time { return time.Unix(1_700_000_000, 0) }, // for the printed output
	})

	fmt.Println(err)
	fmt.Println(req.Header.Get("Content-Digest"))
	fmt.Println(req.Header.Get("Signature-Input"))
	// Output:
	// <nil>
	// sha-256=:d4rb6ANd/L/k1FD8shyreJxmkYJUC+h7HWiAkSXRSfI=:
	// sig=("@method" "@target-uri" "authorization" "content-digest");created=1700000000;keyid="client-key-1";alg="ed25519"
}
