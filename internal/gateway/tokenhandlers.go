package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/portcullis/portcullis/internal/catalog"
	"github.com/portcullis/portcullis/internal/phantom"
	"github.com/portcullis/portcullis/internal/token"
	"github.com/portcullis/portcullis/internal/tokenhandler"
)

// The token handler of single-page apps on the gateway listener
// (docs/token-handler.md). Each app's OAuth agent answers every request
// under its path prefix, before any API is matched. For the APIs an app
// fronts, the credential step is the OAuth proxy: it takes the access
// token from the app's sealed cookies (tokenhandler.Handler.AccessToken,
// which checks Origin and the double-submit header) and hands it on
// exactly as a bearer token, so resolution, scopes, policies and limits
// apply unchanged. No agent cookie and no CSRF header ever goes upstream.
//
// The agents are a set of their own, swapped whole by SetTokenHandlers
// and read once per request: they hold no route of the table, so a
// catalog reload leaves them alone and a configuration reload swaps both.

// agentTimeout bounds an agent call from its arrival: login/end may
// discover the issuer, redeem the code and fetch the issuer's keys, each
// bounded by the agent's own client timeout.
const agentTimeout = 30 * time.Second

// spaSet is the agents of one configuration; nil when there are none,
// so a gateway without single-page apps pays one atomic load.
type spaSet struct {
	agents []*agent
}

// agent is one app's OAuth agent as the gateway routes it.
type agent struct {
	h      *tokenhandler.Handler
	prefix string
	// label names the agent in the access log and the operation label of
	// the request metrics ("token_handler warehouse").
	label   string
	metrics *opMetrics
}

// newSPASet checks that the agents' names and prefixes are unique (the
// configuration's validation says so with line numbers; this guards a
// gateway built in code) and resolves their metrics.
func newSPASet(hs []*tokenhandler.Handler, m *metrics) (*spaSet, error) {
	if len(hs) == 0 {
		return nil, nil
	}
	s := &spaSet{}
	for i, h := range hs {
		if h == nil {
			return nil, fmt.Errorf("token handler %d is nil", i)
		}
		for _, o := range s.agents {
			if o.h.Name() == h.Name() {
				return nil, fmt.Errorf("token handler %q is given twice", h.Name())
			}
			if catalog.BasePathMatches(o.prefix, h.PathPrefix()) || catalog.BasePathMatches(h.PathPrefix(), o.prefix) {
				return nil, fmt.Errorf("token handler %q: path prefix %s overlaps that of %q", h.Name(), h.PathPrefix(), o.h.Name())
			}
		}
		label := "token_handler " + h.Name()
		s.agents = append(s.agents, &agent{h: h, prefix: h.PathPrefix(), label: label, metrics: m.forOp("", "", label)})
	}
	return s, nil
}

// SetTokenHandlers swaps the single-page apps' agents for hs (none turns
// the token handler off). Requests already past routing finish with the
// set they started with.
func (g *Gateway) SetTokenHandlers(hs []*tokenhandler.Handler) error {
	s, err := newSPASet(hs, g.metrics)
	if err != nil {
		return &ConfigError{Err: err}
	}
	g.spas.Store(s)
	return nil
}

// agentFor returns the agent whose prefix holds path, or nil.
func (s *spaSet) agentFor(path string) *agent {
	for _, a := range s.agents {
		if catalog.BasePathMatches(a.prefix, path) {
			return a
		}
	}
	return nil
}

// fronting returns the agent of the app that fronts path, or nil.
func (s *spaSet) fronting(path string) *tokenhandler.Handler {
	for _, a := range s.agents {
		if a.h.Fronts(path) {
			return a.h
		}
	}
	return nil
}

// strip removes every agent's cookies and the CSRF header: sealed as
// they are, they are the browser's session, not the backend's business,
// whichever API the browser sends them to.
func (s *spaSet) strip(r *http.Request) {
	for _, a := range s.agents {
		a.h.StripCookies(r)
	}
}

