package gateway

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/pkg/verify"
)

// DPoP at the gateway, the resource server's side of RFC 9449 (§7): a
// token whose claims carry cnf.jkt is bound to a key, and is accepted
// only with the DPoP scheme and a proof signed with that key for this
// very request. The credentials step reads the scheme (and refuses one
// the API's mode rules out, before any resolution); this step runs once
// the token is resolved, JWT, phantom or split alike, since only then
// are its claims known. A proof costs a signature check and a replay
// cache write; Bearer requests pay a map lookup for cnf and nothing more.

// dpopMode is catalog.API.DPoP.
type dpopMode uint8

const (
	dpopAllowed dpopMode = iota
	dpopRequired
	dpopOff
)

// dpopAlgs is the algs parameter of the DPoP challenge (RFC 9449 §7.1):
// the proof algorithms VerifyDPoPProof accepts by default.
var dpopAlgs = strings.Join(verify.DPoPAlgorithms, " ")

// dpopReason is why a DPoP check refused a request: a fixed set, the
// reason label of the metric and the access log's dpop.reason.
type dpopReason uint8

const (
	dpopReasonNone dpopReason = iota
	// The scheme, refused by the credentials step.
	dpopSchemeOff      // the DPoP scheme at an API with dpop: off
	dpopBearerRequired // the Bearer scheme at an API with dpop: required
	// The token, refused with invalid_token before or after resolution.
	dpopInvalidToken // a DPoP-scheme token that does not resolve
	dpopAudience     // ... that is meant for another API
	dpopBoundBearer  // a bound token presented as Bearer (§7.2)
	dpopUnbound      // an unbound token presented as DPoP
	dpopBadCnf       // a cnf or cnf.jkt claim that is not what RFC 7800 says
	dpopKeyMismatch  // a proof signed with another key than cnf.jkt
	// The proof, refused with invalid_dpop_proof (§4.3).
	dpopMissingProof
	dpopMultipleProofs
	dpopReplayed
	dpopWrongMethod
	dpopWrongURL
	dpopStale
	dpopWrongATH
	dpopBadSignature
	dpopNonce
	dpopInvalidProof
	// The replay cache could not answer: 503, fail closed.
	dpopUnavailable
	dpopReasonCount
)

// dpopReasons name each reason and say what the client is told: the
// error code and a fixed error_description (RFC 6750 §3: for the
// developer, in the characters §3 allows, quoting nothing it was sent).
// A proof error's description is verify's, which never quotes the proof.
var dpopReasons = [dpopReasonCount]struct {
	name, code, description string
}{
	dpopSchemeOff:      {name: "scheme_off"},
	dpopBearerRequired: {"bearer_scheme", "invalid_token", "this API requires a DPoP-bound access token presented with the DPoP scheme and a proof"},
	dpopInvalidToken:   {name: "invalid_token", code: "invalid_token"},
	dpopAudience:       {"wrong_audience", "invalid_token", "the token is not meant for this API: its audience (aud) is none of those the API accepts"},
	dpopBoundBearer:    {"bound_as_bearer", "invalid_token", "the access token is bound to a DPoP key: present it with the DPoP scheme and a proof"},
	dpopUnbound:        {"unbound_token", "invalid_token", "the access token is not bound to a DPoP key: present it with the Bearer scheme"},
	dpopBadCnf:         {"malformed_cnf", "invalid_token", "the access token's confirmation (cnf) claim is malformed"},
	dpopKeyMismatch:    {"key_mismatch", "invalid_token", "the DPoP proof is signed with another key than the one the access token is bound to"},
	dpopMissingProof:   {"missing_proof", verify.DPoPCodeInvalidProof, "the DPoP scheme needs a proof in one DPoP header"},
	dpopMultipleProofs: {"multiple_proofs", verify.DPoPCodeInvalidProof, "send exactly one DPoP header"},
	dpopReplayed:       {name: "replayed", code: verify.DPoPCodeInvalidProof},
	dpopWrongMethod:    {name: "wrong_htm", code: verify.DPoPCodeInvalidProof},
	dpopWrongURL:       {name: "wrong_htu", code: verify.DPoPCodeInvalidProof},
	dpopStale:          {name: "stale_iat", code: verify.DPoPCodeInvalidProof},
	dpopWrongATH:       {name: "wrong_ath", code: verify.DPoPCodeInvalidProof},
	dpopBadSignature:   {name: "bad_signature", code: verify.DPoPCodeInvalidProof},
	dpopNonce:          {name: "use_nonce", code: verify.DPoPCodeUseNonce},
	dpopInvalidProof:   {name: "invalid_proof", code: verify.DPoPCodeInvalidProof},
	dpopUnavailable:    {name: "unavailable"},
}

func (r dpopReason) String() string { return dpopReasons[r].name }

// dpopPolicy is an API's DPoP mode and its challenges, rendered once.
type dpopPolicy struct {
	mode dpopMode
	// realm is `realm="<api>"`.
	realm string
	// challenges[r] answers a refusal for r whose description is fixed:
	// the DPoP challenge first, then, when the API takes Bearer tokens,
	// a Bearer one with no error (RFC 9110 §11.6.1 allows several).
	challenges [dpopReasonCount][]string
}

