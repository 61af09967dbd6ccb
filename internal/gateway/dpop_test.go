package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/gateway/gatewaytest"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/pkg/verify"
)

// dpopKey is a client's DPoP key, signing proofs with go-jose the way a
// client library would, independently of the code under test.
type dpopKey struct {
	key *ecdsa.PrivateKey
	jkt string
}

func newDPoPKey(t testing.TB) *dpopKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: k.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &dpopKey{key: k, jkt: base64.RawURLEncoding.EncodeToString(tp)}
}

// proof signs a proof for method and htu carrying ath of tok (none when
// tok is empty); edit changes the claims before signing.
func (k *dpopKey) proof(t testing.TB, method, htu, tok string, edit func(map[string]any)) string {
	t.Helper()
	var jti [12]byte
	_, _ = rand.Read(jti[:])
	c := map[string]any{
		"jti": base64.RawURLEncoding.EncodeToString(jti[:]),
		"htm": method,
		"htu": htu,
		"iat": time.Now().Unix(),
	}
	if tok != "" {
		c["ath"] = verify.AccessTokenHash(tok)
	}
	if edit != nil {
		edit(c)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: k.key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType(verify.DPoPProofType))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// boundToken mints a token of kind bound to the key whose thumbprint is
// jkt, as the authorization server does: cnf.jkt among its claims, in the
// JWT, the phantom JWT and the reassembled split token alike.
func (e *env) boundToken(t testing.TB, kind, jkt string) string {
	t.Helper()
	c := gatewaytest.Claims{Subject: "alice", ClientID: "spa", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"org": "acme", "cnf": map[string]any{"jkt": jkt}}}
	switch kind {
	case "jwt":
		return e.is.JWT(t, c)
	case "opaque":
		return e.is.Opaque(t, c)
	case "split":
		return e.is.Split(t, c)
	}
	t.Fatalf("unknown token kind %q", kind)
	return ""
}

// forwarded is the JWT the upstream gets for tok of kind.
func (e *env) forwarded(kind, tok string) string {
	switch kind {
	case "opaque":
		return e.is.Phantom(tok)
	case "split":
		return e.is.SplitJWT(tok)
	}
	return tok
}

// itemsURL is the htu of GET /warehouse/items as a test request
// addresses it (httptest.NewRequest's host, plain http).
const itemsURL = "http://example.com/warehouse/items"

// dpopRequest is request with "Authorization: <scheme> tok" and a DPoP
// header per proof.
func dpopRequest(method, target, scheme, tok string, proofs ...string) *http.Request {
	r := request(method, target, "")
	if tok != "" {
		r.Header.Set("Authorization", scheme+" "+tok)
	}
	for _, p := range proofs {
		r.Header.Add("DPoP", p)
	}
	return r
}

func withDPoP(mode string) func(*catalog.Snapshot) {
	return func(s *catalog.Snapshot) { s.APIs[0].DPoP = mode }
}

// TestDPoPAccepted: a bound token of each kind, presented with the DPoP
// scheme and a proof of its key, reaches the upstream as the plain JWT,
// without the proof; the access log and the metric say it was verified.
func TestDPoPAccepted(t *testing.T) {
	for _, mode := range []string{"", catalog.DPoPAllowed, catalog.DPoPRequired} {
		e := newEnv(t, withDPoP(mode))
		k := newDPoPKey(t)
		for _, kind := range []string{"jwt", "opaque", "split"} {
			t.Run(mode+"/"+kind, func(t *testing.T) {
				e.up.Reset()
				tok := e.boundToken(t, kind, k.jkt)
				proof := k.proof(t, "GET", itemsURL, tok, nil)
				w := e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, proof))
				if w.Code != http.StatusOK {
					t.Fatalf("status = %d, want 200; WWW-Authenticate %q, body %s", w.Code, w.Header().Values("Www-Authenticate"), w.Body)
				}
				got, ok := e.up.Last()
				if !ok {
					t.Fatal("nothing reached the upstream")
				}
				if want := "Bearer " + e.forwarded(kind, tok); got.Header.Get("Authorization") != want {
					t.Errorf("upstream Authorization = %.40q, want the JWT as Bearer", got.Header.Get("Authorization"))
				}
				if v := got.Header.Values("Dpop"); len(v) != 0 {
					t.Errorf("the DPoP proof reached the upstream")
				}
			})
		}
		if mode == catalog.DPoPRequired {
			if got := gathered(t, e, "portcullis_gateway_dpop_total",
				`api="warehouse",operation="GET /items",reason="",result="verified",version="v1"`); got != 3 {
				t.Errorf("verified count = %v, want 3", got)
			}
			lines := e.logLines(t, "request")
			last := lines[len(lines)-1]
			if d, _ := last["dpop"].(map[string]any); d["result"] != "verified" {
				t.Errorf("access log dpop = %v, want result verified", last["dpop"])
			}
		}
	}
}

