package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/internal/httpsig"
)

// requestSignatureStep requires a call to carry an HTTP Message
// Signature (RFC 9421 §3.2) by a key that the client the token was
// issued to registered: a stolen token is useless without the client's
// private key, and the method, target URI, token and body the client
// signed are the ones that go on (the default components). It runs
// after the token is resolved, since the key is looked up by the
// token's client, never by anything the message says.
//
// Checks run cheapest first: the fields and the policy (no I/O), the
// client's keys, the signature over the header, and only then the body
// against Content-Digest, so an unsigned or badly signed call never has
// its body read. Replay inside max_age is not detected: nonce is not
// remembered.
type requestSignatureStep struct {
	policy httpsig.RequestPolicy
	keys   ClientKeys
	now    func() time.Time
	// limit bounds the body read for the digest: the API's
	// max_body_bytes, as the body step would.
	limit int64
	// acceptContent and acceptEmpty are the Accept-Signature answers
	// (RFC 9421 §5.1) for a call with content and without.
	acceptContent, acceptEmpty []string
	challenge                  []string
	counts                     requestSignatureCounts
	logger                     *slog.Logger
	next                       http.Handler
}

// The answers to a refused call. Which check failed goes to the access
// log, not to the client; the client learns what to cover from
// Accept-Signature.
var (
	problemSignatureRequired = newProblem(http.StatusUnauthorized, "signature-required", "Signature required",
		"This operation requires requests signed (HTTP Message Signatures, RFC 9421) with a key registered to the calling client; Accept-Signature says what to cover.")
	problemInvalidSignature = newProblem(http.StatusUnauthorized, "invalid-signature", "Invalid signature",
		"The request signature was refused: it must be recent, made with a key registered to the calling client, cover what Accept-Signature lists, and match the body.")
)

func newRequestSignatures(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.apiCfg == nil || c.op.public {
		// A public operation has no token, so no client to hold a key;
		// the catalog refuses an operation that asks for both.
		return next, nil
	}
	cfg := c.apiCfg.RequestSignaturesFor(c.opCfg)
	if cfg == nil {
		return next, nil
	}
	if c.clientKeys == nil {
		// Fail closed: without the clients' keys nothing can be
		// verified, and letting calls through would be silent.
		return nil, errors.New("signed requests are required, but this gateway has no source of client keys")
	}
	s := &requestSignatureStep{
		policy: httpsig.RequestPolicy{Label: cfg.Label, MaxAge: cfg.MaxAge.Duration(), ClockSkew: cfg.ClockSkew.Duration()},
		keys:   c.clientKeys,
		now:    c.now,
		limit:  c.api.maxBody,
		// RFC 9110 §11.6.1: a 401 carries a challenge. The token was
		// good, so a Bearer invalid_token would make the client drop
		// it; RFC 9421 registers no scheme, so this names one as the
		// signature drafts did, and Accept-Signature says the rest.
		challenge: []string{`Signature realm="` + c.api.name + `"`},
		counts:    newRequestSignatureCounts(c.op.metrics),
		logger:    c.api.upstream.logger,
		next:      next,
	}
	for _, name := range cfg.Components {
		comp, err := httpsig.ParseComponent(name)
		if err != nil {
			// Unreachable: the catalog's validation parsed them.
			return nil, fmt.Errorf("components: %w", err)
		}
		s.policy.Required = append(s.policy.Required, comp)
	}
	var err error
	if s.acceptEmpty, s.acceptContent, err = acceptSignatures(cfg.Label, s.policy.Required); err != nil {
		return nil, err
	}
	return s, nil
}

// acceptSignatures renders the Accept-Signature answers (RFC 9421 §5.1)
// for a call without content and with: the required components, less
// content-digest or with it, whether listed or not.
func acceptSignatures(label string, required []httpsig.Component) (empty, content []string, err error) {
	if label == "" {
		label = httpsig.DefaultRequestLabel
	}
	digest := httpsig.Component{Name: "content-digest"}
	without := slices.DeleteFunc(slices.Clone(required), func(c httpsig.Component) bool { return c.Name == digest.Name && !c.Req })
	with := required
	if len(without) == len(required) {
		with = append(slices.Clip(without), digest)
	}
	e, err := httpsig.AcceptSignature(label, without)
	if err != nil {
		return nil, nil, err
	}
	c, err := httpsig.AcceptSignature(label, with)
	if err != nil {
		return nil, nil, err
	}
	return []string{e}, []string{c}, nil
}

