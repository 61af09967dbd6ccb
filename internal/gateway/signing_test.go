package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/httpsig"
	pubsig "github.com/portcullis/portcullis/pkg/httpsig"
)

// pkcs8PEM returns a new key of alg as a PKCS #8 PEM.
func pkcs8PEM(t testing.TB, alg string) []byte {
	t.Helper()
	var k crypto.Signer
	var err error
	if alg == httpsig.Ed25519 {
		_, k, err = ed25519.GenerateKey(rand.Reader)
	} else {
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// signingEnv is the warehouse gateway with response signing on: key
// "new" (ed25519, from the environment) and "old" (P-256, from a file).
type signingEnv struct {
	*env
	dir  string
	envs map[string]string
	srv  *httptest.Server
}

func newSigningEnv(t *testing.T, edit func(*catalog.ResponseSigning)) *signingEnv {
	t.Helper()
	se := &signingEnv{dir: t.TempDir(), envs: map[string]string{"SIGNING_KEY_NEW": string(pkcs8PEM(t, httpsig.Ed25519))}}
	if err := os.WriteFile(filepath.Join(se.dir, "old.pem"), pkcs8PEM(t, httpsig.ECDSAP256SHA256), 0o600); err != nil {
		t.Fatal(err)
	}
	se.env = newEnvWith(t, func(c *catalog.Snapshot) {
		rs := &catalog.ResponseSigning{Keys: []catalog.SigningKey{
			{ID: "new", Alg: httpsig.Ed25519, PrivateKeyEnv: "SIGNING_KEY_NEW"},
			{ID: "old", Alg: httpsig.ECDSAP256SHA256, PrivateKeyFile: "old.pem"},
		}}
		if edit != nil {
			edit(rs)
		}
		c.APIs[0].ResponseSigning = rs
	}, func(o *Options) {
		o.BaseDir = se.dir
		getenv := o.Getenv
		o.Getenv = func(name string) string {
			if v, ok := se.envs[name]; ok {
				return v
			}
			return getenv(name)
		}
	})
	se.srv = httptest.NewServer(se.gw)
	t.Cleanup(se.srv.Close)
	return se
}

func (se *signingEnv) keys(t *testing.T) pubsig.KeyFunc {
	t.Helper()
	keys, err := pubsig.FetchKeys(context.Background(), se.srv.Client(), se.srv.URL+catalog.ResponseKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func (se *signingEnv) get(t *testing.T, path string) (*http.Response, *http.Request) {
	t.Helper()
	req, _ := http.NewRequest("GET", se.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+se.token(t, "jwt", "list_items"))
	resp, err := se.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, req
}

// TestSignedResponses goes through real listeners: the response carries
// a signature pkg/httpsig verifies with the JWKS fetched from the
// gateway; a tampered body fails.
func TestSignedResponses(t *testing.T) {
	se := newSigningEnv(t, nil)
	keys := se.keys(t)

	resp, req := se.get(t, "/warehouse/items?page=2")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err := pubsig.VerifyResponse(resp, req, keys); err != nil {
		t.Fatalf("VerifyResponse: %v", err)
	}
	input := resp.Header.Get("Signature-Input")
	want := `portcullis=("@status" "content-type" "content-digest" "@method";req "@target-uri";req);created=`
	if !strings.HasPrefix(input, want) || !strings.Contains(input, `;keyid="new";alg="ed25519"`) {
		t.Errorf("Signature-Input = %s", input)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), `"ok":true`) {
		t.Errorf("body %q", body)
	}

	t.Run("tampered body", func(t *testing.T) {
		resp, req := se.get(t, "/warehouse/items")
		resp.Body = io.NopCloser(strings.NewReader(`{"ok":false}`))
		if err := pubsig.VerifyResponse(resp, req, keys); !errors.Is(err, pubsig.ErrDigest) {
			t.Errorf("VerifyResponse: %v, want ErrDigest", err)
		}
	})
	t.Run("replayed for another request", func(t *testing.T) {
		resp, _ := se.get(t, "/warehouse/items?page=1")
		other, _ := http.NewRequest("GET", se.srv.URL+"/warehouse/items?page=2", nil)
		if err := pubsig.VerifyResponse(resp, other, keys); !errors.Is(err, pubsig.ErrSignature) {
			t.Errorf("VerifyResponse: %v, want ErrSignature", err)
		}
	})
	t.Run("upstream signature fields are replaced", func(t *testing.T) {
		se.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Signature-Input", `portcullis=("@status");created=1;keyid="new"`)
			w.Header().Set("Signature", `portcullis=:AAAA:`)
			w.Header().Set("Content-Digest", "sha-256=:AAAA:")
			_, _ = io.WriteString(w, `{"from":"upstream"}`)
		})
		defer se.up.SetHandler(nil)
		resp, req := se.get(t, "/warehouse/items")
		if n := len(resp.Header.Values("Signature")); n != 1 {
			t.Errorf("%d Signature lines", n)
		}
		if err := pubsig.VerifyResponse(resp, req, keys); err != nil {
			t.Errorf("VerifyResponse: %v", err)
		}
	})
}

// TestSigningKeyRotation: the first key signs, every key is published,
// and a client holding the JWKS from before a rotation still verifies
// after it.
func TestSigningKeyRotation(t *testing.T) {
	se := newSigningEnv(t, nil)
	keys := se.keys(t)

	res, err := se.srv.Client().Get(se.srv.URL + catalog.ResponseKeysPath)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, Kty, Crv, Alg, Use, D string }
	}
	if err := json.NewDecoder(res.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); ct != "application/jwk-set+json" {
		t.Errorf("Content-Type %q", ct)
	}
	if len(set.Keys) != 2 || set.Keys[0].Kid != "new" || set.Keys[0].Alg != "EdDSA" || set.Keys[1].Kid != "old" ||
		set.Keys[1].Crv != "P-256" || set.Keys[1].Alg != "ES256" {
		t.Errorf("published keys %+v", set.Keys)
	}
	for _, k := range set.Keys {
		if k.D != "" {
			t.Fatal("a private key was published")
		}
	}

	// Rotate back: "old" first.
	cfg := se.cfg.Clone()
	rs := cfg.APIs[0].ResponseSigning
	rs.Keys[0], rs.Keys[1] = rs.Keys[1], rs.Keys[0]
	if err := se.gw.Reload(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	resp, req := se.get(t, "/warehouse/items")
	if in := resp.Header.Get("Signature-Input"); !strings.Contains(in, `keyid="old";alg="ecdsa-p256-sha256"`) {
		t.Errorf("after rotation Signature-Input = %s", in)
	}
	if err := pubsig.VerifyResponse(resp, req, keys); err != nil {
		t.Errorf("VerifyResponse with the keys from before the rotation: %v", err)
	}
}