// TestDPoPRefused is every way a DPoP request, or a bound token, is
// refused: 401 with a DPoP challenge naming the error (and a plain
// Bearer one when the API takes Bearer tokens), a problem body, nothing
// upstream, nothing of the token or proof in the logs.
func TestDPoPRefused(t *testing.T) {
	k, other := newDPoPKey(t), newDPoPKey(t)
	type req struct {
		scheme, tok string
		proofs      []string
		target      string
	}
	tests := []struct {
		name string
		mode string
		// make builds the request from a bound and an unbound JWT.
		make func(t *testing.T, e *env, bound, unbound string) req
		// code is the error of the first challenge; scheme its scheme.
		scheme, code string
		// bearer says a plain Bearer challenge follows.
		bearer bool
		reason string
	}{
		{"replayed proof", "", func(t *testing.T, e *env, bound, _ string) req {
			p := k.proof(t, "GET", itemsURL, bound, nil)
			if w := e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", bound, p)); w.Code != http.StatusOK {
				t.Fatalf("first use: status = %d, want 200", w.Code)
			}
			e.up.Reset()
			return req{"DPoP", bound, []string{p}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "replayed"},
		{"wrong htu path", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", "http://example.com/warehouse/orders", bound, nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_htu"},
		{"wrong htu scheme", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", "https://example.com/warehouse/items", bound, nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_htu"},
		{"wrong htu host", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", "http://other.example/warehouse/items", bound, nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_htu"},
		{"wrong htm", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "POST", itemsURL, bound, nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_htm"},
		{"stale iat", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, bound, func(c map[string]any) {
				c["iat"] = time.Now().Add(-5 * time.Minute).Unix()
			})}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "stale_iat"},
		{"iat in the future", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, bound, func(c map[string]any) {
				c["iat"] = time.Now().Add(5 * time.Minute).Unix()
			})}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "stale_iat"},
		{"missing ath", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, "", nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_ath"},
		{"ath of another token", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, e.boundToken(t, "jwt", k.jkt), nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "wrong_ath"},
		{"proof of another key", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{other.proof(t, "GET", itemsURL, bound, nil)}, ""}
		}, "DPoP", "invalid_token", true, "key_mismatch"},
		{"not a proof", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{"eyJ.eyJ.sig"}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "invalid_proof"},
		{"proof typed as a JWT", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{e.is.Sign(t, map[string]any{"jti": "x", "htm": "GET", "htu": itemsURL, "iat": time.Now().Unix()})}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "invalid_proof"},
		{"bound token as Bearer", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"Bearer", bound, nil, ""}
		}, "DPoP", "invalid_token", true, "bound_as_bearer"},
		{"bound token as Bearer with a proof", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"Bearer", bound, []string{k.proof(t, "GET", itemsURL, bound, nil)}, ""}
		}, "DPoP", "invalid_token", true, "bound_as_bearer"},
		{"DPoP scheme without proof", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, nil, ""}
		}, "DPoP", "invalid_dpop_proof", true, "missing_proof"},
		{"two DPoP headers", "", func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, bound, nil), k.proof(t, "GET", itemsURL, bound, nil)}, ""}
		}, "DPoP", "invalid_dpop_proof", true, "multiple_proofs"},
		{"DPoP scheme, unbound token", "", func(t *testing.T, e *env, _, unbound string) req {
			return req{"DPoP", unbound, []string{k.proof(t, "GET", itemsURL, unbound, nil)}, ""}
		}, "DPoP", "invalid_token", true, "unbound_token"},
		{"DPoP scheme, invalid token", "", func(t *testing.T, e *env, bound, _ string) req {
			bad := bound[:len(bound)-4] + "AAAA"
			return req{"DPoP", bad, []string{k.proof(t, "GET", itemsURL, bad, nil)}, ""}
		}, "DPoP", "invalid_token", true, ""},
		{"required mode, Bearer token", catalog.DPoPRequired, func(t *testing.T, e *env, _, unbound string) req {
			return req{"Bearer", unbound, nil, ""}
		}, "DPoP", "invalid_token", false, "bearer_scheme"},
		{"required mode, unbound token as DPoP", catalog.DPoPRequired, func(t *testing.T, e *env, _, unbound string) req {
			return req{"DPoP", unbound, []string{k.proof(t, "GET", itemsURL, unbound, nil)}, ""}
		}, "DPoP", "invalid_token", false, "unbound_token"},
		{"required mode, bound token as Bearer", catalog.DPoPRequired, func(t *testing.T, e *env, bound, _ string) req {
			return req{"Bearer", bound, nil, ""}
		}, "DPoP", "invalid_token", false, "bearer_scheme"},
		{"off mode, DPoP scheme", catalog.DPoPOff, func(t *testing.T, e *env, bound, _ string) req {
			return req{"DPoP", bound, []string{k.proof(t, "GET", itemsURL, bound, nil)}, ""}
		}, "Bearer", "", false, "scheme_off"},
		{"off mode, bound token as Bearer", catalog.DPoPOff, func(t *testing.T, e *env, bound, _ string) req {
			return req{"Bearer", bound, nil, ""}
		}, "Bearer", "invalid_token", false, "bound_as_bearer"},
	}
	envs := map[string]*env{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := envs[tc.mode]
			if e == nil {
				e = newEnv(t, withDPoP(tc.mode))
				envs[tc.mode] = e
			}
			bound := e.boundToken(t, "jwt", k.jkt)
			unbound := e.token(t, "jwt", "list_items")
			rq := tc.make(t, e, bound, unbound)
			target := rq.target
			if target == "" {
				target = "/warehouse/items"
			}
			e.up.Reset()
			w := e.serve(dpopRequest("GET", target, rq.scheme, rq.tok, rq.proofs...))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401; body %s", w.Code, w.Body)
			}
			ch := w.Header().Values("Www-Authenticate")
			if len(ch) == 0 || !strings.HasPrefix(ch[0], tc.scheme+` realm="warehouse"`) {
				t.Fatalf("WWW-Authenticate = %q, want a %s challenge first", ch, tc.scheme)
			}
			if tc.code != "" && !strings.Contains(ch[0], `error="`+tc.code+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error=%q", ch[0], tc.code)
			}
			if tc.code == "" && strings.Contains(ch[0], "error=") {
				t.Errorf("WWW-Authenticate = %q, want no error code", ch[0])
			}
			if tc.scheme == "DPoP" && !strings.Contains(ch[0], `algs="ES256 `) {
				t.Errorf("WWW-Authenticate = %q, want algs", ch[0])
			}
			if tc.scheme == "Bearer" && len(ch) != 1 {
				t.Errorf("WWW-Authenticate = %q, want the Bearer challenge alone", ch)
			}
			if tc.scheme == "DPoP" {
				wantBearer := []string{`Bearer realm="warehouse"`}
				if !tc.bearer {
					wantBearer = nil
				}
				if got := ch[1:]; len(got) != len(wantBearer) || len(got) == 1 && got[0] != wantBearer[0] {
					t.Errorf("challenges after the DPoP one = %q, want %q", got, wantBearer)
				}
			}
			if p := readProblem(t, w); p.Type != "urn:portcullis:problem:invalid-token" {
				t.Errorf("problem type = %q", p.Type)
			}
			if _, ok := e.up.Last(); ok {
				t.Error("request reached the upstream")
			}
			for _, secret := range append([]string{rq.tok}, rq.proofs...) {
				if strings.Contains(e.logs.String(), secret) || strings.Contains(w.Body.String(), secret) || strings.Contains(strings.Join(ch, ""), secret) {
					t.Errorf("token or proof echoed")
				}
			}
			var line map[string]any
			for _, l := range e.logLines(t, "request") {
				if l["request_id"] == w.Header().Get("X-Request-Id") {
					line = l
				}
			}
			if line == nil {
				t.Fatal("no access log line")
			}
			if tc.reason == "" {
				if line["dpop"] != nil {
					t.Errorf("access log dpop = %v, want none", line["dpop"])
				}
				return
			}
			if d, _ := line["dpop"].(map[string]any); d["result"] != "refused" || d["reason"] != tc.reason {
				t.Errorf("access log dpop = %v, want refused, %s", line["dpop"], tc.reason)
			}
			if got := gathered(t, e, "portcullis_gateway_dpop_total",
				`api="warehouse",operation="GET /items",reason="`+tc.reason+`",result="refused",version="v1"`); got < 1 {
				t.Errorf("refusal count = %v, want at least 1", got)
			}
		})
	}
}

