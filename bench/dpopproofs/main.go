// Command dpopproofs prepares the DPoP run of the gateway load harness
// (bench/gateway.sh): it makes a P-256 key, obtains a DPoP-bound access
// token for it from the authorization server (client credentials, RFC
// 9449 §5), prints the token, and writes N proofs for one method and URL,
// one per line, each with a fresh jti and the token's hash in ath (§4.2).
//
// Proofs are signed before the load starts because a client's signing
// cost is not the gateway's: wrk then sends them as fast as it sends a
// bearer token, and the run measures what checking a proof costs. Every
// proof is used once (the gateway refuses a replayed jti), so N must
// exceed the requests of the run; the harness counts non-2xx answers to
// catch a shortfall. It talks to loopback addresses only.
package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func main() {
	tokenURL := flag.String("token-url", "http://127.0.0.1:18180/oauth2/token", "the authorization server's token endpoint (loopback)")
	clientID := flag.String("client-id", "", "client of the client credentials grant")
	secretEnv := flag.String("secret-env", "DPOP_CLIENT_SECRET", "environment variable holding the client secret")
	method := flag.String("htm", http.MethodGet, "method of the proofs")
	target := flag.String("htu", "", "URL of the proofs (the gateway route, loopback)")
	n := flag.Int("n", 100000, "how many proofs to write")
	out := flag.String("out", "", "file the proofs are written to, one per line")
	flag.Parse()
	for _, u := range []string{*tokenURL, *target} {
		if err := loopbackOnly(u); err != nil {
			log.Fatal(err)
		}
	}
	if *clientID == "" || *out == "" || *n < 1 {
		log.Fatal("dpopproofs needs -client-id, -htu, -out and -n > 0")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := newSigner(key)
	if err != nil {
		log.Fatal(err)
	}
	token, err := boundToken(signer, *tokenURL, *clientID, os.Getenv(*secretEnv))
	if err != nil {
		log.Fatal(err)
	}
	if err := writeProofs(key, *out, *method, *target, token, *n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(token)
}

// loopbackOnly refuses a URL whose host is not a loopback IP: the load
// harness never reaches another machine.
func loopbackOnly(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: dpopproofs talks to loopback IP addresses only", raw)
	}
	return nil
}

// newSigner signs proofs with key, its public half in the header's jwk
// (RFC 9449 §4.2).
func newSigner(key *ecdsa.PrivateKey) (jose.Signer, error) {
	return jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
}

// proof signs a DPoP proof (RFC 9449 §4.2); ath is empty for the token
// request and the token's hash for resource requests.
func proof(s jose.Signer, method, htu, ath string, iat time.Time) (string, error) {
	claims := map[string]any{"jti": rand.Text(), "htm": method, "htu": htu, "iat": iat.Unix()}
	if ath != "" {
		claims["ath"] = ath
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := s.Sign(b)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// boundToken runs the client credentials grant with a proof and checks
// that the token came back bound (token_type DPoP, §5).
func boundToken(s jose.Signer, tokenURL, id, secret string) (string, error) {
	p, err := proof(s, http.MethodPost, tokenURL, "", time.Now())
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest(http.MethodPost, tokenURL, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("DPoP", p)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("token endpoint: status %d, unreadable answer: %v", resp.StatusCode, err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("token endpoint: status %d, error %q", resp.StatusCode, body.Error)
	}
	if !strings.EqualFold(body.TokenType, "DPoP") {
		return "", fmt.Errorf("token endpoint answered token_type %q, not DPoP", body.TokenType)
	}
	return body.AccessToken, nil
}

// writeProofs signs n proofs on every core (a signer per worker) and writes them, one a line.
// They all carry the iat of the start: the gateway accepts a proof for a
// minute (verify.DefaultDPoPMaxAge), longer than signing and a run take.
func writeProofs(key *ecdsa.PrivateKey, path, method, htu, token string, n int) error {
	sum := sha256.Sum256([]byte(token))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	iat := time.Now()
	proofs := make([]string, n)
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			s, err := newSigner(key)
			if err != nil {
				errs[w] = err
				return
			}
			for i := w; i < n; i += workers {
				p, err := proof(s, method, htu, ath, iat)
				if err != nil {
					errs[w] = err
					return
				}
				proofs[i] = p
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, p := range proofs {
		w.WriteString(p)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
