package gateway

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/httpsig"
)

// responseSigner signs an API's proxied responses (RFC 9421): it holds
// the body, up to maxBody, to add its Content-Digest (RFC 9530), then
// signs the configured components with the first key. Built once per
// API; the keys are parsed when the route table is built, never per
// response.
//
// A response it cannot hold (larger than maxBody, or a server-sent event
// stream) goes out unsigned, untouched, and a log line with the request
// id says so: a client that requires signatures refuses it. The
// gateway's own answers (refusals, 502, 504) are never signed.
type responseSigner struct {
	api        string
	label      string
	key        *httpsig.Key
	components []signedComponent
	maxBody    int64
	// published are every key's id and public half, the signing key
	// first, for the JWKS.
	published []publishedKey
	now       func() time.Time
	logger    *slog.Logger
}

// signedComponent is a covered component with the canonical name of
// its field (empty for a derived component), so that an absent field is
// left out of a response's signature rather than failing it.
type signedComponent struct {
	c     httpsig.Component
	field string
}

type publishedKey struct {
	id, alg string
	pub     crypto.PublicKey
}

// responseSigner builds the signer of c's responses; nil when the API
// signs none. The keys are read here: from files (relative to the
// catalog's directory, readable by the owner only) or environment
// variables, in PKCS #8 PEM.
func (b *builder) responseSigner(c *catalog.API) (*responseSigner, error) {
	rs := c.ResponseSigning
	if rs == nil {
		return nil, nil
	}
	s := &responseSigner{
		api:     c.Name,
		label:   rs.SignatureLabel(),
		maxBody: rs.BodyLimit(),
		now:     b.now,
		logger:  b.logger,
	}
	for i, k := range rs.Keys {
		pemData, err := readSigningKey(k, b.baseDir, b.getenv)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		key, err := httpsig.ParsePrivateKeyPEM(k.ID, k.Alg, pemData)
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		if i == 0 {
			s.key = key
		}
		s.published = append(s.published, publishedKey{id: k.ID, alg: k.Alg, pub: key.Public()})
	}
	for _, name := range rs.SignedComponents() {
		comp, err := httpsig.ParseComponent(name)
		if err != nil {
			// Unreachable: the catalog's validation parsed them.
			return nil, fmt.Errorf("components: %w", err)
		}
		sc := signedComponent{c: comp}
		if !strings.HasPrefix(comp.Name, "@") {
			sc.field = http.CanonicalHeaderKey(comp.Name)
		}
		s.components = append(s.components, sc)
	}
	return s, nil
}

// readSigningKey reads a key's PEM. The errors never quote it.
func readSigningKey(k catalog.SigningKey, baseDir string, getenv func(string) string) ([]byte, error) {
	if k.PrivateKeyFile == "" {
		v := getenv(k.PrivateKeyEnv)
		if strings.TrimSpace(v) == "" {
			return nil, fmt.Errorf("private_key_env: environment variable %s is empty", k.PrivateKeyEnv)
		}
		return []byte(v), nil
	}
	path := resolvePath(baseDir, k.PrivateKeyFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	defer f.Close()
	// The mode is checked on the open file, not on the path.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("private_key_file %s is readable by group or others (mode %04o); chmod 600 it",
			k.PrivateKeyFile, fi.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("private_key_file: %w", err)
	}
	return data, nil
}

// signCall is what the response path needs of the request: the
// inbound request as the client made it and its exchange. It travels in
// the outbound request's context, the only thing ReverseProxy hands to
// ModifyResponse; only routes that sign pay for it.
type signCall struct {
	in *http.Request
	ex *exchange
}

type signCallKey struct{}

// bind attaches the call to r for sign.
func (s *responseSigner) bind(r *http.Request, ex *exchange) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), signCallKey{}, &signCall{in: r, ex: ex}))
}

// Why a response went out unsigned, for the log.
const (
	unsignedStream   = "event stream"
	unsignedTooLarge = "body larger than max_body_bytes"
)