// TestDPoPMalformedConfirmation: a cnf that is not an object, or a jkt
// that is not a string, is never taken for "unbound".
func TestDPoPMalformedConfirmation(t *testing.T) {
	e := newEnv(t, nil)
	for name, cnf := range map[string]any{
		"cnf string":     "abc",
		"jkt number":     map[string]any{"jkt": 42},
		"jkt empty":      map[string]any{"jkt": ""},
		"cnf null":       nil,
		"cnf list":       []any{"jkt"},
		"jkt and x5t":    map[string]any{"jkt": 1, "x5t#S256": "abc"},
		"jkt as an list": map[string]any{"jkt": []any{"a"}},
	} {
		t.Run(name, func(t *testing.T) {
			tok := e.is.JWT(t, gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"warehouse"},
				Extra: map[string]any{"cnf": cnf}})
			w := e.serve(request("GET", "/warehouse/items", tok))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("status = %d, want 401", w.Code)
			}
		})
	}
	// Another confirmation method alone (mTLS) is left to what checks it:
	// the DPoP step passes it, the certificate step (mtls.go) refuses it,
	// since this request presents no certificate.
	tok := e.is.JWT(t, gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"cnf": map[string]any{"x5t#S256": "abc"}}})
	w := e.serve(request("GET", "/warehouse/items", tok))
	if line := e.logLines(t, "request"); w.Code != http.StatusUnauthorized || line[len(line)-1]["dpop"] != nil {
		t.Errorf("cnf without jkt: status = %d, dpop %v; want 401 from the certificate check alone", w.Code, line[len(line)-1]["dpop"])
	}
}