// serveAgent hands a request under an agent's prefix to the agent. The
// exchange still stamps the request id, logs and counts it. After a
// logout the agent has answered, the session's access token is dropped
// from this node's token caches: the agent revoked it at the issuer, and
// a copy of the cookie must not keep working until the cache entry ends.
func (g *Gateway) serveAgent(ex *exchange, a *agent, r *http.Request) {
	ex.agent = a
	ex.decision = decisionTokenHandler
	ex.setDeadlines(unmatchedTimeout, agentTimeout)
	a.h.ServeHTTP(ex, r)
	if ex.status == http.StatusOK && r.Method == http.MethodPost && r.URL.Path == a.prefix+"/logout" {
		if tok, ok := a.h.UncheckedAccessToken(r); ok {
			g.forgetToken(tok)
		}
	}
}

// tokenForgetter is a token cache that can drop one token's entry.
type tokenForgetter interface{ Forget(raw string) }

var (
	_ tokenForgetter = (*phantom.Introspector)(nil)
	_ tokenForgetter = (*phantom.SplitResolver)(nil)
	_ tokenForgetter = (*lazyIntrospector)(nil)
)

// forgetToken drops raw from every opaque and split token cache of the
// current table, so its next presentation is resolved at the issuer
// again. Other gateway nodes keep their entries until they end.
func (g *Gateway) forgetToken(raw string) {
	src := g.sources.Load()
	for _, list := range [][]cacheStats{src.opaque, src.split} {
		for _, c := range list {
			if f, ok := c.(tokenForgetter); ok {
				f.Forget(raw)
			}
		}
	}
}

// sessionToken is the OAuth proxy's part of credential extraction. For
// an API an app fronts it returns the access token of the app's session
// cookies; found is false when the request carries none (the bearer path
// goes on). Every agent cookie and the CSRF header are removed from the
// request either way. ok is false when the request has been answered: a
// session that cannot be used (tokenhandler.Problem, answered as the app
// expects it) or a cookie token that is no bearer token.
func (s *spaSet) sessionToken(ex *exchange, r *http.Request) (tok string, found, ok bool) {
	h := s.fronting(r.URL.Path)
	if h == nil {
		s.strip(r)
		return "", false, true
	}
	tok, found, err := h.AccessToken(r)
	s.strip(r)
	if err != nil {
		refuseSession(ex, err)
		return "", false, false
	}
	if !found {
		return "", false, true
	}
	// What the issuer handed the agent is held to the rules of a bearer
	// credential (credentials.go), so resolution sees the same inputs.
	if len(tok) > token.MaxLength || !isB64Token(tok) {
		ex.rw.Header()["Www-Authenticate"] = ex.api.challengeInvalid
		ex.reason = "session cookie token"
		ex.problem(problemInvalidToken, decisionDenyToken)
		return "", false, false
	}
	return tok, true, true
}

// refuseSession answers a session the agent refused with its problem, as
// the SPA recognises it (a session-expired 401 makes it refresh), and
// records the decision: 400 a bad request, 401 a token refusal, 403 a
// CSRF refusal (origin or double-submit header).
func refuseSession(ex *exchange, err error) {
	p, ok := errors.AsType[*tokenhandler.Problem](err)
	if !ok {
		// AccessToken returns nothing else; fail closed all the same.
		ex.reason = "session cookie"
		ex.problem(problemInvalidToken, decisionDenyToken)
		return
	}
	// The slug is the token handler's own fixed text, never the client's.
	ex.reason = "session: " + strings.TrimPrefix(p.Type, tokenhandler.ProblemTypePrefix)
	switch {
	case p.Status == http.StatusUnauthorized:
		ex.decision = decisionDenyToken
		// RFC 9110 §15.5.2: a 401 carries a challenge.
		ex.rw.Header()["Www-Authenticate"] = ex.api.challengeInvalid
	case p.Status == http.StatusForbidden:
		ex.decision = decisionDenyCSRF
	default:
		ex.decision = decisionBadRequest
	}
	if ex.status != 0 {
		return
	}
	p.Write(ex)
}