func (s *requestSignatureStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	// As the validation step reads it: a declared length of 0, or no
	// body at all, is no content.
	hasContent := r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
	sr, err := s.policy.ParseRequest(r.Header, hasContent, s.now())
	if err != nil {
		s.refuse(ex, hasContent, err)
		return
	}
	client := callerClientID(ex)
	if client == "" {
		s.refuse(ex, hasContent, errNoClient)
		return
	}
	ctx := r.Context()
	set, err := s.keys.ClientKeys(ctx, client)
	switch {
	case errors.Is(err, ErrNoClientKeys):
		s.refuse(ex, hasContent, fmt.Errorf("%w: %w", httpsig.ErrUnknownKey, err))
		return
	case err != nil && ctx.Err() != nil:
		ex.reason = "client went away"
		ex.problem(problemUnavailable, decisionClientClosed)
		return
	case err != nil:
		// Fail closed, and say so: the client may retry.
		s.counts.count(resultUnavailable, "keys_unavailable")
		ex.reason = "signature: client keys unavailable"
		ex.problem(problemUnavailable, decisionUnavailable)
		s.logger.LogAttrs(ctx, slog.LevelWarn, "request signatures: client keys unavailable",
			slog.String("request_id", ex.id), slog.String("client_id", client), slog.String("error", err.Error()))
		return
	}
	// Only the token's client's keys are searched: a signature by
	// another client's key names a keyid this set does not have.
	pub, err := httpsig.KeyFromJWKS(set, sr.KeyID(), sr.Input.Params.Alg)
	if err == nil {
		err = sr.Verify(&httpsig.Request{Method: r.Method, TargetURI: signedTargetURI(r, ex.trusted), Header: r.Header}, pub)
	}
	if err != nil {
		s.refuse(ex, hasContent, err)
		return
	}
	if sr.CoversDigest() {
		if r.ContentLength > s.limit {
			ex.problem(problemTooLarge, decisionTooLarge)
			return
		}
		// readBody bounds the read itself: this step runs before the
		// body step, and the bytes are kept for those after it.
		body, err := readBody(ex, r, s.limit)
		if err != nil {
			if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
				ex.problem(problemTooLarge, decisionTooLarge)
				return
			}
			ex.reason = "request body unreadable"
			ex.problem(problemBadRequest, decisionBadRequest)
			return
		}
		if err := httpsig.CheckContentDigest(r.Header.Values("Content-Digest"), body); err != nil {
			s.refuse(ex, hasContent, err)
			return
		}
	}
	s.counts.verified()
	s.next.ServeHTTP(w, r)
}

// errNoClient: the token names no client (neither client_id nor azp).
var errNoClient = errors.New("the token names no client")

// refuse answers 401 with what the signature must cover, and records
// why.
func (s *requestSignatureStep) refuse(ex *exchange, hasContent bool, err error) {
	reason := signatureRefusal(err)
	s.counts.count(resultRefused, reason)
	ex.reason = "signature: " + reason
	h := ex.rw.Header()
	h["Www-Authenticate"] = s.challenge
	if hasContent {
		h["Accept-Signature"] = s.acceptContent
	} else {
		h["Accept-Signature"] = s.acceptEmpty
	}
	p := problemInvalidSignature
	if errors.Is(err, httpsig.ErrNotSigned) {
		p = problemSignatureRequired
	}
	// decisionDenyToken: the call was not authenticated, as for a bad
	// token; the reason tells the two apart.
	ex.problem(p, decisionDenyToken)
}

// signatureRefusal names why a signature was refused, for the log and
// the metric: a fixed string, never the error's text (which quotes
// what the client sent).
func signatureRefusal(err error) string {
	for _, c := range []struct {
		err    error
		reason string
	}{
		{httpsig.ErrNotSigned, "unsigned"},
		{httpsig.ErrUncovered, "uncovered"},
		{httpsig.ErrExpired, "expired"},
		{httpsig.ErrNotYetValid, "not_yet_valid"},
		{httpsig.ErrUnknownKey, "unknown_key"},
		{httpsig.ErrAlgorithm, "algorithm"},
		{httpsig.ErrSignature, "bad_signature"},
		{httpsig.ErrDigest, "digest_mismatch"},
		{errNoClient, "no_client"},
		{httpsig.ErrSignatureFields, "malformed"},
		{httpsig.ErrComponent, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.reason
		}
	}
	return "invalid"
}

// signedTargetURI is the target URI the client addressed (RFC 9110
// §7.1), as signing.go's targetURI reads it, except that this step runs
// before the header step: X-Forwarded-Proto and X-Forwarded-Host are
// still the client's own and count only from a trusted proxy, or a
// signature for one host could be replayed against another.
func signedTargetURI(r *http.Request, trusted bool) string {
	if trusted {
		return targetURI(r)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		target = r.URL.RequestURI()
	}
	return scheme + "://" + r.Host + target
}

// Results of a check, the result label of the metric.
const (
	resultVerified    = "verified"
	resultRefused     = "refused"
	resultUnavailable = "unavailable"
)

func newRequestSignatureMetrics() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "portcullis_gateway_request_signatures_total",
		Help: "Signed-request checks by API, API version, operation, result (verified, refused, unavailable) and reason (why it was refused: unsigned, uncovered, expired, not_yet_valid, unknown_key, algorithm, bad_signature, digest_mismatch, no_client, malformed; empty when verified).",
	}, []string{"api", "version", "operation", "result", "reason"})
}

// requestSignatureCounts are an operation's counters; the zero value
// (metrics off) counts nothing.
type requestSignatureCounts struct {
	vec *prometheus.CounterVec // curried with the operation's labels
	ok  prometheus.Counter
}

func newRequestSignatureCounts(o *opMetrics) requestSignatureCounts {
	if o == nil || o.reqsig == nil {
		return requestSignatureCounts{}
	}
	vec := o.reqsig.MustCurryWith(prometheus.Labels{"api": o.api, "version": o.version, "operation": o.op})
	return requestSignatureCounts{vec: vec, ok: vec.WithLabelValues(resultVerified, "")}
}

func (c requestSignatureCounts) verified() {
	if c.ok != nil {
		c.ok.Inc()
	}
}

// count counts a call that did not pass; the reasons are a fixed set,
// so the series stay few.
func (c requestSignatureCounts) count(result, reason string) {
	if c.vec != nil {
		c.vec.WithLabelValues(result, reason).Inc()
	}
}
