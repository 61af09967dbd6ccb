package phantomtest

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// AuthServer is a fake authorization server with only an introspection
// endpoint (RFC 7662) that answers Accept: application/jwt with the
// phantom JWT issued for a token, and {"active":false} otherwise. It
// checks what a well-behaved gateway sends (POST, form body,
// token_type_hint, Accept, client_secret_basic) and counts every call.
type AuthServer struct {
	// URL is the introspection endpoint.
	URL string

	srv          *httptest.Server
	clientID     string
	clientSecret string

	mu       sync.Mutex
	phantoms map[string]string
	override http.HandlerFunc
	gate     <-chan struct{}

	calls, malformed atomic.Int64
	// inFlight counts calls being answered; maxInFlight the most at once.
	inFlight, maxInFlight atomic.Int64
}

// NewAuthServer starts a server that accepts the gateway's credentials
// clientID and clientSecret; it is closed when the test ends.
func NewAuthServer(tb testing.TB, clientID, clientSecret string) *AuthServer {
	tb.Helper()
	a := &AuthServer{clientID: clientID, clientSecret: clientSecret, phantoms: map[string]string{}}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	a.URL = a.srv.URL + "/oauth2/introspect"
	tb.Cleanup(a.srv.Close)
	return a
}

// Issue makes opaque answer as the phantom JWT jwt.
func (a *AuthServer) Issue(opaque, jwt string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.phantoms[opaque] = jwt
}

// Revoke makes opaque inactive.
func (a *AuthServer) Revoke(opaque string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.phantoms, opaque)
}

// Override replaces the answer to every well-formed, authenticated call
// with h (nil restores the normal answers). Calls are still counted.
func (a *AuthServer) Override(h http.HandlerFunc) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.override = h
}

// Block makes every call wait until gate is closed (or the client gives
// up) before answering; nil stops blocking.
func (a *AuthServer) Block(gate <-chan struct{}) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gate = gate
}

// Calls counts introspection requests received.
func (a *AuthServer) Calls() int64 { return a.calls.Load() }

// Malformed counts requests that broke the protocol (wrong method, body,
// headers or credentials). A correct client leaves it at zero.
func (a *AuthServer) Malformed() int64 { return a.malformed.Load() }

// InFlight counts calls being answered now.
func (a *AuthServer) InFlight() int64 { return a.inFlight.Load() }

// MaxInFlight is the most calls that were being answered at once.
func (a *AuthServer) MaxInFlight() int64 { return a.maxInFlight.Load() }

func (a *AuthServer) serve(w http.ResponseWriter, r *http.Request) {
	a.calls.Add(1)
	n := a.inFlight.Add(1)
	defer a.inFlight.Add(-1)
	for m := a.maxInFlight.Load(); n > m && !a.maxInFlight.CompareAndSwap(m, n); m = a.maxInFlight.Load() {
	}
	a.mu.Lock()
	gate, override := a.gate, a.override
	a.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done():
			return
		}
	}
	if !a.authenticated(r) {
		a.malformed.Add(1)
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if r.Method != http.MethodPost ||
		r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" ||
		r.Header.Get("Accept") != "application/jwt" {
		a.malformed.Add(1)
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("token") == "" ||
		r.PostForm.Get("token_type_hint") != "access_token" || len(r.URL.Query()) != 0 {
		a.malformed.Add(1)
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
		return
	}
	if override != nil {
		override(w, r)
		return
	}
	a.mu.Lock()
	jwt, ok := a.phantoms[r.PostForm.Get("token")]
	a.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]bool{"active": false})
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = w.Write([]byte(jwt))
}

// authenticated checks client_secret_basic, form-decoding both halves as
// RFC 6749 §2.3.1 requires.
func (a *AuthServer) authenticated(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	id, err1 := url.QueryUnescape(user)
	secret, err2 := url.QueryUnescape(pass)
	return err1 == nil && err2 == nil &&
		subtle.ConstantTimeCompare([]byte(id), []byte(a.clientID)) == 1 &&
		subtle.ConstantTimeCompare([]byte(secret), []byte(a.clientSecret)) == 1
}
