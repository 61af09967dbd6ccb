package oauth

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/pkg/verify"
)

// DPoPConfig sets how the token endpoint checks DPoP proofs (RFC 9449).
// DPoP needs no switch: a token request with a proof gets a DPoP-bound
// token, one without a bearer token.
type DPoPConfig struct {
	// RequireNonce asks every proof for a nonce of the server's (§8): a
	// proof without a current one is refused with use_dpop_nonce and a
	// fresh nonce in the DPoP-Nonce header.
	RequireNonce bool
	// NonceLifetime is the rotation step of the nonces; a nonce is good
	// in the step it was handed out and the next. Zero means 5m.
	NonceLifetime time.Duration
	// ProofMaxAge is how old a proof's iat may be; zero means
	// verify.DefaultDPoPMaxAge.
	ProofMaxAge time.Duration
	// Algorithms are the proof algorithms accepted and advertised in
	// discovery; empty means verify.DPoPAlgorithms.
	Algorithms []string
}

// defaultNonceLifetime is DPoPConfig.NonceLifetime's default: long
// enough that a client rarely has to retry for a new nonce, short enough
// that a proof made in advance for one is soon useless (§11.2).
const defaultNonceLifetime = 5 * time.Minute

// HTTP names of RFC 9449.
const (
	// headerDPoP carries the proof (§4.1).
	headerDPoP = "DPoP"
	// headerDPoPNonce carries the server's nonce (§8).
	headerDPoPNonce = "DPoP-Nonce"
	// tokenTypeDPoP is the token_type of a bound token (§5).
	tokenTypeDPoP   = "DPoP"
	tokenTypeBearer = "Bearer"
)

// tokenType is the token_type of an access token bound to jkt (RFC 9449
// §5), or of a bearer token (RFC 6750 §4) when jkt is empty.
func tokenType(jkt string) string {
	if jkt != "" {
		return tokenTypeDPoP
	}
	return tokenTypeBearer
}

// dpopChecker checks the DPoP proofs of token requests and the keys of
// bound codes and refresh tokens. It is built once, in New.
type dpopChecker struct {
	// url is the token endpoint as clients address it: the htu every
	// proof must name (§4.3 step 9). Built from the issuer, never from
	// the request's Host header, which a client controls.
	url    string
	algs   []string
	maxAge time.Duration
	replay verify.ReplayCache
	// nonces is nil unless nonces are required.
	nonces  *nonceSource
	now     func() time.Time
	refused *prometheus.CounterVec
}

// newDPoPChecker builds the checker from finished parts. A nil replay
// cache means one in memory; a nil nonce key, a random one.
func newDPoPChecker(cfg DPoPConfig, tokenURL, issuer string, replay verify.ReplayCache, nonceKey []byte,
	now func() time.Time, refused *prometheus.CounterVec) (*dpopChecker, error) {
	algs := cfg.Algorithms
	if len(algs) == 0 {
		algs = verify.DPoPAlgorithms
	}
	for _, a := range algs {
		// §4.3 step 5: asymmetric only; verify owns the list.
		if !slices.Contains(verify.DPoPAlgorithms, a) {
			return nil, fmt.Errorf("oauth: dpop algorithm %q is not one of %v", a, verify.DPoPAlgorithms)
		}
	}
	if replay == nil {
		replay = verify.NewMemoryReplayCache(0)
	}
	d := &dpopChecker{
		url:     tokenURL,
		algs:    slices.Clone(algs),
		maxAge:  cfg.ProofMaxAge,
		replay:  replay,
		now:     now,
		refused: refused,
	}
	if cfg.RequireNonce {
		if nonceKey == nil {
			// One node only: another node would refuse this one's nonces.
			nonceKey = make([]byte, 32)
			if _, err := rand.Read(nonceKey); err != nil {
				return nil, fmt.Errorf("oauth: dpop nonce key: %w", err)
			}
		}
		step := cfg.NonceLifetime
		if step <= 0 {
			step = defaultNonceLifetime
		}
		n, err := newNonceSource(nonceKey, issuer, step)
		if err != nil {
			return nil, err
		}
		d.nonces = n
	}
	return d, nil
}

// offerNonce puts the current nonce on a token endpoint response when
// nonces are required: on use_dpop_nonce (§8) and, so the client never
// needs a failed request to learn the next one, on every other answer
// too (§8.2).
func (d *dpopChecker) offerNonce(w http.ResponseWriter) {
	if d.nonces == nil {
		return
	}
	w.Header().Set(headerDPoPNonce, d.nonces.at(d.now()))
}

// proof verifies the DPoP proof of a token request (RFC 9449 §5, §4.3)
// for POST to the token endpoint. A request without one gives nil and no
// error: it gets a bearer token, unless what it redeems is bound (see
// requireKey). Call it before the grant spends a code or refresh token,
// so a proof refused for a nonce does not cost the client its grant.
func (d *dpopChecker) proof(r *http.Request) (*verify.DPoPProof, error) {
	vals := r.Header.Values(headerDPoP)
	switch len(vals) {
	case 0:
		return nil, nil
	case 1:
	default:
		// §4.3 step 1: exactly one DPoP header.
		d.refused.WithLabelValues("multiple").Inc()
		return nil, badRequest(verify.DPoPCodeInvalidProof, "the request must carry one DPoP header")
	}
	opts := verify.DPoPOptions{
		Method:     http.MethodPost,
		URL:        d.url,
		Algorithms: d.algs,
		MaxAge:     d.maxAge,
		Now:        d.now,
		Replay:     d.replay,
	}
	if d.nonces != nil {
		now := d.now()
		opts.Nonce = func(n string) error {
			if !d.nonces.valid(n, now) {
				return errStaleNonce
			}
			return nil
		}
	}
	p, err := verify.VerifyDPoPProof(r.Context(), vals[0], opts)
	if err == nil {
		return p, nil
	}
	var de *verify.DPoPError
	if errors.As(err, &de) {
		d.refused.WithLabelValues(dpopReason(de)).Inc()
		// §5.1, §12.2: 400 with the code; the description never quotes
		// the proof (verify's never do).
		return nil, badRequest(de.Code, de.Description)
	}
	// The replay cache could not answer: refuse rather than risk
	// accepting a replay (fail closed).
	d.refused.WithLabelValues("replay_cache").Inc()
	return nil, err
}

// errStaleNonce: the proof's nonce is missing or no longer current.
var errStaleNonce = errors.New("dpop nonce missing or stale")

// dpopReason is the metric label of a refused proof: verify's reason,
// a fixed, low-cardinality set.
func dpopReason(e *verify.DPoPError) string {
	if e.Code == verify.DPoPCodeUseNonce {
		return string(verify.DPoPNonce)
	}
	if e.Reason == "" {
		return string(verify.DPoPMalformed)
	}
	return string(e.Reason)
}