// setDPoP reads the API's dpop mode. With dpop: required the API's own
// challenges name the DPoP scheme instead of Bearer (§7.1), since Bearer
// will not do.
func (a *apiRoute) setDPoP(mode string) {
	p := &a.dpop
	switch mode {
	case catalog.DPoPRequired:
		p.mode = dpopRequired
	case catalog.DPoPOff:
		p.mode = dpopOff
	default:
		p.mode = dpopAllowed
	}
	// The name is safe in a quoted string: the catalog's name syntax has
	// no quotes, backslashes or controls.
	p.realm = `realm="` + a.name + `"`
	if p.mode == dpopOff {
		// As a gateway without DPoP: the scheme is unknown (no error code,
		// RFC 6750 §3.1), and a bound token presented as Bearer is simply
		// an invalid one.
		for r := range p.challenges {
			p.challenges[r] = a.challengeInvalid
		}
		p.challenges[dpopSchemeOff] = a.challengeNone
		return
	}
	for r := dpopReasonNone + 1; r < dpopReasonCount; r++ {
		if d := dpopReasons[r]; d.code != "" {
			p.challenges[r] = p.challenge(d.code, d.description, "")
		}
	}
	if p.mode == dpopRequired {
		a.challengeNone = []string{"DPoP " + p.realm + `, algs="` + dpopAlgs + `"`}
		a.challengeInvalid = p.challenge("invalid_token", "", "")
		a.challengeRequest = p.challenge("invalid_request", "", "")
	}
}

// challenge renders the DPoP challenge with an error (§7.1), then the
// Bearer one when the API takes Bearer tokens. description must be in the
// characters RFC 6750 §3 allows (dpopDescription).
func (p *dpopPolicy) challenge(code, description, scope string) []string {
	var b strings.Builder
	b.WriteString("DPoP " + p.realm + `, error="` + code + `"`)
	if description != "" {
		b.WriteString(`, error_description="` + description + `"`)
	}
	if scope != "" {
		b.WriteString(`, scope="` + scope + `"`)
	}
	b.WriteString(`, algs="` + dpopAlgs + `"`)
	if p.mode == dpopRequired {
		return []string{b.String()}
	}
	return []string{b.String(), "Bearer " + p.realm}
}

// forScheme is the challenge of a refusal for r: the DPoP one for a token
// presented with the DPoP scheme, else bearer.
func (p *dpopPolicy) forScheme(s authScheme, r dpopReason, bearer []string) []string {
	if s == schemeDPoP && p.mode != dpopOff {
		return p.challenges[r]
	}
	return bearer
}

// scopeChallenges returns the insufficient_scope challenges of an
// operation: for the Bearer scheme (bearer, or the DPoP one when the API
// requires DPoP) and for the DPoP scheme (nil when the API takes none).
func (p *dpopPolicy) scopeChallenges(scopes, bearer []string) (forBearer, forDPoP []string) {
	if p.mode == dpopOff {
		return bearer, nil
	}
	forDPoP = p.challenge("insufficient_scope", "", strings.Join(scopes, " "))
	if p.mode == dpopRequired {
		return forDPoP, forDPoP
	}
	return bearer, forDPoP
}

// refusesScheme refuses, before resolution, a scheme the API's mode
// rules out, and reports whether it did.
func (p *dpopPolicy) refusesScheme(ex *exchange, s authScheme, counts dpopCounts) bool {
	switch {
	case s == schemeDPoP && p.mode == dpopOff:
		// ex.problem's answer to no credential: an API without DPoP
		// knows no such scheme.
		refuseDPoP(ex, p, counts, dpopSchemeOff)
		return true
	case s == schemeBearer && p.mode == dpopRequired:
		refuseDPoP(ex, p, counts, dpopBearerRequired)
		return true
	}
	return false
}

// dpopStep enforces the binding of a resolved token (§7.1, §7.2).
type dpopStep struct {
	api    *apiRoute
	replay verify.ReplayCache
	now    func() time.Time
	counts dpopCounts
	next   http.Handler
}

func newDPoP(c *stepConfig, next http.Handler) (http.Handler, error) {
	if c.op.public {
		return next, nil
	}
	if c.dpopReplay == nil {
		return nil, errors.New("dpop: no replay cache")
	}
	return &dpopStep{api: c.api, replay: c.dpopReplay, now: c.now, counts: newDPoPCounts(c.op.metrics), next: next}, nil
}