// sign adds Content-Digest, Signature-Input and Signature to res, as
// the client will receive it. An error (reading the body, a header the
// base refuses) fails the exchange with 502: nothing unsigned goes out
// where a signature was due, except for the streams and large bodies
// the configuration says go out unsigned.
func (s *responseSigner) sign(res *http.Response) error {
	call, _ := res.Request.Context().Value(signCallKey{}).(*signCall)
	if call == nil || res.StatusCode == http.StatusSwitchingProtocols {
		return nil
	}
	if isEventStream(res.Header) {
		s.unsigned(call, unsignedStream)
		return nil
	}
	if res.ContentLength > s.maxBody {
		s.unsigned(call, unsignedTooLarge)
		return nil
	}
	body, err := readUpTo(res.Body, s.maxBody, res.ContentLength)
	if err != nil {
		return fmt.Errorf("response signing: reading the body: %w", err)
	}
	if int64(len(body)) > s.maxBody {
		// Give back what was read, followed by the rest.
		res.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(body), res.Body), Closer: res.Body}
		s.unsigned(call, unsignedTooLarge)
		return nil
	}
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if res.ContentLength < 0 && call.in.Method != http.MethodHead {
		res.ContentLength = int64(len(body))
		res.TransferEncoding = nil
		res.Header["Content-Length"] = []string{strconv.Itoa(len(body))}
	}

	h := res.Header
	h["Content-Digest"] = []string{httpsig.ContentDigest(body)}
	// The gateway's signature replaces any the upstream sent: two
	// signers under one label would be ambiguous.
	delete(h, "Signature-Input")
	delete(h, "Signature")
	// The exchange stamps the request id on the response; signed here
	// as it will be sent.
	h["X-Request-Id"] = call.ex.idHeader

	in := &httpsig.Input{Params: httpsig.Params{Created: s.now()}}
	view := make(http.Header, len(s.components))
	for _, sc := range s.components {
		switch {
		case sc.field == "":
		case sc.c.Req:
			if len(call.in.Header[sc.field]) == 0 {
				continue // absent: not covered by this response's signature
			}
		default:
			vals := h[sc.field]
			if pre := call.ex.Header()[sc.field]; len(pre) > 0 && sc.field != "X-Request-Id" {
				// ReverseProxy adds the upstream's values after those
				// the chain set on the writer (Vary, for one).
				vals = append(slices.Clip(pre), vals...)
			}
			if len(vals) == 0 {
				continue
			}
			view[sc.field] = vals
		}
		in.Components = append(in.Components, sc.c)
	}
	m := &httpsig.Message{
		Status: res.StatusCode,
		Header: view,
		Request: &httpsig.Request{
			Method:    call.in.Method,
			TargetURI: targetURI(call.in),
			Header:    call.in.Header,
		},
	}
	input, signature, err := httpsig.Sign(m, in, s.label, s.key)
	if err != nil {
		return fmt.Errorf("response signing: %w", err)
	}
	h["Signature-Input"] = []string{input}
	h["Signature"] = []string{signature}
	return nil
}

// unsigned logs a response that goes out without a signature.
func (s *responseSigner) unsigned(call *signCall, why string) {
	s.logger.LogAttrs(call.in.Context(), slog.LevelInfo, "response not signed",
		slog.String("api", s.api),
		slog.String("request_id", call.ex.id),
		slog.String("reason", why))
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	if len(ct) == 0 {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct[0])
	return err == nil && mt == "text/event-stream"
}

// readUpTo reads r to its end, or to limit+1 bytes if it is longer;
// size is the length declared, -1 if none.
func readUpTo(r io.Reader, limit, size int64) ([]byte, error) {
	var buf bytes.Buffer
	if size >= 0 {
		// One allocation, and room for ReadFrom to see the end.
		buf.Grow(int(size) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	return buf.Bytes(), err
}

// prefixedBody is a body partly read, with what was read put back in
// front; closing it closes the upstream's.
type prefixedBody struct {
	io.Reader
	io.Closer
}

// targetURI is the request's target URI as the client addressed it
// (RFC 9110 §7.1): the scheme and host the header step established
// (X-Forwarded-Proto and X-Forwarded-Host, believed only from trusted
// proxies), then the request target as received.
func targetURI(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if v := r.Header["X-Forwarded-Proto"]; len(v) > 0 {
		p, _, _ := strings.Cut(v[0], ",")
		if p = strings.ToLower(strings.TrimSpace(p)); p == "http" || p == "https" {
			scheme = p
		}
	}
	host := r.Host
	if v := r.Header["X-Forwarded-Host"]; len(v) > 0 {
		if h, _, _ := strings.Cut(v[0], ","); strings.TrimSpace(h) != "" {
			host = strings.TrimSpace(h)
		}
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	return scheme + "://" + host + target
}

// responseKeySet renders the JWKS of every signing key of the table's
// APIs (RFC 7517), each key once; nil when no API signs. One id naming
// two different keys is an error.
func responseKeySet(apis []*apiRoute) ([]byte, error) {
	var set jose.JSONWebKeySet
	seen := map[string]crypto.PublicKey{}
	for _, a := range apis {
		s := a.upstream.signer
		if s == nil {
			continue
		}
		for _, k := range s.published {
			if prev, ok := seen[k.id]; ok {
				if !prev.(interface{ Equal(crypto.PublicKey) bool }).Equal(k.pub) {
					return nil, &ConfigError{API: a.name, Err: fmt.Errorf("response_signing: key id %q names two different keys", k.id)}
				}
				continue
			}
			seen[k.id] = k.pub
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.id, Algorithm: joseAlg(k.alg), Use: "sig"})
		}
	}
	if len(set.Keys) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, &ConfigError{Err: fmt.Errorf("response_signing: %w", err)}
	}
	return b, nil
}

// joseAlg names a key's algorithm as JWA does (RFC 8037, RFC 7518): the
// same signatures as RFC 9421's ed25519 and ecdsa-p256-sha256.
func joseAlg(alg string) string {
	if alg == httpsig.Ed25519 {
		return "EdDSA"
	}
	return "ES256"
}

var headerJWKSet = []string{"application/jwk-set+json"}
var headerKeysCache = []string{"public, max-age=300"}

// serveResponseKeys answers GET (and HEAD) of catalog.ResponseKeysPath
// with the table's response signing keys.
func (t *table) serveResponseKeys(ex *exchange, r *http.Request) {
	ex.setDeadlines(unmatchedTimeout, unmatchedTimeout)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		ex.Header()["Allow"] = []string{"GET, HEAD"}
		ex.problem(problemMethod, decisionMethodNotAllowed)
		return
	}
	ex.decision = decisionAllow
	h := ex.Header()
	h["Content-Type"] = headerJWKSet
	h["Cache-Control"] = headerKeysCache
	h["Content-Length"] = []string{strconv.Itoa(len(t.responseKeys))}
	ex.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = ex.Write(t.responseKeys)
	}
}