// TestDPoPModesBearer: an unbound Bearer token still works where DPoP is
// allowed (the default) or off; a DPoP proof header sent with it is not
// forwarded.
func TestDPoPModesBearer(t *testing.T) {
	for _, mode := range []string{"", catalog.DPoPAllowed, catalog.DPoPOff} {
		t.Run("mode "+mode, func(t *testing.T) {
			e := newEnv(t, withDPoP(mode))
			tok := e.token(t, "opaque", "list_items")
			w := e.serve(dpopRequest("GET", "/warehouse/items", "Bearer", tok, "stray.proof.value"))
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			got, _ := e.up.Last()
			if v := got.Header.Values("Dpop"); len(v) != 0 {
				t.Errorf("the DPoP header reached the upstream: %q", v)
			}
		})
	}
}

// TestDPoPChallenges: what an API announces. With dpop: required every
// challenge names DPoP (RFC 9449 §7.1), insufficient_scope included;
// otherwise a request without credentials gets the Bearer challenge as
// before.
func TestDPoPChallenges(t *testing.T) {
	k := newDPoPKey(t)
	req := newEnv(t, withDPoP(catalog.DPoPRequired))
	w := req.serve(request("GET", "/warehouse/items", ""))
	algs := `algs="` + strings.Join(verify.DPoPAlgorithms, " ") + `"`
	if got, want := w.Header().Values("Www-Authenticate"), []string{`DPoP realm="warehouse", ` + algs}; w.Code != 401 || !equalStrings(got, want) {
		t.Errorf("required, no token: %d %q, want 401 %q", w.Code, got, want)
	}
	tok := req.is.JWT(t, gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"cnf": map[string]any{"jkt": k.jkt}}})
	w = req.serve(dpopRequest("POST", "/warehouse/orders", "DPoP", tok,
		k.proof(t, "POST", "http://example.com/warehouse/orders", tok, nil)))
	want := []string{`DPoP realm="warehouse", error="insufficient_scope", scope="order_item", ` + algs}
	if got := w.Header().Values("Www-Authenticate"); w.Code != 403 || !equalStrings(got, want) {
		t.Errorf("required, missing scope: %d %q, want 403 %q", w.Code, got, want)
	}

	allowed := newEnv(t, nil)
	if got := allowed.serve(request("GET", "/warehouse/items", "")).Header().Values("Www-Authenticate"); !equalStrings(got, []string{`Bearer realm="warehouse"`}) {
		t.Errorf("allowed, no token: %q", got)
	}
	tok = allowed.is.JWT(t, gatewaytest.Claims{Subject: "alice", Scope: "list_items", Audience: []string{"warehouse"},
		Extra: map[string]any{"cnf": map[string]any{"jkt": k.jkt}}})
	w = allowed.serve(dpopRequest("POST", "/warehouse/orders", "DPoP", tok,
		k.proof(t, "POST", "http://example.com/warehouse/orders", tok, nil)))
	want = []string{`DPoP realm="warehouse", error="insufficient_scope", scope="order_item", ` + algs, `Bearer realm="warehouse"`}
	if got := w.Header().Values("Www-Authenticate"); w.Code != 403 || !equalStrings(got, want) {
		t.Errorf("allowed, DPoP, missing scope: %d %q, want 403 %q", w.Code, got, want)
	}
	// A proof error carries verify's description, which quotes nothing.
	w = allowed.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, k.proof(t, "PUT", itemsURL, tok, nil)))
	want = []string{`DPoP realm="warehouse", error="invalid_dpop_proof", error_description="the DPoP proof is for another method", ` + algs, `Bearer realm="warehouse"`}
	if got := w.Header().Values("Www-Authenticate"); w.Code != 401 || !equalStrings(got, want) {
		t.Errorf("allowed, wrong htm: %d %q, want 401 %q", w.Code, got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDPoPForwardedURL: the htu is checked against the scheme and host
// the client addressed. A configured trusted proxy's X-Forwarded-Proto
// and X-Forwarded-Host say what those were; anyone else's are ignored,
// so a proof for another host cannot be made to fit.
func TestDPoPForwardedURL(t *testing.T) {
	e := newEnv(t, func(s *catalog.Snapshot) { s.TrustedProxies = []string{"192.0.2.1/32"} })
	k := newDPoPKey(t)
	const public = "https://api.example/warehouse/items"
	tests := []struct {
		name string
		peer string
		htu  string
		want int
	}{
		{"trusted proxy, public URL", "192.0.2.1:5000", public, http.StatusOK},
		{"trusted proxy, internal URL", "192.0.2.1:5000", itemsURL, http.StatusUnauthorized},
		{"untrusted client, public URL", "192.0.2.10:5000", public, http.StatusUnauthorized},
		{"untrusted client, its own URL", "192.0.2.10:5000", itemsURL, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := e.boundToken(t, "jwt", k.jkt)
			r := dpopRequest("GET", "/warehouse/items?page=2", "DPoP", tok, k.proof(t, "GET", tc.htu, tok, nil))
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Forwarded-Proto", "https")
			r.Header.Set("X-Forwarded-Host", "api.example")
			if w := e.serve(r); w.Code != tc.want {
				t.Errorf("status = %d, want %d (%q)", w.Code, tc.want, w.Header().Values("Www-Authenticate"))
			}
		})
	}
}

// failingReplay is a replay cache that cannot answer.
type failingReplay struct{}

func (failingReplay) Seen(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("redis: connection refused")
}

// TestDPoPReplayCacheDown: without the replay cache a replay cannot be
// ruled out, so the proof is refused with 503 (fail closed).
func TestDPoPReplayCacheDown(t *testing.T) {
	e := newEnvWith(t, nil, func(o *Options) { o.DPoPReplay = failingReplay{} })
	k := newDPoPKey(t)
	tok := e.boundToken(t, "jwt", k.jkt)
	w := e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, k.proof(t, "GET", itemsURL, tok, nil)))
	if w.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503", w.Code)
	}
	if _, ok := e.up.Last(); ok {
		t.Error("request reached the upstream")
	}
	if got := gathered(t, e, "portcullis_gateway_dpop_total",
		`api="warehouse",operation="GET /items",reason="unavailable",result="unavailable",version="v1"`); got != 1 {
		t.Errorf("unavailable count = %v, want 1", got)
	}
}