func (s *dpopStep) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := exchangeOf(w)
	p := &s.api.dpop
	jkt, ok := boundKey(ex.verified.Claims.Raw)
	if !ok {
		refuseDPoP(ex, p, s.counts, dpopBadCnf)
		return
	}
	if ex.scheme != schemeDPoP {
		// Bearer, or a single-page app's session cookie.
		switch {
		case jkt != "":
			// §7.2: accepting a bound token as Bearer would undo the
			// binding: whoever stole it could use it.
			refuseDPoP(ex, p, s.counts, dpopBoundBearer)
		case p.mode == dpopRequired:
			refuseDPoP(ex, p, s.counts, dpopBearerRequired)
		default:
			s.next.ServeHTTP(w, r)
		}
		return
	}
	if jkt == "" {
		refuseDPoP(ex, p, s.counts, dpopUnbound)
		return
	}
	// §4.3 step 1: exactly one DPoP header.
	proofs := r.Header["Dpop"]
	switch len(proofs) {
	case 0:
		refuseDPoP(ex, p, s.counts, dpopMissingProof)
		return
	case 1:
	default:
		refuseDPoP(ex, p, s.counts, dpopMultipleProofs)
		return
	}
	proof, err := verify.VerifyDPoPProof(r.Context(), proofs[0], verify.DPoPOptions{
		Method: r.Method,
		// The URL as the client addressed it: the scheme and host of the
		// connection, or of a configured trusted proxy's X-Forwarded-*
		// and never of anyone else's (reqsig.go).
		URL:         signedTargetURI(r, ex.trusted),
		AccessToken: ex.raw,
		Now:         s.now,
		Replay:      s.replay,
	})
	if err != nil {
		s.proofError(ex, r, p, err)
		return
	}
	// §7.1: the proof's key must be the one the token is bound to.
	if subtle.ConstantTimeCompare([]byte(proof.Thumbprint), []byte(jkt)) != 1 {
		refuseDPoP(ex, p, s.counts, dpopKeyMismatch)
		return
	}
	ex.dpop.result = dpopVerified
	s.counts.verified()
	s.next.ServeHTTP(w, r)
}

// proofError answers a proof VerifyDPoPProof refused (401 with its
// description) or could not check (503: without the replay cache a
// replay cannot be ruled out, so fail closed).
func (s *dpopStep) proofError(ex *exchange, r *http.Request, p *dpopPolicy, err error) {
	var de *verify.DPoPError
	if !errors.As(err, &de) {
		if r.Context().Err() != nil {
			ex.reason = "client went away"
			ex.problem(problemUnavailable, decisionClientClosed)
			return
		}
		ex.reason = "dpop replay cache unavailable"
		ex.dpop = dpopOutcome{result: dpopUnavailableResult, reason: dpopUnavailable}
		s.counts.count(resultUnavailable, dpopUnavailable)
		ex.problem(problemUnavailable, decisionUnavailable)
		return
	}
	why := proofReason(de)
	refuseDPoPWith(ex, p.challenge(dpopReasons[why].code, dpopDescription(de.Description), ""), s.counts, why)
}

// proofReason sorts a refused proof into a reason for metrics and logs;
// a reason not known here is counted as invalid_proof.
func proofReason(e *verify.DPoPError) dpopReason {
	if e.Code == verify.DPoPCodeUseNonce {
		return dpopNonce
	}
	switch e.Reason {
	case verify.DPoPReplayed:
		return dpopReplayed
	case verify.DPoPWrongMethod:
		return dpopWrongMethod
	case verify.DPoPWrongURL:
		return dpopWrongURL
	case verify.DPoPStale:
		return dpopStale
	case verify.DPoPWrongATH:
		return dpopWrongATH
	case verify.DPoPBadSignature:
		return dpopBadSignature
	}
	return dpopInvalidProof
}

// dpopDescription keeps a description to the characters RFC 6750 §3
// allows in error_description (%x20-21 / %x23-5B / %x5D-7E): verify's
// texts are in them already, so this only guards a future one.
func dpopDescription(d string) string {
	for i := 0; i < len(d); i++ {
		if c := d[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "the DPoP proof is not acceptable"
		}
	}
	return d
}

// refuseDPoP answers 401 for r with its challenge, records it for the
// access log and counts it.
func refuseDPoP(ex *exchange, p *dpopPolicy, counts dpopCounts, r dpopReason) {
	refuseDPoPWith(ex, p.challenges[r], counts, r)
}

func refuseDPoPWith(ex *exchange, challenge []string, counts dpopCounts, r dpopReason) {
	ex.rw.Header()["Www-Authenticate"] = challenge
	ex.reason = "dpop: " + dpopReasons[r].name
	ex.dpop = dpopOutcome{result: dpopRefused, reason: r}
	counts.count(resultRefused, r)
	ex.problem(problemInvalidToken, decisionDenyToken)
}

// boundKey reads cnf.jkt (RFC 9449 §6.1) from a token's claims: "" for
// a token without cnf or with another confirmation method; ok is false
// when cnf is not an object or jkt not a non-empty string, which no
// issuer sends and which must not pass as "unbound".
func boundKey(claims map[string]any) (jkt string, ok bool) {
	v, present := claims["cnf"]
	if !present {
		return "", true
	}
	cnf, isObj := v.(map[string]any)
	if !isObj {
		return "", false
	}
	j, present := cnf["jkt"]
	if !present {
		return "", true
	}
	jkt, _ = j.(string)
	return jkt, jkt != ""
}
