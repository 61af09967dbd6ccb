package httpsig_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/portcullis/portcullis/internal/httpsig"
	pubsig "github.com/portcullis/portcullis/pkg/httpsig"
)

// verifyingServer checks every request as the gateway's request_signatures
// step does by default (internal/httpsig with @method, @target-uri,
// authorization and, for content, content-digest required), with pub as
// the client's key, and answers 204 or 401 with the reason.
func verifyingServer(t *testing.T, pub crypto.PublicKey) *httptest.Server {
	t.Helper()
	var required []httpsig.Component
	for _, n := range []string{"@method", "@target-uri", "authorization", "content-digest"} {
		c, err := httpsig.ParseComponent(n)
		if err != nil {
			t.Fatal(err)
		}
		required = append(required, c)
	}
	policy := &httpsig.RequestPolicy{Required: required}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := func() error {
			hasContent := r.ContentLength != 0 && r.Body != http.NoBody
			s, err := policy.ParseRequest(r.Header, hasContent, time.Now())
			if err != nil {
				return err
			}
			req := &httpsig.Request{Method: r.Method, TargetURI: "http://" + r.Host + r.RequestURI, Header: r.Header}
			if err := s.Verify(req, pub); err != nil {
				return err
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return err
			}
			if s.CoversDigest() {
				return httpsig.CheckContentDigest(r.Header.Values("Content-Digest"), body)
			}
			return nil
		}()
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func newKeys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"ed25519": ed, "ecdsa-p256-sha256": ec, "rsa-pss-sha512": rk}
}

// TestSignRequestRoundTrip signs requests with every algorithm and body
// shape and has them checked by the verifier the gateway uses.
func TestSignRequestRoundTrip(t *testing.T) {
	for alg, key := range newKeys(t) {
		srv := verifyingServer(t, key.Public())
		bodies := map[string]func() io.Reader{
			"no body":       func() io.Reader { return nil },
			"known length":  func() io.Reader { return strings.NewReader(`{"item":"hammer"}`) },
			"chunked":       func() io.Reader { return iotest.OneByteReader(strings.NewReader(`{"item":"hammer"}`)) },
			"empty chunked": func() io.Reader { return iotest.OneByteReader(strings.NewReader("")) },
		}
		for name, body := range bodies {
			t.Run(alg+"/"+name, func(t *testing.T) {
				req, _ := http.NewRequest("POST", srv.URL+"/warehouse/orders?dry_run=1&x=%20y", body())
				req.Header.Set("Authorization", "Bearer pca_token")
				if err := pubsig.SignRequest(req, key, "client-key-1", nil); err != nil {
					t.Fatal(err)
				}
				if in := req.Header.Get("Signature-Input"); !strings.HasPrefix(in, `sig=("@method" "@target-uri" "authorization"`) ||
					!strings.Contains(in, `keyid="client-key-1";alg="`+alg+`"`) {
					t.Errorf("Signature-Input = %s", in)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusNoContent {
					b, _ := io.ReadAll(resp.Body)
					t.Fatalf("status %d: %s", resp.StatusCode, b)
				}
			})
		}
	}
}

func TestSignRequestTampered(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	srv := verifyingServer(t, key.Public())
	sign := func(t *testing.T, opts *pubsig.SignOptions) *http.Request {
		req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader(`{"qty":1}`))
		req.Header.Set("Authorization", "Bearer pca_token")
		if err := pubsig.SignRequest(req, key, "k", opts); err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := map[string]func(t *testing.T) *http.Request{
		"body": func(t *testing.T) *http.Request {
			req := sign(t, nil)
			req.Body, req.ContentLength = io.NopCloser(strings.NewReader(`{"qty":9}`)), 9
			return req
		},
		"token": func(t *testing.T) *http.Request {
			req := sign(t, nil)
			req.Header.Set("Authorization", "Bearer pca_other")
			return req
		},
		"path": func(t *testing.T) *http.Request {
			req := sign(t, nil)
			req.URL.Path = "/admin"
			return req
		},
		"expired": func(t *testing.T) *http.Request {
			return sign(t, &pubsig.SignOptions{Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
		},
		"too little covered": func(t *testing.T) *http.Request {
			return sign(t, &pubsig.SignOptions{Components: []string{"@method"}})
		},
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			resp, err := srv.Client().Do(mk(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
		})
	}
}

func TestSignOptions(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	at := time.Unix(1_700_000_000, 0)
	req, _ := http.NewRequest("GET", "https://gw.example/items?id=7", nil)
	err := pubsig.SignRequest(req, key, "k", &pubsig.SignOptions{
		Label:      "client",
		Components: []string{"@method", "@authority", "@path", `@query-param;name="id"`},
		Expires:    30 * time.Second, Nonce: "n-1", Tag: "portcullis",
		Now: func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	want := `client=("@method" "@authority" "@path" "@query-param";name="id");created=1700000000;expires=1700000030;keyid="k";alg="ed25519";nonce="n-1";tag="portcullis"`
	if got := req.Header.Get("Signature-Input"); got != want {
		t.Errorf("Signature-Input:\n got %s\nwant %s", got, want)
	}
	if req.Header.Get("Content-Digest") != "" {
		t.Error("a request without content got a Content-Digest")
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, f := range map[string]func() error{
		"P-384 key":    func() error { return pubsig.SignRequest(req, p384, "k", nil) },
		"no key":       func() error { return pubsig.SignRequest(req, nil, "k", nil) },
		"empty key id": func() error { return pubsig.SignRequest(req, key, "", nil) },
		"bad component": func() error {
			return pubsig.SignRequest(req, key, "k", &pubsig.SignOptions{Components: []string{"@nope"}})
		},
		"absent field": func() error {
			return pubsig.SignRequest(req, key, "k", &pubsig.SignOptions{Components: []string{"x-absent"}})
		},
		"response component": func() error {
			return pubsig.SignRequest(req, key, "k", &pubsig.SignOptions{Components: []string{"@status"}})
		},
	} {
		if err := f(); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
}

// TestTransport signs under a transport that sets Authorization, as
// oauth2.Transport does, and leaves the caller's request alone.
func TestTransport(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	srv := verifyingServer(t, key.Public())
	client := &http.Client{Transport: bearer{next: &pubsig.Transport{Key: key, KeyID: "k"}}}
	req, _ := http.NewRequest("PUT", srv.URL+"/items/7", strings.NewReader(`{"name":"saw"}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("status %d", resp.StatusCode)
	}
	if req.Header.Get("Signature") != "" {
		t.Error("the caller's request was changed")
	}

	bad := &http.Client{Transport: &pubsig.Transport{Key: key, KeyID: ""}}
	if _, err := bad.Get(srv.URL); err == nil || !errors.Is(err, httpsig.ErrKey) {
		t.Errorf("a bad key id: %v", err)
	}
}

// bearer adds a token the way oauth2.Transport does, on a copy.
type bearer struct{ next http.RoundTripper }

func (b bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.Header.Set("Authorization", "Bearer pca_token")
	return b.next.RoundTrip(r)
}