// TestDPoPReplaySharedAcrossReload: the replay cache outlives a reload,
// so a new route table does not forget the proofs already used.
func TestDPoPReplaySharedAcrossReload(t *testing.T) {
	e := newEnv(t, nil)
	k := newDPoPKey(t)
	tok := e.boundToken(t, "jwt", k.jkt)
	p := k.proof(t, "GET", itemsURL, tok, nil)
	if w := e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, p)); w.Code != http.StatusOK {
		t.Fatalf("first: status = %d", w.Code)
	}
	if err := e.gw.Reload(t.Context(), e.cfg); err != nil {
		t.Fatal(err)
	}
	if w := e.serve(dpopRequest("GET", "/warehouse/items", "DPoP", tok, p)); w.Code != http.StatusUnauthorized {
		t.Fatalf("after reload: status = %d, want 401", w.Code)
	}
}

// TestDPoPHeaderNeverForwarded: public operations, where nothing is
// checked, drop the DPoP header too.
func TestDPoPHeaderNeverForwarded(t *testing.T) {
	e := newEnv(t, nil)
	r := httptest.NewRequest("GET", "/warehouse/health", nil)
	r.Header.Set("DPoP", "a.b.c")
	r.Header.Set("dpop", "d.e.f")
	if w := e.serve(r); w.Code != http.StatusOK {
		t.Fatalf("status = %d", w.Code)
	}
	got, _ := e.up.Last()
	for k := range got.Header {
		if strings.EqualFold(k, "dpop") {
			t.Errorf("upstream got %s", k)
		}
	}
}

// TestDPoPStepBearerAllocatesNothing: for an unbound Bearer token, the
// great majority of calls, the DPoP step is a map lookup and nothing
// more.
func TestDPoPStepBearerAllocatesNothing(t *testing.T) {
	api := &apiRoute{name: "warehouse"}
	api.setDPoP("")
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	s := &dpopStep{api: api, replay: verify.NewMemoryReplayCache(0), now: time.Now, next: next}
	r := httptest.NewRequest("GET", "/warehouse/items", nil)
	ex := &exchange{rw: httptest.NewRecorder(), scheme: schemeBearer,
		verified: &token.Verified{Claims: &token.Claims{Raw: map[string]any{"sub": "alice", "scope": "list_items"}}}}
	if n := testing.AllocsPerRun(100, func() { s.ServeHTTP(ex, r) }); n != 0 {
		t.Errorf("dpop step allocates %v times for a Bearer token", n)
	}
	if ex.status != 0 {
		t.Errorf("the step answered %d", ex.status)
	}
}