// TestUnsignedResponses: bodies past max_body_bytes and event streams
// go out whole and unsigned, and the log says so.
func TestUnsignedResponses(t *testing.T) {
	se := newSigningEnv(t, func(rs *catalog.ResponseSigning) { rs.MaxBodyBytes = 64 })
	big := strings.Repeat("x", 1000)
	tests := []struct {
		name, contentType string
		chunked           bool
		reason            string
	}{
		{"declared too large", "text/plain", false, unsignedTooLarge},
		{"chunked too large", "text/plain", true, unsignedTooLarge},
		{"event stream", "text/event-stream; charset=utf-8", true, unsignedStream},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			se.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				if tc.chunked {
					w.(http.Flusher).Flush()
				}
				_, _ = io.WriteString(w, big)
			})
			defer se.up.SetHandler(nil)
			resp, req := se.get(t, "/warehouse/items")
			body, _ := io.ReadAll(resp.Body)
			if string(body) != big {
				t.Errorf("body of %d bytes, want the upstream's %d", len(body), len(big))
			}
			if resp.Header.Get("Signature") != "" {
				t.Error("signed")
			}
			if err := pubsig.VerifyResponse(resp, req, se.keys(t)); !errors.Is(err, pubsig.ErrNotSigned) {
				t.Errorf("VerifyResponse: %v", err)
			}
			found := false
			for _, l := range se.logLines(t, "response not signed") {
				found = found || l["reason"] == tc.reason && l["request_id"] == resp.Header.Get("X-Request-Id")
			}
			if !found {
				t.Errorf("no log line for the unsigned response (%s)", tc.reason)
			}
		})
	}
	t.Run("at the limit is signed", func(t *testing.T) {
		se.up.SetHandler(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, big[:64])
		})
		defer se.up.SetHandler(nil)
		resp, req := se.get(t, "/warehouse/items")
		if err := pubsig.VerifyResponse(resp, req, se.keys(t)); err != nil {
			t.Errorf("VerifyResponse: %v", err)
		}
	})
}

func TestSigningKeysRefused(t *testing.T) {
	ok := pkcs8PEM(t, httpsig.Ed25519)
	tests := []struct {
		name string
		key  catalog.SigningKey
		file []byte
		mode os.FileMode
		env  string
		want string
	}{
		{"group-readable file", catalog.SigningKey{ID: "k", Alg: "ed25519", PrivateKeyFile: "k.pem"}, ok, 0o640, "", "chmod 600"},
		{"missing file", catalog.SigningKey{ID: "k", Alg: "ed25519", PrivateKeyFile: "nope.pem"}, nil, 0, "", "private_key_file"},
		{"empty env", catalog.SigningKey{ID: "k", Alg: "ed25519", PrivateKeyEnv: "EMPTY"}, nil, 0, "", "is empty"},
		{"wrong algorithm", catalog.SigningKey{ID: "k", Alg: "ecdsa-p256-sha256", PrivateKeyEnv: "KEY"}, nil, 0, string(ok), "not a ecdsa-p256-sha256 key"},
		{"not PEM", catalog.SigningKey{ID: "k", Alg: "ed25519", PrivateKeyEnv: "KEY"}, nil, 0, "secret", "no PEM"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.file != nil {
				if err := os.WriteFile(filepath.Join(dir, "k.pem"), tc.file, tc.mode); err != nil {
					t.Fatal(err)
				}
				_ = os.Chmod(filepath.Join(dir, "k.pem"), tc.mode)
			}
			cfg := warehouseConfigForSigning(t)
			cfg.APIs[0].ResponseSigning = &catalog.ResponseSigning{Keys: []catalog.SigningKey{tc.key}}
			_, err := New(context.Background(), Options{Catalog: cfg, BaseDir: dir, Logger: slog.New(slog.DiscardHandler),
				Getenv: func(n string) string {
					if n == "KEY" {
						return tc.env
					}
					return ""
				}})
			if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Errorf("New: %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// warehouseConfigForSigning is the warehouse catalog with every
// operation public, so that New needs no issuer to be reachable.
func warehouseConfigForSigning(*testing.T) catalog.Snapshot {
	return catalog.Snapshot{APIs: []catalog.API{{
		Name: "warehouse", BasePath: "/warehouse", Upstream: "http://127.0.0.1:1", Public: true,
		Operations: []catalog.Operation{{Method: "GET", Path: "/items"}},
	}}}
}

// BenchmarkSignResponse is the signing step alone on a 2 KB JSON body:
// digest, base, signature, fields.
func BenchmarkSignResponse(b *testing.B) {
	for _, alg := range []string{httpsig.Ed25519, httpsig.ECDSAP256SHA256} {
		b.Run(alg, func(b *testing.B) {
			key, err := httpsig.ParsePrivateKeyPEM("k", alg, pkcs8PEM(b, alg))
			if err != nil {
				b.Fatal(err)
			}
			s := &responseSigner{api: "bench", label: "portcullis", key: key, maxBody: 1 << 20,
				now: time.Now, logger: slog.New(slog.DiscardHandler)}
			for _, n := range catalog.DefaultSignedComponents() {
				c, _ := httpsig.ParseComponent(n)
				sc := signedComponent{c: c}
				if !strings.HasPrefix(n, "@") {
					sc.field = http.CanonicalHeaderKey(c.Name)
				}
				s.components = append(s.components, sc)
			}
			body := bytes.Repeat([]byte(`{"id":1234,"name":"widget","qty":7},`), 2048/36)
			in := httptest.NewRequest("GET", "http://gw.example/warehouse/items?page=2", nil)
			in.Header.Set("X-Forwarded-Proto", "https")
			ex := &exchange{rw: &discardWriter{h: http.Header{}}, id: "req-1", idHeader: []string{"req-1"}}
			out := s.bind(in, ex)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			for b.Loop() {
				res := &http.Response{StatusCode: 200, Request: out, ContentLength: int64(len(body)),
					Header: http.Header{"Content-Type": {"application/json"}},
					Body:   io.NopCloser(bytes.NewReader(body))}
				if err := s.sign(res); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
